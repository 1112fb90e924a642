"""The operations pages' queries against the real database and Redis: registry, levels,
incidents, rain, CAP areas, 24-hour series, alerts, device health, the live mirror, and
acting on alerts (lifecycle, history, audit)."""

from __future__ import annotations

import datetime as dt
import time

import pytest
from psycopg.types.json import Jsonb

from alerts.store import AlertDraft, open_or_update
from dashboards import alert_actions
from dashboards import health_queries as hq
from dashboards import ops_queries as q
from dashboards import warning_areas as wa
from dashboards.live_mirror import LiveMirror
from dashboards.map_live import MapRenderer, read_snapshot
from ioc.db import open_pool
from ioc.live import LatestValue, LiveState, open_redis

pytestmark = pytest.mark.integration

DEVICES = [
    # id, family, kind, name, lon, lat, unit_id, interval, metadata
    (
        "wl-lc",
        "disaster",
        "water_level",
        "Trạm thủy văn Lào Cai",
        103.9755,
        22.495,
        "lao_cai_city",
        300,
        {"alarm_levels": {"I": 80.0, "II": 82.0, "III": 83.5}},
    ),
    (
        "aq-cl",
        "environment",
        "air_quality",
        "Quan trắc không khí Cốc Lếu",
        103.9712,
        22.4978,
        "lao_cai_city",
        60,
        {},
    ),
    ("rain-sp", "disaster", "rain_gauge", "Đo mưa Sa Pa", 103.843, 22.336, "sa_pa", 300, {}),
    ("cam-mk", "camera", "camera", "Chợ Cốc Lếu", 103.9712, 22.4985, "lao_cai_city", 60, {}),
    (
        "cnt-sq",
        "tourism",
        "visitor_counter",
        "Quảng trường Sa Pa",
        103.8428,
        22.3358,
        "sa_pa",
        60,
        {"capacity": 6000},
    ),
    (
        "cam-fr",
        "camera",
        "camera",
        "Cổng Sa Pa",
        103.856,
        22.345,
        "sa_pa",
        3600,
        {"event_driven": True},
    ),
    ("wx-yt", "environment", "weather", "Trạm thời tiết Y Tý", 103.624, 22.651, "bat_xat", 120, {}),
    (
        "ls-bx",
        "disaster",
        "landslide",
        "Cảnh báo sạt lở Bản Xèo",
        103.80,
        22.60,
        "bat_xat",
        600,
        {"warning": {"soil_moisture_pct": 90, "tilt_deg": 1.5, "displacement_mm": 20}},
    ),
]


def fill_province(conn, live: LiveState, *, now: float | None = None) -> dict[str, int]:
    """A small province: devices, live values, rollups, a hazard level, an incident, a CAP
    warning and three alerts. Returns the alert ids by name."""
    now = time.time() if now is None else now
    for d in DEVICES:
        conn.execute(
            "INSERT INTO devices (device_id, family, kind, name, lon, lat, unit_id, "
            "expected_interval_s, metadata) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)",
            (*d[:8], Jsonb(d[8])),
        )
    live.record(
        [
            LatestValue("wl-lc", "water_level_m", 82.6, now - 20),
            LatestValue("aq-cl", "pm25", 42.0, now - 5),
            LatestValue("aq-cl", "pm10", 70.0, now - 5),
            LatestValue("rain-sp", "rain_mm", 1.2, now - 30),
            LatestValue("cam-mk", "people_count", 40, now - 10),
            LatestValue("cnt-sq", "occupancy", 6600, now - 10),
            LatestValue("wx-yt", "temperature", 14.5, now - 3600),  # silent for an hour
            LatestValue("ls-bx", "soil_moisture_pct", 62.0, now - 60),
            LatestValue("ls-bx", "tilt_deg", 0.4, now - 60),
        ]
    )
    hour = dt.datetime.fromtimestamp(now, dt.UTC).replace(minute=0, second=0, microsecond=0)
    for h in range(4):
        bucket = hour - dt.timedelta(hours=h)
        conn.execute(
            "INSERT INTO reading_rollups (bucket, width, device_id, metric, n, sum, min, max, "
            "last, last_time) VALUES (%s, 'hour', 'rain-sp', 'rain_mm', 12, 30, 0, 5, 2, %s), "
            "(%s, 'hour', 'wl-lc', 'water_level_m', 12, %s, 80, 82.5, 82.4, %s)",
            (
                bucket,
                bucket + dt.timedelta(minutes=55),
                bucket,
                12 * (81.0 + h / 10),
                bucket + dt.timedelta(minutes=55),
            ),
        )
    conn.execute(
        "INSERT INTO unit_hazard_levels (unit_id, level, base_level, colour, label) "
        "VALUES ('lao_cai_city', 3, 3, '#FF8C00', 'Cấp 3'), ('sa_pa', 0, 0, '#FFFFFF', '-')"
    )
    conn.execute(
        "INSERT INTO camera_incidents (source, event_id, device_id, label, phase, first_seen, "
        "started_at, last_update, data) VALUES ('ioc', 'e1', 'cam-mk', 'fire', 'new', now(), "
        "now(), now(), '{\"type\": \"fire\"}'), ('ioc', 'e2', 'cam-fr', 'fight', 'end', now(), "
        "now(), now(), '{}')"
    )
    conn.execute("UPDATE camera_incidents SET ended_at = now() WHERE event_id = 'e2'")
    parsed = {
        "info": [
            {
                "severity": "Severe",
                "headline": "Cảnh báo lũ quét cấp độ 3",
                "event": "Lũ quét",
                "area": [
                    {
                        "areaDesc": "Xã Bát Xát",
                        "geocode": [{"valueName": "unit_code", "value": "02683"}],
                    }
                ],
            }
        ]
    }
    conn.execute(
        "INSERT INTO cap_messages (identifier, sender, sent, msg_type, status, scope, xml, "
        "parsed) VALUES ('LC-1', 'pctt@laocai.gov.vn', now(), 'Alert', 'Actual', 'Public', "
        "'<alert/>', %s)",
        (Jsonb(parsed),),
    )
    ids = {}
    for name, severity, device, family, unit_id in (
        ("water", "severe", "wl-lc", "disaster", "lao_cai_city"),
        ("fire", "extreme", "cam-mk", "camera", "lao_cai_city"),
        ("crowd", "moderate", "cnt-sq", "tourism", "sa_pa"),
    ):
        ids[name] = open_or_update(
            conn,
            AlertDraft(
                rule_id=f"rule_{name}",
                subject=device,
                kind=name,
                severity=severity,
                title=f"{device}: {name}",
                family=family,
                unit_id=unit_id,
                device_id=device,
                value=1.0,
            ),
        ).alert_id
    conn.commit()
    return ids


