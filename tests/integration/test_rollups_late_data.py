"""Late and corrected readings reach every rollup, KPI and API bucket after one refresh.

A remote station buffers three days through a network outage and uploads them at once; an
operator corrects a value in an hour rolled up days ago; another station's reading for an old
hour arrives late; a batch is redelivered. After one round of `ioc maintain`'s rollup job,
every hourly and daily rollup, every telemetry KPI and every API bucket equals what a
recomputation from the raw readings gives.
"""

from __future__ import annotations

import datetime as dt
import math
from zoneinfo import ZoneInfo

import pytest

from dashboards.api import queries as api_queries
from ingest.batch import WritePlan
from ingest.records import Reading
from ingest.store import prepare, write_plan
from ioc.config import Settings
from ioc.db.rollups import refresh_dirty
from ioc.maintain import Maintainer
from kpi.catalogue import load_catalogue
from kpi.hourly import day_windows
from kpi.telemetry import compute_telemetry

pytestmark = pytest.mark.integration

ZONE = ZoneInfo("Asia/Ho_Chi_Minh")
NOW = dt.datetime(2026, 11, 18, 8, 30, tzinfo=dt.UTC)  # 15:30 local
START = NOW - dt.timedelta(days=5)
DEVICES = [
    ("aq-a", "environment", "air_quality", "sa_pa", 600),
    ("aq-b", "environment", "air_quality", "bac_ha", 600),
    ("aq-far", "environment", "air_quality", "bat_xat", 600),  # the station behind the outage
    ("cnt-a", "tourism", "visitor_counter", "sa_pa", 60),
]
OUTAGE_START = NOW - dt.timedelta(days=3, hours=2)
OUTAGE_END = NOW - dt.timedelta(hours=2)


def _rows(device: str, start: dt.datetime, end: dt.datetime, step_min: int = 10):
    out = []
    t = start
    while t < end:
        k = (t - START).total_seconds() / 600
        if device.startswith("aq"):
            out += [Reading(device, "pm25", t, round(20 + 15 * math.sin(k / 7), 1)),
                    Reading(device, "pm10", t, round(40 + 20 * math.cos(k / 5), 1))]
        else:
            out.append(Reading(device, "entries", t, float(int(k) % 13)))
        t += dt.timedelta(minutes=step_min)
    return out


def _store(conn, readings) -> int:
    with conn.transaction():
        return write_plan(conn, WritePlan(entries=[], readings=readings)).readings


def _raw_rollups(conn, width: str) -> dict:
    step = "1 hour" if width == "hour" else "1 day"
    return {
        (d, m, b): (n, s, lo, hi, last, lt)
        for b, d, m, n, s, lo, hi, last, lt in conn.execute(
            "SELECT date_bin(%s::interval, time, TIMESTAMPTZ '2000-01-01'), device_id, metric, "
            "count(*), sum(value), min(value), max(value), "
            "(array_agg(value ORDER BY time DESC))[1], max(time) "
            "FROM readings WHERE value IS NOT NULL GROUP BY 1, 2, 3", (step,))
    }


def _stored_rollups(conn, width: str) -> dict:
    return {
        (d, m, b): (n, s, lo, hi, last, lt)
        for b, d, m, n, s, lo, hi, last, lt in conn.execute(
            "SELECT bucket, device_id, metric, n, sum, min, max, last, last_time "
            "FROM reading_rollups WHERE width = %s", (width,))
    }


def _same(stored: dict, raw: dict) -> list:
    """Keys whose figures differ (sums compared to 1e-9: a day is summed from its hours)."""
    bad = [k for k in raw.keys() | stored.keys() if k not in raw or k not in stored]
    for k in raw.keys() & stored.keys():
        a, b = stored[k], raw[k]
        if (a[0], a[2], a[3], a[4], a[5]) != (b[0], b[2], b[3], b[4], b[5]) or not math.isclose(
                a[1], b[1], rel_tol=1e-9, abs_tol=1e-9):
            bad.append(k)
    return sorted(bad)


