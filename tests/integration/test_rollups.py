"""Rollups give the same figures as aggregating the raw readings."""

import datetime as dt

import pytest

from ioc.db.rollups import refresh_rollups

pytestmark = pytest.mark.integration


def test_rollups_match_raw_aggregates(db_conn):
    base = dt.datetime(2026, 11, 1, tzinfo=dt.UTC)
    rows = [(base + dt.timedelta(minutes=10 * i), "aq-1", "pm25", float(i)) for i in range(30)]
    with db_conn.cursor() as cur:
        cur.executemany(
            "INSERT INTO readings (time, device_id, metric, value) VALUES (%s, %s, %s, %s)", rows
        )
    refresh_rollups(db_conn, base)
    hours = db_conn.execute(
        "SELECT bucket, n, sum, min, max, last FROM reading_rollups WHERE width = 'hour' "
        "ORDER BY bucket"
    ).fetchall()
    assert len(hours) == 5
    assert hours[0][1:] == (6, 15.0, 0.0, 5.0, 5.0)
    assert hours[-1][1:] == (6, 159.0, 24.0, 29.0, 29.0)
    day = db_conn.execute(
        "SELECT n, sum, max FROM reading_rollups WHERE width = 'day'"
    ).fetchone()
    assert day == (30, float(sum(range(30))), 29.0)
    # a late reading lands in its bucket on the next refresh; a re-run changes nothing else
    db_conn.execute(
        "INSERT INTO readings (time, device_id, metric, value) VALUES (%s, 'aq-1', 'pm25', 100)",
        (base + dt.timedelta(minutes=5),),
    )
    refresh_rollups(db_conn, base)
    assert db_conn.execute(
        "SELECT n, max FROM reading_rollups WHERE width = 'hour' AND bucket = %s", (base,)
    ).fetchone() == (7, 100.0)
