"""/api/v1 against the real database and Redis: every endpoint, its filters, paging and formats."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json

import pytest
from psycopg.types.json import Jsonb

from dashboards.app import create_app
from ioc.db.rollups import refresh_rollups
from ioc.live import LatestValue, LiveState, open_redis
from ioc.security.tokens import create_token

pytestmark = pytest.mark.integration

UTC = dt.UTC
BASE = dt.datetime(2025, 6, 1, tzinfo=UTC)  # a Sunday; readings run for two days from here
ALL_SCOPES = (
    "devices:read",
    "readings:read",
    "alerts:read",
    "incidents:read",
    "evidence:read",
    "kpi:read",
    "kpi:write",
    "layers:read",
)
SNAPSHOT = "ab" * 32
DEVICES = [
    # device_id, family, kind, name, lon, lat, unit_id, metadata
    ("aq-1", "environment", "air_quality", "Trạm không khí TP", 103.97, 22.48, "lao_cai_city", {}),
    ("aq-2", "environment", "air_quality", "Trạm không khí Sa Pa", 103.84, 22.33, "sa_pa", {}),
    ("wx-1", "environment", "weather", "Trạm khí tượng Sa Pa", 103.85, 22.34, "sa_pa", {}),
    (
        "wl-1",
        "disaster",
        "water_level",
        "Trạm thủy văn",
        103.86,
        22.31,
        "sa_pa",
        {"alarm_levels": {"I": 80.0, "II": 82.0, "III": 83.5}},
    ),
    ("cam-1", "camera", "camera", "Camera chợ", 103.97, 22.49, "lao_cai_city", {}),
]


def seed(conn, live: LiveState) -> None:
    """Devices, two days of readings with rollups, alerts, an incident, KPIs, layers, live values."""
    with conn.cursor() as cur:
        cur.executemany(
            "INSERT INTO devices (device_id, family, kind, name, lon, lat, unit_id, metadata) "
            "VALUES (%s, %s, %s, %s, %s, %s, %s, %s)",
            [(*d[:7], Jsonb(d[7])) for d in DEVICES],
        )
        rows = []
        for i in range(2 * 24 * 6):  # every 10 minutes for two days
            t = BASE + dt.timedelta(minutes=10 * i)
            rows.append((t, "aq-1", "pm25", float(i % 50), "µg/m³"))
            rows.append((t, "aq-1", "pm10", float(i % 70), "µg/m³"))
            rows.append((t, "wl-1", "water_level_m", 79.0 + (i % 10) / 2, "m"))
        cur.executemany(
            "INSERT INTO readings (time, device_id, metric, value, unit) VALUES (%s, %s, %s, %s, %s)",
            rows,
        )
        cur.execute(
            "INSERT INTO alerts (rule_id, subject, kind, severity, status, title, family, unit_id, "
            "device_id, opened_at, last_seen_at) VALUES "
            "('water_level_alarm', 'wl-1', 'water_level', 'severe', 'open', 'Báo động II', "
            " 'disaster', 'sa_pa', 'wl-1', %s, %s), "
            "('device_silent', 'aq-2', 'device_silent', 'minor', 'resolved', 'Mất tín hiệu', "
            " 'environment', 'sa_pa', 'aq-2', %s, %s), "
            "('camera_fight', 'cam-1', 'fight', 'severe', 'open', 'Ẩu đả', 'camera', "
            " 'lao_cai_city', 'cam-1', %s, %s)",
            (
                BASE + dt.timedelta(hours=5),
                BASE + dt.timedelta(hours=6),
                BASE + dt.timedelta(hours=1),
                BASE + dt.timedelta(hours=2),
                BASE + dt.timedelta(hours=7),
                BASE + dt.timedelta(hours=7),
            ),
        )
        cur.execute(
            "UPDATE alerts SET resolved_at = %s WHERE status = 'resolved'",
            (BASE + dt.timedelta(hours=2),),
        )
        cur.execute(
            "INSERT INTO alert_events (alert_id, actor, action, note) "
            "SELECT id, 'system', 'opened', NULL FROM alerts"
        )
        cur.execute(
            "INSERT INTO camera_incidents (source, event_id, device_id, label, phase, first_seen, "
            "started_at, last_update, zones, plate, snapshot_sha256) VALUES "
            "('ioc', 'ev-1', 'cam-1', 'fight', 'new', %s, %s, %s, '{cho}', '24A-123.45', %s)",
            (BASE + dt.timedelta(hours=7),) * 3 + (SNAPSHOT,),
        )
        cur.execute(
            "INSERT INTO camera_snapshots (sha256, content, content_type, size, device_id, time) "
            "VALUES (%s, %s, 'image/jpeg', 4, 'cam-1', %s)",
            (SNAPSHOT, b"\xff\xd8\xff\xd9", BASE + dt.timedelta(hours=7)),
        )
        cur.execute(
            "INSERT INTO kpi_values (kpi_id, unit_id, period, period_start, value, source) VALUES "
            "('egov_services_full_pct', '', 'year', '2020-01-01', 37.3, 'seed'), "
            "('egov_services_full_pct', '', 'year', '2019-01-01', 27.2, 'seed')"
        )
        cur.execute(
            "INSERT INTO layer_features (layer, feature_id, name, kind, properties, geometry) "
            "VALUES ('units', 'sa_pa', 'Sa Pa', 'unit_id', '{}', %s)",
            (Jsonb({"type": "Point", "coordinates": [103.84, 22.34]}),),
        )
    refresh_rollups(conn, BASE)
    conn.commit()
    t = (BASE + dt.timedelta(hours=9)).timestamp()
    live.record(
        [
            LatestValue("aq-1", "pm25", 38.2, t),
            LatestValue("aq-1", "humidity", 83.0, t),
            LatestValue("wx-1", "temperature", 21.5, t),
            LatestValue("wx-1", "rain_mm", 1.2, t),
            LatestValue("wl-1", "water_level_m", 82.3, t),
        ]
    )


def make_token(conn, *scopes: str, name: str = "test-system") -> str:
    raw, _ = create_token(conn, name, scopes, days=1, actor="test")
    conn.commit()
    return raw


@pytest.fixture
def api(settings, db_conn):
    """(test client, token factory) on a seeded database."""
    live = LiveState(open_redis(settings.redis), settings.redis)
    seed(db_conn, live)
    live.r.close()
    app = create_app(settings)
    client = app.server.test_client()

    def token(*scopes: str) -> dict:
        return {"Authorization": "Bearer " + make_token(db_conn, *(scopes or ALL_SCOPES))}

    return client, token


def get(client, headers, url, **kw):
    return client.get("/api/v1" + url, headers=headers, **kw)


def all_pages(client, headers, url):
    rows, pages = [], 0
    while url:
        resp = client.get(url, headers=headers)
        assert resp.status_code == 200, resp.json
        rows += resp.json["data"]
        url = resp.json["links"]["next"]
        pages += 1
        assert pages < 500
    return rows, pages


# -- the document -------------------------------------------------------------------------------
def test_openapi_document_is_public_and_lists_every_route(api):
    client, _ = api
    resp = client.get("/api/v1/openapi.json")
    assert resp.status_code == 200 and resp.mimetype == "application/json"
    doc = resp.json
    assert doc["openapi"].startswith("3.1")
    rules = {
        r.rule.removeprefix("/api/v1").replace("<", "{").replace(">", "}").replace("int:", "")
        for r in client.application.url_map.iter_rules()
        if r.rule.startswith("/api/v1/") and r.endpoint != "api_v1.no_such_endpoint"
    }
    assert rules == set(doc["paths"])


# -- devices ------------------------------------------------------------------------------------
def test_devices_filters_paging_and_csv(api):
    client, token = api
    h = token("devices:read")
    resp = get(client, h, "/devices")
    assert resp.status_code == 200
    body = resp.json
    assert [d["device_id"] for d in body["data"]] == sorted(d[0] for d in DEVICES)
    wl = next(d for d in body["data"] if d["device_id"] == "wl-1")
    assert wl["location"] == {"type": "Point", "coordinates": [103.86, 22.31]}
    assert wl["unit_id"] == "sa_pa" and wl["created_at"].endswith("+00:00")
    assert body["next_cursor"] is None and body["links"]["next"] is None

    resp = get(client, h, "/devices?family=environment,disaster&unit_id=sa_pa")
    assert [d["device_id"] for d in resp.json["data"]] == ["aq-2", "wl-1", "wx-1"]

    rows, pages = all_pages(client, h, "/api/v1/devices?limit=2")
    assert pages == 3 and [d["device_id"] for d in rows] == sorted(d[0] for d in DEVICES)
    first = get(client, h, "/devices?limit=2")
    assert first.headers["Link"].endswith('rel="next"')

    for kw in ({"query_string": {"format": "csv"}}, {"headers": {**h, "Accept": "text/csv"}}):
        resp = client.get("/api/v1/devices", **{"headers": h, **kw})
        assert resp.status_code == 200 and resp.mimetype == "text/csv"
        table = list(csv.DictReader(io.StringIO(resp.get_data(as_text=True))))
        assert len(table) == len(DEVICES) and table[0]["lon"] and "location" not in table[0]

    resp = get(client, h, "/devices/wl-1?tz=Asia/Ho_Chi_Minh")
    assert resp.status_code == 200 and resp.json["created_at"].endswith("+07:00")
    resp = get(client, h, "/devices/nope")
    assert resp.status_code == 404 and resp.mimetype == "application/problem+json"


# -- readings -----------------------------------------------------------------------------------
def test_readings_raw_with_offsets_and_cursor_paging(api):
    client, token = api
    h = token("readings:read")
    q = "/readings?device_id=aq-1&start=2025-06-01T00:00:00Z&end=2025-06-01T01:00:00Z"
    resp = get(client, h, q)
    assert resp.status_code == 200
    data = resp.json["data"]
    assert [(r["metric"], r["time"]) for r in data[:2]] == [
        ("pm10", "2025-06-01T00:00:00+00:00"),
        ("pm10", "2025-06-01T00:10:00+00:00"),
    ]
    assert len(data) == 12 and data[0]["unit"] == "µg/m³"
    local = get(client, h, q + "&tz=Asia/Ho_Chi_Minh").json["data"]
    assert local[0]["time"] == "2025-06-01T07:00:00+07:00"

    rows, pages = all_pages(client, h, "/api/v1" + q + "&limit=5")
    assert pages == 3 and rows == data
    # the cursor may not be used for another query
    cursor = get(client, h, q + "&limit=5").json["next_cursor"]
    other = get(client, h, q.replace("aq-1", "wl-1") + "&cursor=" + cursor)
    assert other.status_code == 400 and other.json["errors"][0]["parameter"] == "cursor"


def test_readings_buckets_match_the_raw_readings(api):
    client, token = api
    h = token("readings:read")
    q = "/readings?device_id=aq-1&metric=pm25&start=2025-06-01T00:00:00Z&end=2025-06-03T00:00:00Z"
    raw = [r["value"] for r in get(client, h, q + "&limit=10000").json["data"]]
    hours = get(client, h, q + "&bucket=hour").json["data"]
    assert len(hours) == 48 and sum(b["count"] for b in hours) == len(raw) == 288
    assert hours[0]["sum"] == sum(raw[:6]) and hours[0]["last"] == raw[5]
    assert hours[0]["mean"] == pytest.approx(sum(raw[:6]) / 6)

    utc_days = get(client, h, q + "&bucket=day").json["data"]
    assert [d["time"] for d in utc_days] == [
        "2025-06-01T00:00:00+00:00",
        "2025-06-02T00:00:00+00:00",
    ]
    assert [d["count"] for d in utc_days] == [144, 144]
    # local days from the hourly rollups: 1 June 00:00+07 .. 3 June 00:00+07 (two whole days)
    lq = (
        "/readings?device_id=aq-1&metric=pm25&bucket=day&tz=Asia/Ho_Chi_Minh"
        "&start=2025-05-31T00:00:00%2B07:00&end=2025-06-04T00:00:00%2B07:00"
    )
    local = get(client, h, lq).json["data"]
    assert [d["time"] for d in local] == [
        "2025-06-01T00:00:00+07:00",
        "2025-06-02T00:00:00+07:00",
        "2025-06-03T00:00:00+07:00",
    ]
    assert [d["count"] for d in local] == [102, 144, 42]  # readings start at 07:00 local
    paged, _ = all_pages(client, h, "/api/v1" + lq + "&limit=1")
    assert paged == local

    short = q.replace("2025-06-03T00", "2025-06-01T01")
    quarter = get(client, h, short + "&bucket=15min").json["data"]
    assert [b["count"] for b in quarter] == [2, 1, 2, 1]
    assert quarter[1]["time"] == "2025-06-01T00:15:00+00:00"
    paged, _ = all_pages(client, h, "/api/v1" + q + "&bucket=30min&limit=7")
    assert len(paged) == 96 and sum(b["count"] for b in paged) == 288

    resp = get(client, h, q + "&bucket=hour&format=csv")
    lines = resp.get_data(as_text=True).splitlines()
    assert lines[0] == "time,device_id,metric,bucket,count,mean,min,max,sum,last"
    assert len(lines) == 49


def test_readings_errors_name_the_parameter(api):
    client, token = api
    h = token("readings:read")

    def problem(url):
        resp = get(client, h, url)
        assert resp.status_code == 400, resp.json
        assert resp.mimetype == "application/problem+json"
        return {e["parameter"]: e["reason"] for e in resp.json["errors"]}, resp.json["detail"]

    errors, detail = problem("/readings?device_id=aq-1")
    assert errors == {"start": "required"} and detail == "start: required"
    errors, _ = problem("/readings?device_id=aq-1&start=2025-06-01T00:00:00")
    assert "offset" in errors["start"]
    errors, _ = problem(
        "/readings?device_id=aq-1&start=2025-06-01T00:00:00Z&end=2025-08-01T00:00:00Z"
    )
    assert "31 days" in errors["end"]
    errors, _ = problem(
        "/readings?device_id=aq-1&start=2025-06-02T00:00:00Z&end=2025-06-01T00:00:00Z"
    )
    assert errors["end"] == "must be after start"
    errors, _ = problem("/readings?device_id=aq-1&start=2025-06-01T00:00:00Z&bucket=week")
    assert "bucket" in errors
    errors, detail = problem("/readings?device=aq-1&start=2025-06-01T00:00:00Z")
    assert "device" in errors and "unknown parameter" in detail
    errors, _ = problem("/readings?device_id=aq-1&start=2025-06-01T00:00:00Z&limit=0&tz=Mars/Base")
    assert set(errors) == {"limit", "tz"}
    errors, _ = problem(
        "/readings?device_id=aq-1&start=2025-06-01T00:00:00Z&start=2025-06-02T00:00:00Z"
    )
    assert "once" in errors["start"]


def test_latest_values_from_the_live_store(api):
    client, token = api
    h = token("readings:read")
    resp = get(client, h, "/latest?unit_id=sa_pa")
    assert resp.status_code == 200
    got = {(r["device_id"], r["metric"]): r for r in resp.json["data"]}
    assert set(got) == {("wl-1", "water_level_m"), ("wx-1", "rain_mm"), ("wx-1", "temperature")}
    assert got["wl-1", "water_level_m"]["value"] == 82.3
    assert got["wl-1", "water_level_m"]["time"] == "2025-06-01T09:00:00+00:00"
    resp = get(client, h, "/latest?metric=pm25&limit=1")
    rows, _ = all_pages(client, h, "/api/v1/latest?metric=pm25&limit=1")
    assert rows == [
        {"device_id": "aq-1", "metric": "pm25", "value": 38.2, "time": "2025-06-01T09:00:00+00:00"}
    ]


# -- alerts and incidents -----------------------------------------------------------------------
def test_alerts_filters_and_police_only_camera_alerts(api):
    client, token = api
    h = token("alerts:read")
    ids = [a["kind"] for a in get(client, h, "/alerts").json["data"]]
    assert ids == ["water_level", "device_silent"]  # newest first; no camera alert
    police = token("alerts:read", "incidents:read")
    assert [a["kind"] for a in get(client, police, "/alerts").json["data"]] == [
        "fight",
        "water_level",
        "device_silent",
    ]
    assert [a["kind"] for a in get(client, h, "/alerts?kind=device_silent").json["data"]] == [
        "device_silent"
    ]
    assert len(get(client, h, "/alerts?top_level=true").json["data"]) == 2
    assert get(client, h, "/alerts?top_level=false").json["data"] == []
    active = get(client, h, "/alerts?status=active&severity=severe,extreme").json["data"]
    assert [a["kind"] for a in active] == ["water_level"]
    assert active[0]["location"]["coordinates"] == [103.86, 22.31]
    # active at some time in [start, end): the silent alert ended at 02:00
    window = get(client, h, "/alerts?start=2025-06-01T03:00:00Z&end=2025-06-01T06:00:00Z").json
    assert [a["kind"] for a in window["data"]] == ["water_level"]
    rows, pages = all_pages(client, police, "/api/v1/alerts?limit=1")
    assert pages == 3 and len(rows) == 3

    alert_id = active[0]["id"]
    detail = get(client, h, f"/alerts/{alert_id}?tz=Asia/Ho_Chi_Minh").json
    assert detail["opened_at"] == "2025-06-01T12:00:00+07:00"
    assert [e["action"] for e in detail["events"]] == ["opened"]
    camera_id = get(client, police, "/alerts?family=camera").json["data"][0]["id"]
    assert get(client, h, f"/alerts/{camera_id}").status_code == 404
    assert get(client, police, f"/alerts/{camera_id}").status_code == 200
    assert get(client, h, "/alerts/99999999999999999999999").status_code == 404


def test_cap_feed_carries_the_public_alerts_as_valid_cap(api, db_conn):
    from alerts import cap_out

    client, token = api
    db_conn.execute("UPDATE alerts SET public = (rule_id = 'water_level_alarm')")
    db_conn.commit()
    resp = get(client, token("alerts:read"), "/cap.xml")
    assert resp.status_code == 200 and resp.mimetype == "application/atom+xml"
    messages = cap_out.feed_alerts(resp.get_data(as_text=True))
    assert len(messages) == 1
    assert cap_out.validate_cap(messages[0]) == []


def test_incidents_and_snapshots_need_the_police_scopes(api, db_conn):
    client, token = api
    assert get(client, token("alerts:read"), "/incidents").status_code == 403
    h = token("incidents:read")
    data = get(client, h, "/incidents?open=true&label=fight").json["data"]
    assert [(i["event_id"], i["plate"], i["unit_id"]) for i in data] == [
        ("ev-1", "24A-123.45", "lao_cai_city")
    ]
    assert get(client, h, "/incidents?open=false").json["data"] == []
    assert get(client, h, f"/snapshots/{SNAPSHOT}").status_code == 403
    ev = token("evidence:read")
    resp = get(client, ev, f"/snapshots/{SNAPSHOT}")
    assert resp.status_code == 200 and resp.mimetype == "image/jpeg"
    assert resp.data == b"\xff\xd8\xff\xd9"
    (n,) = db_conn.execute(
        "SELECT count(*) FROM audit_log WHERE action = 'evidence.view'"
    ).fetchone()
    assert n == 1
    assert get(client, ev, "/snapshots/" + "0" * 64).status_code == 404


# -- KPIs ---------------------------------------------------------------------------------------
def test_kpi_catalogue_values_and_targets(api):
    client, token = api
    h = token("kpi:read")
    catalogue = get(client, h, "/kpis").json["data"]
    egov = next(k for k in catalogue if k["id"] == "egov_services_full_pct")
    assert egov["source"] == "reported" and "target" in egov
    values = get(client, h, "/kpis/values?kpi_id=egov_services_full_pct&unit_id=province").json
    assert [v["period_start"] for v in values["data"]] == ["2019-01-01", "2020-01-01"]
    # each figure against its own period's target: none for the 2019 baseline year, the
    # 2020-2025 target for 2020; the catalogue entry gives today's (2026-2030) target
    assert values["data"][0]["unit_id"] is None and values["data"][0]["target"] is None
    assert values["data"][0]["status"] == "info"
    assert values["data"][1]["target"] == 100 and values["data"][1]["status"] == "warn"
    assert egov["target"] == 100 and egov["due"] == "2030-12-31" and egov["target_basis"] == "demo"
    rows, pages = all_pages(client, h, "/api/v1/kpis/values?limit=1")
    assert pages == 2 and len(rows) == 2
    resp = get(client, h, "/kpis/values?start=2020-01-01&end=2019-01-01")
    assert resp.status_code == 400 and resp.json["errors"][0]["parameter"] == "end"


def test_kpi_import_json_csv_dry_run_and_rejection(api, db_conn):
    client, token = api
    assert (
        client.post("/api/v1/kpis/import", json={"rows": []}, headers=token("kpi:read")).status_code
        == 403
    )
    h = token("kpi:write")
    row = {
        "kpi_id": "egov_services_full_pct",
        "period": "year",
        "period_start": "2024",
        "value": 62.5,
    }
    resp = client.post("/api/v1/kpis/import?dry_run=true", json={"rows": [row]}, headers=h)
    assert resp.status_code == 200 and resp.json["dry_run"] and resp.json["stored"] == 1
    count = "SELECT count(*) FROM kpi_values WHERE period_start = '2024-01-01'"
    assert db_conn.execute(count).fetchone()[0] == 0
    resp = client.post("/api/v1/kpis/import?source=bao-cao", json={"rows": [row]}, headers=h)
    assert resp.status_code == 200 and resp.json["ok"], resp.json
    db_conn.rollback()
    source = db_conn.execute("SELECT source FROM kpi_values WHERE period_start = '2024-01-01'")
    assert source.fetchone()[0] == "api:test-system:bao-cao"
    text = "kpi_id,period,period_start,value\r\negov_services_full_pct,year,2023,55\r\n"
    resp = client.post("/api/v1/kpis/import", data=text, content_type="text/csv", headers=h)
    assert resp.status_code == 200 and resp.json["stored"] == 1
    bad = {**row, "value": "lots", "kpi_id": "nope"}
    resp = client.post("/api/v1/kpis/import", json={"rows": [row, bad]}, headers=h)
    assert resp.status_code == 422 and resp.mimetype == "application/problem+json"
    params = {e["parameter"] for e in resp.json["errors"]}
    assert "row 2.kpi_id" in params and resp.json["report"]["stored"] == 0
    resp = client.post(
        "/api/v1/kpis/import", data="{not json", content_type="application/json", headers=h
    )
    assert resp.status_code == 400 and resp.json["errors"][0]["parameter"] == "body"
    resp = client.post(
        "/api/v1/kpis/import", data='{"rows": [NaN]}', content_type="application/json", headers=h
    )
    assert resp.status_code == 400
    resp = client.post("/api/v1/kpis/import", data="x", content_type="text/plain", headers=h)
    assert resp.status_code == 415


# -- layers -------------------------------------------------------------------------------------
def test_layers_as_geojson(api):
    client, token = api
    h = token("layers:read")
    data = get(client, h, "/layers").json["data"]
    assert [(d["layer"], d["features"]) for d in data] == [("units", 1)]
    resp = client.get(data[0]["href"], headers=h)
    assert resp.status_code == 200 and resp.mimetype == "application/geo+json"
    assert resp.json["type"] == "FeatureCollection" and resp.json["features"][0]["id"] == "sa_pa"
    assert get(client, h, "/layers/rivers").status_code == 404
    assert get(client, h, "/layers/Bad-Name").status_code == 404


# -- NGSI-LD ------------------------------------------------------------------------------------
def test_ngsi_ld_entities(api):
    client, token = api
    h = token("readings:read")
    resp = get(client, h, "/ngsi-ld/v1/entities?type=AirQualityObserved&count=true")
    assert resp.status_code == 200 and resp.mimetype == "application/json"
    assert 'rel="http://www.w3.org/ns/json-ld#context"' in resp.headers["Link"]
    assert resp.headers["NGSILD-Results-Count"] == "2"
    aq = {e["id"]: e for e in resp.json}
    assert set(aq) == {"urn:ngsi-ld:AirQualityObserved:aq-1", "urn:ngsi-ld:AirQualityObserved:aq-2"}
    one = aq["urn:ngsi-ld:AirQualityObserved:aq-1"]
    assert one["pm25"] == {
        "type": "Property",
        "value": 38.2,
        "observedAt": "2025-06-01T09:00:00Z",
        "unitCode": "GQ",
    }
    assert one["relativeHumidity"]["value"] == 0.83
    assert one["location"]["type"] == "GeoProperty"
    assert one["dateObserved"]["value"]["@value"] == "2025-06-01T09:00:00Z"

    ld = get(
        client,
        {**h, "Accept": "application/ld+json"},
        "/ngsi-ld/v1/entities?type=FloodMonitoring&options=keyValues",
    )
    assert ld.mimetype == "application/ld+json"
    flood = ld.json[0]
    assert flood["@context"][0].startswith("https://")
    assert flood["currentLevel"] == 82.3 and flood["alertLevel"] == 80.0
    assert flood["floodLevelStatus"] == "alarmLevelII"

    weather = get(client, h, "/ngsi-ld/v1/entities?type=WeatherObserved&format=simplified").json
    assert weather[0]["id"] == "urn:ngsi-ld:WeatherObserved:wx-1"
    assert weather[0]["precipitation"] == 1.2 and weather[0]["temperature"] == 21.5

    page = get(client, h, "/ngsi-ld/v1/entities?type=AirQualityObserved&limit=1")
    assert len(page.json) == 1 and 'rel="next"' in page.headers["Link"]
    by_id = get(client, h, "/ngsi-ld/v1/entities/urn:ngsi-ld:AirQualityObserved:aq-2")
    assert by_id.status_code == 200 and by_id.json["id"].endswith(":aq-2")
    missing = get(client, h, "/ngsi-ld/v1/entities/urn:ngsi-ld:AirQualityObserved:zz")
    assert missing.status_code == 404
    assert missing.json["type"] == "https://uri.etsi.org/ngsi-ld/errors/ResourceNotFound"

    assert get(client, h, "/ngsi-ld/v1/entities?type=Alert").status_code == 403
    alerts = get(client, token("alerts:read"), "/ngsi-ld/v1/entities?type=Alert").json
    assert [(a["subCategory"]["value"], a["severity"]["value"]) for a in alerts] == [
        ("flood", "high")
    ]
    bad = get(client, h, "/ngsi-ld/v1/entities?type=Parking")
    assert bad.status_code == 400
    assert bad.json["type"] == "https://uri.etsi.org/ngsi-ld/errors/BadRequestData"


# -- responses are what the document says ---------------------------------------------------------
def test_every_example_url_answers_with_its_documented_schema(api):
    """Each operation called with its documented example parameters validates against its schema."""
    import jsonschema

    client, token = api
    h = token()
    doc = client.get("/api/v1/openapi.json").json
    for path, item in doc["paths"].items():
        for method, op in item.items():
            if method != "get":
                continue
            url, query = path, []
            for p in op["parameters"]:
                example = p.get("example")
                if p["in"] == "path":
                    url = url.replace("{" + p["name"] + "}", str(example))
                elif p.get("required"):
                    values = example if isinstance(example, list) else [example]
                    query += [(p["name"], str(v)) for v in values]
            resp = client.get("/api/v1" + url, query_string=query, headers=h)
            assert resp.status_code < 500, (path, resp.data[:300])
            content = op["responses"].get(str(resp.status_code), {}).get("content", {})
            assert resp.mimetype in content, (path, resp.status_code, resp.mimetype)
            if "json" in resp.mimetype:
                schema = {**content[resp.mimetype]["schema"], "components": doc["components"]}
                jsonschema.validate(json.loads(resp.data), schema)
