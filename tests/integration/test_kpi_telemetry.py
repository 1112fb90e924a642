"""Telemetry KPIs from hourly rollups: the expected figures, and the same as from raw readings."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from ioc.db.rollups import refresh_rollups
from kpi.hourly import day_windows
from kpi.queries import latest_values, unit_values
from kpi.store import PROVINCE
from kpi.telemetry import compute_telemetry, refresh_kpis

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
    from kpi.catalogue import load_catalogue

    catalogue = load_catalogue()
    latest = latest_values(db_conn, catalogue)
    assert latest["incidents_today"].current.value == 2
    assert latest["incidents_today"].previous.value == 1
    units = unit_values(db_conn, catalogue, TODAY)
    assert units["aqi_today"]["bac_ha"].value == 150


def test_a_day_before_the_first_data_is_not_computed_and_keeps_the_demo_history(db_conn):
    """A new installation's first day has no "vs yesterday" made of nothing, and the seeded
    demo history of the days before it is not overwritten by empty figures."""
    from dashboards.kpi_view import tile_for
    from kpi.catalogue import load_catalogue
    from kpi.history import SOURCE, seed_history

    _insert_devices(db_conn)
    db_conn.execute(  # the first data ever: one visitor count this morning
        "INSERT INTO readings (time, device_id, metric, value) VALUES (%s, 'cnt-a', 'entries', 40)",
        (MIDNIGHT + dt.timedelta(hours=3),))
    refresh_rollups(db_conn, MIDNIGHT - dt.timedelta(days=2))
    report = refresh_kpis(db_conn, days=2, now=NOW)
    assert (report.first_day, report.last_day) == (TODAY, TODAY)  # yesterday had no data
    catalogue = load_catalogue()
    latest = latest_values(db_conn, catalogue)["visitors_today"]
    assert latest.current.value == 40 and latest.previous is None
    assert tile_for(catalogue.get("visitors_today"), latest, TODAY, "vi").trend == ""

    with db_conn.transaction():
        stored = seed_history(db_conn, catalogue, days=30, today=TODAY)
    units = 2  # sa_pa, bac_ha
    per_unit = sum(1 for k in catalogue.telemetry() if k.units)
    assert stored == 30 * (len(catalogue.telemetry()) + units * per_unit)
    refresh_kpis(db_conn, days=2, now=NOW)
    (source,) = db_conn.execute(
        "SELECT source FROM kpi_values WHERE kpi_id = 'visitors_today' AND unit_id = '' "
        "AND period_start = %s", (TODAY - dt.timedelta(days=1),)).fetchone()
    assert source == SOURCE  # the refresh did not write over the seeded yesterday
    latest = latest_values(db_conn, catalogue)["visitors_today"]
    assert latest.current.value == 40 and latest.previous.source == SOURCE
    # seeding a range that holds a real figure never replaces it
    with db_conn.transaction():
        seed_history(db_conn, catalogue, days=30, today=TODAY + dt.timedelta(days=1))
    (value, source) = db_conn.execute(
        "SELECT value, source FROM kpi_values WHERE kpi_id = 'visitors_today' AND unit_id = '' "
        "AND period_start = %s", (TODAY,)).fetchone()
    assert (value, source) == (40, "telemetry")


def test_data_quality_kpis_match_a_hand_computation(db_conn):
    """"Đúng, đủ, sạch, sống" of one day on a small fixture, from rollups and from raw."""
    day = TODAY - dt.timedelta(days=1)
    start = MIDNIGHT - dt.timedelta(days=1)  # local midnight of `day`
    with db_conn.cursor() as cur:
        cur.executemany(
            "INSERT INTO devices (device_id, family, kind, name, unit_id, expected_interval_s, "
            "created_at) VALUES (%s, %s, %s, %s, %s, %s, '2024-01-01')",
            [("aq-1", "environment", "air_quality", "aq-1", "sa_pa", 600),
             ("wl-1", "disaster", "water_level", "wl-1", "bac_ha", 300),
             ("cnt-1", "tourism", "visitor_counter", "cnt-1", "bac_ha", 60)])
        rows = []
        for hour in range(23):  # aq-1: 23 hours of 6; hours 20-22 stuck at 50.0
            for k in range(6):
                value = 50.0 if hour >= 20 else 20 + hour + k / 10
                rows.append((start + dt.timedelta(hours=hour, minutes=10 * k), "aq-1", "pm25",
                             value))
        for i in range(288):  # wl-1: every 5 minutes all day, changing
            rows.append((start + dt.timedelta(minutes=5 * i), "wl-1", "water_level_m",
                         80 + i / 100))
        cur.executemany("INSERT INTO readings (time, device_id, metric, value) "
                        "VALUES (%s, %s, %s, %s)", rows)
        cur.executemany(
            "INSERT INTO dead_letters (received_at, topic, payload, payload_size, reason, "
            "device_id) VALUES (%s, 't', '\\x00', 1, 'out of range', 'aq-1')",
            [(start + dt.timedelta(hours=h),) for h in (1, 2, 3)])
    refresh_rollups(db_conn, start - dt.timedelta(days=1))
    windows = day_windows(day, day, NOW, ZONE)
    kpis = ["data_complete_pct", "data_live_pct", "data_clean_pct", "devices_silent_long"]
    from_rollups = compute_telemetry(db_conn, windows, kpis=kpis)
    from_raw = compute_telemetry(db_conn, windows, source="readings", kpis=kpis)
    assert sorted(from_rollups, key=lambda v: v.key) == sorted(from_raw, key=lambda v: v.key)
    got = {(v.kpi_id, v.unit_id, v.breakdown): v for v in from_rollups}

    def pct(num, den):
        return round(100 * num / den, 3)

    assert got[("data_complete_pct", "", "")].value == pct(138 + 288, 144 + 288 + 1440)
    assert got[("data_live_pct", "", "")].value == pct(23 + 24, 24 * 3)
    assert got[("data_clean_pct", "", "")].value == pct(138 - 6 + 288, 138 + 3 + 288)
    assert got[("devices_silent_long", "", "")].value == 1
    assert got[("data_clean_pct", "sa_pa", "environment")].value == pct(132, 141)
    assert got[("data_complete_pct", "bac_ha", "")].value == pct(288, 288 + 1440)
    assert got[("devices_silent_long", "bac_ha", "tourism")].value == 1
    # stored by the refresh and shown on the status page (province, by family)
    from dashboards.data_quality import latest_quality, render_quality

    refresh_kpis(db_conn, days=2, now=NOW)
    row = latest_quality(db_conn)
    assert row.day == TODAY  # today so far: nothing arrived today
    assert row.values[("data_complete_pct", "")] == 0
    assert row.values[("devices_silent_long", "")] == 1  # cnt-1; aq-1 and wl-1 spoke in 24 h
    html = str(render_quality(row, "vi"))
    assert "Số liệu đủ" in html and "0,0%" in html and "Du lịch" in html
