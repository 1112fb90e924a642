"""Telemetry KPIs from hourly rollups: the expected figures, and the same as from raw readings."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from ioc.db.rollups import refresh_rollups
from ioc.kpi.queries import latest_values, unit_values
from ioc.kpi.store import PROVINCE
from ioc.kpi.telemetry import compute_telemetry, day_windows, refresh_kpis

pytestmark = pytest.mark.integration

ZONE = ZoneInfo("Asia/Ho_Chi_Minh")
# 15:30 local time on Wednesday 2026-11-18
NOW = dt.datetime(2026, 11, 18, 8, 30, tzinfo=dt.UTC)
TODAY = dt.date(2026, 11, 18)
MIDNIGHT = dt.datetime(2026, 11, 17, 17, 0, tzinfo=dt.UTC)  # local midnight of TODAY

DEVICES = [
    # id, family, kind, unit_id, expected interval (s)
    ("aq-a", "environment", "air_quality", "sa_pa", 600),
    ("aq-b", "environment", "air_quality", "sa_pa", 600),
    ("aq-c", "environment", "air_quality", "bac_ha", 600),
    ("cnt-a", "tourism", "visitor_counter", "sa_pa", 60),
    ("cnt-b", "tourism", "visitor_counter", "bac_ha", 60),
    ("cam-a", "camera", "camera", "sa_pa", 60),
    ("cam-b", "camera", "camera", "bac_ha", 3600),
    ("wl-a", "disaster", "water_level", "bac_ha", 300),
]


def _insert_devices(conn) -> None:
    with conn.cursor() as cur:
        cur.executemany(
            "INSERT INTO devices (device_id, family, kind, name, unit_id, expected_interval_s, "
            "created_at) VALUES (%s, %s, %s, %s, %s, %s, '2024-01-01')",
            [(d, f, k, d, dist, i) for d, f, k, dist, i in DEVICES],
        )


def _readings(conn, rows) -> None:
    with conn.cursor() as cur:
        cur.executemany(
            "INSERT INTO readings (time, device_id, metric, value) VALUES (%s, %s, %s, %s)", rows
        )


def _scenario(conn) -> None:
    _insert_devices(conn)
    rows = []
    # PM every 10 minutes from yesterday's local midnight to now: aq-a clean, aq-b and aq-c not
    start = MIDNIGHT - dt.timedelta(days=1)
    t = start
    while t < NOW:
        rows += [(t, "aq-a", "pm25", 10.0), (t, "aq-a", "pm10", 20.0),
                 (t, "aq-b", "pm25", 37.5), (t, "aq-c", "pm25", 50.0), (t, "aq-c", "pm10", 250.0)]
        t += dt.timedelta(minutes=10)
    # visitors: 100 entries an hour at cnt-a today, 50 at cnt-b; a year earlier (364 days) 80
    for h in range(15):  # 17:00 UTC .. 07:00 UTC, i.e. whole hours before 08:00 UTC
        at = MIDNIGHT + dt.timedelta(hours=h, minutes=5)
        rows += [(at, "cnt-a", "entries", 100.0), (at, "cnt-b", "entries", 50.0)]
        before = at - dt.timedelta(days=364)
        rows += [(before, "cnt-a", "entries", 80.0)]
    # cameras and the water-level station report now and then
    rows += [(NOW - dt.timedelta(minutes=1), "cam-a", "people_count", 3.0),
             (NOW - dt.timedelta(minutes=3), "wl-a", "water_level_m", 112.0)]
    _readings(conn, rows)
    refresh_rollups(conn, start - dt.timedelta(days=365))
    incidents = [
        # source, id, device, label, started, false positive, data
        ("ioc", "e1", "cam-a", "fight", NOW - dt.timedelta(hours=2), False, "{}"),
        ("ioc", "e2", "cam-a", "crowd", MIDNIGHT - dt.timedelta(hours=3), False, "{}"),
        ("ioc", "e3", "cam-a", "fire", NOW - dt.timedelta(hours=1), True, "{}"),
        ("frigate", "f1", "cam-b", "person", NOW - dt.timedelta(hours=1), False,
         '{"sub_label": ["fight", 0.8]}'),
        ("frigate", "f2", "cam-b", "person", NOW - dt.timedelta(hours=1), False, "{}"),
        ("frigate", "f3", "cam-b", "smoke", MIDNIGHT - dt.timedelta(days=6) + dt.timedelta(hours=1),
         False, "{}"),
    ]
    with conn.cursor() as cur:
        cur.executemany(
            "INSERT INTO camera_incidents (source, event_id, device_id, label, phase, first_seen, "
            "started_at, last_update, false_positive, data) "
            "VALUES (%s, %s, %s, %s, 'end', %s, %s, %s, %s, %s)",
            [(s, e, d, lab, at, at, at + dt.timedelta(minutes=2), fp, data)
             for s, e, d, lab, at, fp, data in incidents],
        )
        # police reviews: e1 verified; f1 dismissed after first being verified; f3 verified
        # only after the end of today (does not count yet)
        reviews = [("ioc", "e1", "verified", NOW - dt.timedelta(hours=1)),
                   ("frigate", "f1", "verified", NOW - dt.timedelta(minutes=50)),
                   ("frigate", "f1", "dismissed", NOW - dt.timedelta(minutes=40)),
                   ("frigate", "f3", "verified", NOW + dt.timedelta(days=1))]
        cur.executemany(
            "INSERT INTO incident_reviews (source, event_id, decision, reason, actor, at) "
            "VALUES (%s, %s, %s, 'checked the snapshot', 'police:test', %s)", reviews)
        alerts = [
            # kind, unit_id, opened, acknowledged after (min), resolved, status
            ("water_level", "bac_ha", NOW - dt.timedelta(hours=5), 4, None, "acknowledged"),
            ("water_level", "bac_ha", MIDNIGHT - dt.timedelta(hours=20), 2,
             MIDNIGHT - dt.timedelta(hours=10), "resolved"),
            ("device_silent", "sa_pa", NOW - dt.timedelta(hours=3), 10, None, "acknowledged"),
            ("device_silent", "sa_pa", NOW - dt.timedelta(hours=2), None, None, "open"),
        ]
        for n, (kind, unit_id, opened, ack, resolved, status) in enumerate(alerts):
            cur.execute(
                "INSERT INTO alerts (rule_id, subject, kind, severity, title, unit_id, status, "
                "opened_at, acknowledged_at, resolved_at) "
                "VALUES (%s, %s, %s, 'moderate', 't', %s, %s, %s, %s, %s)",
                (kind, f"s{n}", kind, unit_id, status, opened,
                 opened + dt.timedelta(minutes=ack) if ack is not None else None, resolved),
            )
    conn.commit()


def _by_key(values) -> dict:
    return {(v.kpi_id, v.unit_id, v.period_start): v for v in values}


def test_telemetry_kpis_have_the_expected_values(db_conn):
    _scenario(db_conn)
    windows = day_windows(TODAY - dt.timedelta(days=1), TODAY, NOW, ZONE)
    got = _by_key(compute_telemetry(db_conn, windows))

    def value(kpi, unit_id=PROVINCE, day=TODAY):
        return got[(kpi, unit_id, day)].value

    # AQI: aq-a 10/20 -> 20 (PM2.5 sub-index); aq-b 37.5 -> 75; aq-c PM10 250 -> 150
    assert value("aqi_today", "sa_pa") == pytest.approx((20 + 75) / 2)
    assert value("aqi_today", "bac_ha") == 150
    assert value("aqi_today") == pytest.approx((20 + 75 + 150) / 3, abs=0.001)
    share = got[("aqi_good_share", PROVINCE, TODAY)]
    assert (share.numerator, share.denominator) == (1, 3)
    assert share.value == pytest.approx(100 / 3, abs=0.001)
    # visitors so far today, and against the same weekday a year before (cnt-a only then)
    assert value("visitors_today") == 15 * 150
    assert value("visitors_today", "bac_ha") == 15 * 50
    assert value("visitors_vs_last_year_pct", "sa_pa") == pytest.approx(125)
    assert ("visitors_vs_last_year_pct", "bac_ha", TODAY) not in got
    # incidents: e1 (today) and f1 (today, sub_label); e2 yesterday; f3 within 7 days;
    # e3 is a false positive, f2 is plain person tracking
    assert value("incidents_today") == 2
    assert value("incidents_today", "sa_pa") == 1
    assert value("incidents_7d") == 4
    assert value("incidents_7d", "bac_ha") == 2
    assert value("incidents_today", "sa_pa", TODAY - dt.timedelta(days=1)) == 1
    verified = got[("incidents_verified_pct", PROVINCE, TODAY)]
    assert (verified.numerator, verified.denominator, verified.value) == (1, 4, 25)
    assert value("incidents_verified_pct", "bac_ha") == 0
    # acknowledged within 4, 2 and 10 minutes over the last 7 days
    assert value("ack_median_min") == 4
    assert value("ack_median_min", "sa_pa") == 10
    # one water-level alarm active now; yesterday's was resolved before midnight
    assert value("flood_alarms_active") == 1
    assert value("flood_alarms_active", "bac_ha") == 1
    assert value("flood_alarms_active", PROVINCE, TODAY - dt.timedelta(days=1)) == 0
    # online now: aq-a/b/c (10-minute data, 30-min window), cam-a (1 min ago, 3-min window),
    # cam-b (Frigate incident 58 min ago, within 3 h), wl-a; the counters last reported at
    # 07:05 (more than 3 minutes ago)
    online = got[("devices_online_pct", PROVINCE, TODAY)]
    assert (online.numerator, online.denominator) == (6, 8)


def test_rollups_and_raw_readings_give_the_same_values(db_conn):
    _scenario(db_conn)
    windows = day_windows(TODAY - dt.timedelta(days=2), TODAY, NOW, ZONE)
    from_rollups = sorted(compute_telemetry(db_conn, windows, source="rollups"), key=str)
    from_raw = sorted(compute_telemetry(db_conn, windows, source="readings"), key=str)
    assert from_rollups == from_raw
    assert len(from_rollups) > 30


def test_refresh_writes_kpi_values_once(db_conn):
    _scenario(db_conn)
    report = refresh_kpis(db_conn, days=2, now=NOW)
    assert report.first_day == TODAY - dt.timedelta(days=1) and report.last_day == TODAY
    (count,) = db_conn.execute("SELECT count(*) FROM kpi_values").fetchone()
    assert count == report.values > 0
    # again: the same rows, nothing added; a stale row of a refreshed day is removed
    db_conn.execute(
        "INSERT INTO kpi_values (kpi_id, unit_id, period, period_start, value, source) "
        "VALUES ('incidents_today', 'van_ban', 'day', %s, 9, 'telemetry')", (TODAY,)
    )
    refresh_kpis(db_conn, days=2, now=NOW)
    assert db_conn.execute("SELECT count(*) FROM kpi_values").fetchone()[0] == count
    from ioc.kpi.catalogue import load_catalogue

    catalogue = load_catalogue()
    latest = latest_values(db_conn, catalogue)
    assert latest["incidents_today"].current.value == 2
    assert latest["incidents_today"].previous.value == 1
    units = unit_values(db_conn, catalogue, TODAY)
    assert units["aqi_today"]["bac_ha"].value == 150