@pytest.fixture
def env(settings, db_conn):
    pool = open_pool(settings.database, min_size=1)
    live = LiveState(open_redis(settings.redis), settings.redis)
    ids = fill_province(db_conn, live)
    yield pool, live, ids
    pool.close()
    live.r.close()


def test_registry_levels_incidents_rain_and_warnings(env):
    pool, _live, _ids = env
    registry = q.registry(pool, ttl_s=0)
    assert list(registry.ids) == sorted(d[0] for d in DEVICES)
    water = next(d for d in registry.devices if d.device_id == "wl-lc")
    assert water.alarm_levels.level_2 == 82.0
    assert next(d for d in registry.devices if d.device_id == "cnt-sq").capacity == 6000
    assert q.unit_levels(pool, ttl_s=0) == {"lao_cai_city": 3}
    assert q.open_incidents(pool, ttl_s=0) == {"cam-mk": "fire"}  # e2 has ended
    assert q.rain_24h(pool, ttl_s=0) == {"rain-sp": 120.0}
    geo = q.geometry(pool, ttl_s=0)
    areas = wa.warning_areas(pool, geo, ttl_s=0)
    assert [a.area_desc for a in areas] == ["Xã Bát Xát"] and areas[0].severity == "severe"
    earlier = q.water_earlier(pool, ttl_s=0)
    assert set(earlier) == {"wl-lc"}


def test_cache_answers_within_its_time_to_live(env, db_conn):
    pool, _live, _ids = env
    assert q.unit_levels(pool, ttl_s=60) == {"lao_cai_city": 3}
    db_conn.execute("UPDATE unit_hazard_levels SET level = 4 WHERE unit_id = 'lao_cai_city'")
    db_conn.commit()
    assert q.unit_levels(pool, ttl_s=60) == {"lao_cai_city": 3}
    assert q.unit_levels(pool, ttl_s=0) == {"lao_cai_city": 4}


def test_series_alerts_and_feed_filters(env):
    pool, _live, ids = env
    with pool.connection() as conn:
        series = q.hourly_series(conn, "rain-sp", "rain_mm")
        assert len(series) == 4 and series[-1].total == 30
        assert [a.id for a in q.device_alerts(conn, "cam-mk")] == [ids["fire"]]
        # the operators' order: most severe first
        assert [a.id for a in q.feed_alerts(conn)] == [ids["fire"], ids["water"], ids["crowd"]]
        assert [
            a.id
            for a in q.feed_alerts(
                conn, severities=["extreme", "severe"], units=["lao_cai_city"]
            )
        ] == [ids["fire"], ids["water"]]
        assert [a.id for a in q.feed_alerts(conn, families=["tourism"])] == [ids["crowd"]]
        assert q.feed_alerts(conn, statuses=["resolved"]) == []