def _scenario(conn) -> Maintainer:
    with conn.cursor() as cur:
        cur.executemany(
            "INSERT INTO devices (device_id, family, kind, name, unit_id, expected_interval_s, "
            "created_at) VALUES (%s, %s, %s, %s, %s, %s, '2024-01-01')",
            [(d, f, k, d, dist, i) for d, f, k, dist, i in DEVICES])
    conn.commit()
    prepare(conn)
    maintainer = Maintainer(Settings())
    # five days as they happened, refreshed as `ioc maintain` would, hour by hour at the end
    for device in ("aq-a", "aq-b", "cnt-a"):
        _store(conn, _rows(device, START, NOW - dt.timedelta(hours=3)))
    _store(conn, _rows("aq-far", START, OUTAGE_START))
    conn.commit()
    maintainer.refresh(conn, now=NOW - dt.timedelta(hours=3))
    for device in ("aq-a", "aq-b", "cnt-a"):
        _store(conn, _rows(device, NOW - dt.timedelta(hours=3), NOW))
    _store(conn, _rows("aq-far", OUTAGE_END, NOW))
    conn.commit()
    maintainer.refresh(conn, now=NOW)
    conn.commit()
    assert refresh_dirty(conn).keys == 0
    return maintainer


def test_late_and_corrected_readings_match_raw_after_one_refresh(db_conn):
    maintainer = _scenario(db_conn)
    conn = db_conn
    hours_before = _stored_rollups(conn, "hour")
    kpis_before = dict(conn.execute(
        "SELECT kpi_id || '/' || unit_id || '/' || period_start, value FROM kpi_values "
        "WHERE source = 'telemetry' AND kpi_id = 'aqi_today'").fetchall())

    # the outage's three days arrive at once, in one batch
    backlog = _rows("aq-far", OUTAGE_START, OUTAGE_END)
    assert _store(conn, backlog) == len(backlog) > 800
    # a late reading of another station for an hour rolled up two days ago
    late_hour = (NOW - dt.timedelta(days=2)).replace(minute=0, second=0, microsecond=0)
    _store(conn, [Reading("aq-b", "pm25", late_hour + dt.timedelta(minutes=7), 480.0)])
    # a batch redelivered (nothing new) and an operator's correction of an old hour
    assert _store(conn, _rows("aq-a", NOW - dt.timedelta(hours=2), NOW)) == 0
    fixed_hour = (NOW - dt.timedelta(days=4)).replace(minute=0, second=0, microsecond=0)
    n = conn.execute(
        "UPDATE readings SET value = value + 100 WHERE device_id = 'aq-a' AND metric = 'pm25' "
        "AND time >= %s AND time < %s", (fixed_hour, fixed_hour + dt.timedelta(hours=1))).rowcount
    assert n == 6
    conn.commit()
    # not yet refreshed: the rollups miss the backlog (so the checks below can fail)
    assert _same(_stored_rollups(conn, "hour"), _raw_rollups(conn, "hour"))

    refreshed, kpi_values = maintainer.refresh(conn, now=NOW)
    conn.commit()
    assert refreshed.keys <= 2 * 74 + 2  # the backlog's hours, the late one, the fixed one
    assert refreshed.first_hour == fixed_hour and kpi_values > 0

    # every hourly and daily rollup equals the raw readings' aggregate
    assert _same(_stored_rollups(conn, "hour"), _raw_rollups(conn, "hour")) == []
    assert _same(_stored_rollups(conn, "day"), _raw_rollups(conn, "day")) == []
    stored_hours = _stored_rollups(conn, "hour")
    assert stored_hours[("aq-a", "pm25", fixed_hour)][3] > 100
    assert stored_hours[("aq-b", "pm25", late_hour)][3] == 480.0
    unchanged = [k for k in hours_before if k[0] == "aq-a" and k[2] != fixed_hour]
    assert all(stored_hours[k] == hours_before[k] for k in unchanged)

    # every telemetry KPI of the days the late readings fell in (the corrected hour's day to
    # today) equals one computed from raw readings
    catalogue = load_catalogue()
    today = NOW.astimezone(ZONE).date()
    windows = day_windows(fixed_hour.astimezone(ZONE).date(), today, NOW, ZONE)
    assert len(windows) == 5
    kpi_ids = [k.id for k in catalogue.telemetry()]
    expected = {(v.kpi_id, v.unit_id, v.breakdown, v.period_start): v.value
                for v in compute_telemetry(conn, windows, source="readings", kpis=kpi_ids)}
    stored = {(k, d, b, p): v for k, d, b, p, v in conn.execute(
        "SELECT kpi_id, unit_id, breakdown, period_start, value FROM kpi_values "
        "WHERE source = 'telemetry' AND period = 'day' AND period_start >= %s",
        (windows[0].day,))}
    assert stored.keys() == expected.keys()
    assert all(math.isclose(stored[k], expected[k], rel_tol=1e-9) for k in expected)
    far = [k for k in expected if k[0] == "aqi_today" and k[1] == "bat_xat"]
    assert len(far) == 5  # the station's days are there, outage days included
    kpis_after = dict(conn.execute(
        "SELECT kpi_id || '/' || unit_id || '/' || period_start, value FROM kpi_values "
        "WHERE source = 'telemetry' AND kpi_id = 'aqi_today'").fetchall())
    assert kpis_after != kpis_before

    # every API bucket (hourly, UTC daily, local daily) equals the raw readings' aggregate
    ids = [d[0] for d in DEVICES]
    raw_hours, raw_days = _raw_rollups(conn, "hour"), _raw_rollups(conn, "day")
    for width, raw in (("hour", raw_hours), ("day", raw_days)):
        rows = api_queries.readings_rollup(conn, width, ids, None, START - dt.timedelta(days=1),
                                           NOW + dt.timedelta(days=1), None, 100_000)
        got = {(d, m, b): (n, s, lo, hi, last) for b, d, m, n, s, lo, hi, last in rows}
        assert got.keys() == raw.keys()
        for k, (n, s, lo, hi, last) in got.items():
            assert (n, lo, hi, last) == (raw[k][0], raw[k][2], raw[k][3], raw[k][4])
            assert math.isclose(s, raw[k][1], rel_tol=1e-9)
    midnights = [dt.datetime.combine(windows[0].day + dt.timedelta(days=i - 1), dt.time(), ZONE)
                 .astimezone(dt.UTC) for i in range(7)]
    local = api_queries.readings_local_days(conn, midnights, ids, None, None, 100_000)
    raw_local = {}
    for (d, m, b), (n, s, lo, hi, _last, _lt) in raw_hours.items():
        i = sum(1 for x in midnights if x <= b)
        if 1 <= i < len(midnights):
            acc = raw_local.setdefault((i, d, m), [0, 0.0, math.inf, -math.inf])
            acc[0] += n
            acc[1] += s
            acc[2] = min(acc[2], lo)
            acc[3] = max(acc[3], hi)
    got_local = {(i, d, m): (n, s, lo, hi) for i, d, m, n, s, lo, hi, _ in local}
    assert got_local.keys() == raw_local.keys()
    for k, (n, s, lo, hi) in got_local.items():
        assert (n, lo, hi) == (raw_local[k][0], raw_local[k][2], raw_local[k][3])
        assert math.isclose(s, raw_local[k][1], rel_tol=1e-9)

    # the next refresh has nothing to do
    assert refresh_dirty(conn).keys == 0


def test_a_removed_reading_leaves_no_stale_bucket(db_conn):
    prepare(db_conn)
    t = NOW - dt.timedelta(days=1)
    _store(db_conn, [Reading("aq-x", "pm25", t, 12.0)])
    refresh_dirty(db_conn)
    assert _stored_rollups(db_conn, "hour")
    db_conn.execute("DELETE FROM readings WHERE device_id = 'aq-x'")
    refresh_dirty(db_conn)
    assert _stored_rollups(db_conn, "hour") == {} and _stored_rollups(db_conn, "day") == {}