def test_acting_on_alerts_goes_through_the_lifecycle(env, db_conn):
    pool, _live, ids = env
    ok = alert_actions.act(pool, ids["water"], "acknowledge", actor="op.lan", note="đã xem")
    assert ok == alert_actions.ActionResult(True, "done", ids["water"])
    again = alert_actions.act(pool, ids["water"], "acknowledge", actor="op.lan")
    assert again.reason == "not_active"
    assert (
        alert_actions.act(pool, ids["water"], "resolve", actor="op.lan").reason == "note_required"
    )
    assigned = alert_actions.act(
        pool, ids["water"], "assign", actor="op.lan", assignee="Đội cứu hộ 1", note="cử người"
    )
    assert assigned.ok
    assert alert_actions.act(pool, ids["water"], "resolve", actor="op.lan", note="nước đã rút").ok
    assert alert_actions.act(pool, 999_999, "acknowledge", actor="x").reason == "not_found"
    assert alert_actions.act(pool, None, "acknowledge", actor="x").reason == "no_selection"
    rows = db_conn.execute(
        "SELECT action, actor, note FROM alert_events WHERE alert_id = %s ORDER BY id",
        (ids["water"],),
    ).fetchall()
    assert [r[0] for r in rows] == ["opened", "acknowledged", "assigned", "resolved"]
    assert rows[-1][1:] == ("op.lan", "nước đã rút")
    audit = db_conn.execute(
        "SELECT action FROM audit_log WHERE target = %s ORDER BY id", (f"alert:{ids['water']}",)
    ).fetchall()
    assert [a[0] for a in audit] == ["alert.acknowledged", "alert.assigned", "alert.resolved"]


def test_device_health_from_redis_last_seen(env):
    pool, live, _ids = env
    report = hq.health_report(pool, live, ttl_s=0)
    by_id = {d.device_id: d for d in report.devices}
    assert by_id["wx-yt"].silent and not by_id["aq-cl"].silent
    assert not by_id["cam-fr"].never_seen and not by_id["cam-fr"].silent  # event-driven
    feeds = {f.feed: f for f in report.feeds}
    assert not feeds["environment"].late(report.now)
    assert feeds["cap"].newest is not None
    assert feeds["rollups"].newest is not None


def test_live_mirror_and_renderer_on_real_redis(env):
    pool, live, _ids = env
    mirror = LiveMirror(live)
    v1 = mirror.refresh(["aq-cl", "wl-lc"], min_interval_s=0)
    assert mirror.latest["wl-lc"]["water_level_m"].value == 82.6
    live.record(
        [LatestValue("wl-lc", "water_level_m", 83.7, time.time())],
        [{"type": "readings", "readings": [["wl-lc", "water_level_m", 83.7, time.time()]]}],
    )
    v2 = mirror.refresh(["aq-cl", "wl-lc"], min_interval_s=0)
    assert v2 > v1 and mirror.changes_since(v1) == {"wl-lc"}
    assert mirror.latest["wl-lc"]["water_level_m"].value == 83.7
    # the page's own path: snapshot, renderer, full figure then nothing new
    snap = read_snapshot(pool, live)
    renderer = MapRenderer("vi", "Asia/Ho_Chi_Minh")
    renderer.advance(snap)
    first = renderer.update_for(None)
    assert first.kind == "full"
    renderer.advance(read_snapshot(pool, live))
    assert renderer.update_for(first.state).kind == "none"


def test_geometry_brings_towns_places_and_every_imported_layer(env, db_conn, tmp_path):
    import json

    from dashboards.map_figure import TRACE_INDEX, LiveInputs, build_map_figure
    from layers.importer import read_layer_file
    from layers.store import seed_demo_layers, store_layer

    pool, _live, _ids = env
    seed_demo_layers(db_conn)
    zones = tmp_path / "vung_ngap.geojson"
    ring = [[103.95, 22.48], [103.99, 22.48], [103.99, 22.51], [103.95, 22.48]]
    zones.write_text(
        json.dumps(
            {
                "type": "FeatureCollection",
                "features": [
                    {
                        "type": "Feature",
                        "properties": {"id": "z1", "name": "Vùng ngập Cốc Lếu", "approximate": 1},
                        "geometry": {"type": "Polygon", "coordinates": [ring]},
                    }
                ],
            }
        ),
        encoding="utf-8",
    )
    data = read_layer_file(zones, kind="zones")
    store_layer(db_conn, "flood_zones", data, source="test", actor="test")
    geo = q.geometry(pool, ttl_s=0)
    assert len(geo.towns["features"]) == 15 and len(geo.poi["features"]) > 10
    assert [name for name, _fc in geo.overlays] == ["flood_zones"]  # not the demo layers
    fig = build_map_figure([], LiveInputs({}, time.time()), geo)
    overlay = fig["data"][TRACE_INDEX["overlays"]]
    assert len(overlay["lon"]) == 5 and "Vùng ngập Cốc Lếu" in overlay["hovertext"][0]
    assert "(ranh giới gần đúng)" in overlay["hovertext"][0]
    places = fig["data"][TRACE_INDEX["places"]]
    assert len(places["lon"]) == len(geo.towns["features"]) + len(geo.poi["features"])
