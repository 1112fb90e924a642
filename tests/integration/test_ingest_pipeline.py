"""Ingest end to end: publish over MQTT, find the rows in PostgreSQL and the values in Redis."""

from __future__ import annotations

import hashlib
import json
import time

import pytest

from ioc.live import LiveState, open_redis
from tests.integration.test_ingest_support import (
    Publisher,
    RunningWorker,
    count,
    reading,
    register,
    wait_count,
    wait_for,
    with_ingest,
)

pytestmark = [pytest.mark.integration, pytest.mark.timeout(300)]
# Waits are for conditions; these deadlines only bound a failure, and are generous because a
# loaded CI machine (or eight test sessions on two cores) can stall a thread for seconds.
DB_S = 60
LIVE_S = 60

CAP_XML = """<?xml version="1.0" encoding="UTF-8"?>
<alert xmlns="urn:oasis:names:tc:emergency:cap:1.2">
  <identifier>NCHMF-2024-{n}</identifier>
  <sender>nchmf@nchmf.gov.vn</sender>
  <sent>{sent}</sent>
  <status>Actual</status>
  <msgType>Alert</msgType>
  <scope>Public</scope>
  <info>
    <language>vi-VN</language>
    <category>Met</category>
    <event>Lũ quét</event>
    <urgency>Immediate</urgency>
    <severity>Severe</severity>
    <certainty>Likely</certainty>
    <headline>Cảnh báo lũ quét</headline>
    <area><areaDesc>Sa Pa</areaDesc></area>
  </info>
</alert>"""


@pytest.fixture
def worker_settings(settings):
    return with_ingest(settings, flush_interval_ms=50)


@pytest.fixture
def worker(worker_settings):
    running = RunningWorker(worker_settings, "w1")
    yield running.worker
    running.stop()


@pytest.fixture
def publisher(worker_settings):
    pub = Publisher(worker_settings)
    yield pub
    pub.close()


@pytest.fixture
def live(worker_settings):
    client = open_redis(worker_settings.redis)
    yield LiveState(client, worker_settings.redis)
    client.close()


def _events(live: LiveState, kind: str) -> list[dict]:
    return [e for _id, e in live.read_events("0", count=10_000) if e["type"] == kind]


def test_own_json_and_senml_readings_reach_database_and_redis(db_conn, worker, publisher, live):
    register(db_conn, [("env-001", "environment"), ("dis-001", "disaster")])
    t = time.time() - 5
    publisher.send("ioc/v1/environment/env-001", {"time": t, "metrics": {"pm25": 35.5,
                                                                         "temperature": 24.0}})
    senml = [{"bn": "dis-001:", "bt": t, "n": "water_level_m", "v": 2.75}]
    publisher.send("ioc/v1/senml/dis-001", json.dumps(senml))
    wait_count(db_conn, "SELECT count(*) FROM readings", 3, DB_S)
    with db_conn.transaction():
        rows = db_conn.execute(
            "SELECT device_id, metric, value, unit, extract(epoch FROM time) FROM readings "
            "ORDER BY device_id, metric").fetchall()
    assert [(r[0], r[1], r[2]) for r in rows] == [
        ("dis-001", "water_level_m", 2.75),
        ("env-001", "pm25", 35.5),
        ("env-001", "temperature", 24.0),
    ]
    assert abs(float(rows[1][4]) - t) < 0.001
    # Redis is written after each batch's commit, by the live feed's own thread, and the two
    # messages may be two batches: wait for both devices, not only the first
    wait_for(lambda: "pm25" in live.latest("env-001")
             and "water_level_m" in live.latest("dis-001")
             and set(live.last_seen()) == {"env-001", "dis-001"}, LIVE_S, "Redis latest values")
    assert live.latest("env-001")["pm25"].value == 35.5
    assert live.latest("dis-001")["water_level_m"].value == 2.75
    assert set(live.last_seen()) == {"env-001", "dis-001"}
    wait_for(lambda: sum(e["count"] for e in _events(live, "readings")) >= 3, LIVE_S,
             "readings events")
    items = [tuple(x[:3]) for e in _events(live, "readings") for x in e["readings"]]
    assert ("env-001", "pm25", 35.5) in items and ("dis-001", "water_level_m", 2.75) in items


def test_status_and_frigate_availability(db_conn, worker, publisher, live):
    register(db_conn, [("cam-001", "camera")])
    publisher.send("ioc/v1/status/cam-001", {"status": "offline", "time": time.time() - 1})
    publisher.send("frigate/available", "online")
    wait_count(db_conn, "SELECT count(*) FROM device_status", 2, DB_S)
    with db_conn.transaction():
        rows = dict(db_conn.execute("SELECT device_id, online FROM device_status").fetchall())
    assert rows == {"cam-001": False, "frigate": True}
    wait_for(lambda: len(_events(live, "status")) >= 2, LIVE_S, "status events")


def test_cap_message_stored_once_with_parsed_document(db_conn, worker, publisher, live):
    sent = time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime(time.time() - 60))
    xml = CAP_XML.format(n=1, sent=sent)
    publisher.send("ioc/v1/cap", xml)
    publisher.send("ioc/v1/cap", xml)  # the same alert again: one row
    wait_count(db_conn, "SELECT count(*) FROM cap_messages", 1, DB_S)
    wait_for(lambda: len(_events(live, "cap")) >= 1, LIVE_S, "cap event")
    time.sleep(0.5)
    with db_conn.transaction():
        row = db_conn.execute(
            "SELECT identifier, sender, msg_type, status, scope, parsed FROM cap_messages"
        ).fetchone()
    assert count(db_conn, "SELECT count(*) FROM cap_messages") == 1
    assert row[:5] == ("NCHMF-2024-1", "nchmf@nchmf.gov.vn", "Alert", "Actual", "Public")
    assert row[5]["info"][0]["event"] == "Lũ quét"
    assert _events(live, "cap")[0]["identifier"] == "NCHMF-2024-1"


def _frigate_event(phase: str, score: float, t: float, end: float | None = None) -> dict:
    after = {
        "id": "1718000000.1-abc", "camera": "cam-002", "label": "person",
        "score": score, "top_score": score, "start_time": t - 10, "end_time": end,
        "frame_time": end or t, "false_positive": False, "has_snapshot": True,
        "entered_zones": ["gate"] if phase != "new" else [], "current_zones": [],
    }
    return {"type": phase, "before": None, "after": after}


def test_frigate_event_merges_into_one_incident(db_conn, worker, publisher, live):
    register(db_conn, [("cam-002", "camera")])
    t = time.time() - 30
    publisher.send("frigate/events", _frigate_event("new", 0.7, t))
    publisher.send("frigate/events", _frigate_event("update", 0.9, t + 2))
    publisher.send("frigate/events", _frigate_event("end", 0.8, t + 4, end=t + 4))
    wait_for(lambda: count(db_conn, "SELECT count(*) FROM camera_incidents WHERE phase='end'")
             == 1, DB_S, "incident end")
    with db_conn.transaction():
        row = db_conn.execute(
            "SELECT device_id, label, phase, top_confidence, confidence, zones, ended_at, "
            "snapshot_url FROM camera_incidents").fetchone()
    assert row[0:3] == ("cam-002", "person", "end")
    assert row[3] == pytest.approx(0.9) and row[4] == pytest.approx(0.8)
    assert row[5] == ["gate"] and row[6] is not None and row[7].startswith("frigate:")
    assert count(db_conn, "SELECT count(*) FROM camera_incidents") == 1
    wait_for(lambda: any(e["phase"] == "end" for e in _events(live, "incident")), LIVE_S,
             "incident events")


def test_own_json_camera_event_and_review_and_snapshot(db_conn, worker, publisher, live):
    register(db_conn, [("cam-003", "camera")])
    t = time.time() - 20
    image = b"\xff\xd8\xff\xe0" + b"fake-jpeg" * 50
    digest = hashlib.sha256(image).hexdigest()
    publisher.send("ioc/v1/camera/cam-003", {
        "time": t, "metrics": {"people_count": 12},
        "event": {"id": "fire-1", "type": "fire", "phase": "new", "confidence": 0.82,
                  "zone": "market", "snapshot": f"sha256:{digest}"},
    })
    publisher.send("frigate/cam-003/person/snapshot", image)
    publisher.send("frigate/cam-003/person/snapshot", image)  # same picture: one row
    review = {"type": "new", "before": None, "after": {
        "id": "rev-1", "camera": "cam-003", "severity": "alert", "start_time": t,
        "end_time": None, "data": {"detections": ["ev-9"], "objects": ["person"],
                                   "zones": [], "audio": []}}}
    publisher.send("frigate/reviews", review)
    wait_count(db_conn, "SELECT count(*) FROM frigate_reviews", 1, DB_S)
    wait_count(db_conn, "SELECT count(*) FROM camera_snapshots", 1, DB_S)
    wait_count(db_conn, "SELECT count(*) FROM camera_incidents", 1, DB_S)
    with db_conn.transaction():
        inc = db_conn.execute(
            "SELECT source, label, zones, snapshot_sha256, top_confidence FROM camera_incidents"
        ).fetchone()
        snap = db_conn.execute(
            "SELECT sha256, content_type, size, content FROM camera_snapshots").fetchone()
        rev = db_conn.execute(
            "SELECT review_id, device_id, severity, event_ids FROM frigate_reviews").fetchone()
    assert inc == ("ioc", "fire", ["market"], digest, pytest.approx(0.82))
    assert snap[:3] == (digest, "image/jpeg", len(image)) and bytes(snap[3]) == image
    assert rev == ("rev-1", "cam-003", "alert", ["ev-9"])
    assert count(db_conn, "SELECT count(*) FROM readings WHERE metric = 'people_count'") == 1
    wait_for(lambda: _events(live, "snapshot") and _events(live, "review"), LIVE_S, "events")


def test_unknown_and_disabled_devices_are_dead_lettered(db_conn, worker, publisher):
    register(db_conn, [("env-ok", "environment")])
    register(db_conn, [("env-off", "environment")], enabled=False)
    t = time.time() - 5
    publisher.send("ioc/v1/environment/env-new", reading(1.0, t))
    publisher.send("ioc/v1/environment/env-off", reading(2.0, t))
    publisher.send("ioc/v1/environment/env-ok", reading(3.0, t))
    wait_count(db_conn, "SELECT count(*) FROM dead_letters", 2, DB_S)
    wait_count(db_conn, "SELECT count(*) FROM readings", 1, DB_S)
    with db_conn.transaction():
        rows = dict(db_conn.execute(
            "SELECT device_id, reason FROM dead_letters").fetchall())
    assert "unknown device env-new" in rows["env-new"]
    assert "disabled" in rows["env-off"]
    # the counter moves after the commit that the rows above come from
    wait_for(lambda: worker.metrics.dead_lettered.labels("unknown_device")._value.get() >= 1,
             LIVE_S, "the dead-letter counter")
    assert worker.metrics.dead_lettered.labels("unknown_device")._value.get() == 1


def test_our_own_outbound_messages_are_not_taken_as_data(db_conn, worker, publisher):
    """Alert changes go out on ioc/v1/out/..., inside the ingest's ioc/v1/# subscription."""
    register(db_conn, [("env-ok", "environment")])
    t = time.time() - 5
    publisher.send("ioc/v1/out/alerts/sa_pa/water_level/7", {"type": "alert", "alert_id": 7})
    publisher.send("ioc/v1/out/hazard/sa_pa", {"unit_id": "sa_pa", "level": 3})
    publisher.send("ioc/v1/environment/env-ok", reading(3.0, t))
    wait_count(db_conn, "SELECT count(*) FROM readings", 1, DB_S)
    wait_for(lambda: worker.receiver.skipped_outbound == 2, LIVE_S, "outbound messages skipped")
    assert count(db_conn, "SELECT count(*) FROM dead_letters") == 0


def test_auto_register_registers_unknown_devices(settings, db_conn):
    s = with_ingest(settings, flush_interval_ms=50, auto_register=True)
    running = RunningWorker(s, "auto")
    pub = Publisher(s)
    try:
        pub.send("ioc/v1/tourism/gate-7", {"time": time.time() - 1, "metrics": {"entries": 4}})
        wait_count(db_conn, "SELECT count(*) FROM readings", 1, DB_S)
        with db_conn.transaction():
            row = db_conn.execute(
                "SELECT family, enabled, metadata FROM devices WHERE device_id = 'gate-7'"
            ).fetchone()
        assert row == ("tourism", True, {"auto_registered": True})
        assert count(db_conn, "SELECT count(*) FROM dead_letters") == 0
    finally:
        pub.close()
        running.stop()


def test_bad_messages_among_good_ones(db_conn, worker, publisher):
    register(db_conn, [(f"env-{i}", "environment") for i in range(10)])
    t = time.time() - 100
    bad = [
        ("ioc/v1/environment/env-1", b"{not json"),
        ("ioc/v1/environment/env-2", json.dumps({"time": t, "metrics": {"pm25": -5}})),
        ("ioc/v1/environment/env-3", json.dumps({"time": t, "metrics": {"bogus": 1}})),
        ("ioc/v1/nonsense/env-4", json.dumps(reading(1, t))),
        ("ioc/v1/environment/env-5", b"x" * 70_000),
    ]
    good = 0
    for i in range(200):
        publisher.publish(f"ioc/v1/environment/env-{i % 10}", reading(float(i), t + i))
        good += 1
        if i % 40 == 0:
            topic, payload = bad[i // 40]
            publisher.publish(topic, payload)
    publisher.flush()
    wait_count(db_conn, "SELECT count(*) FROM readings", good, DB_S)
    wait_count(db_conn, "SELECT count(*) FROM dead_letters", len(bad), DB_S)
    with db_conn.transaction():
        rows = db_conn.execute(
            "SELECT topic, reason, format, payload_size, length(payload) FROM dead_letters "
            "ORDER BY id").fetchall()
    by_topic = {r[0]: r for r in rows}
    assert "invalid JSON" in by_topic["ioc/v1/environment/env-1"][1]
    assert by_topic["ioc/v1/environment/env-5"][3] == 70_000
    assert by_topic["ioc/v1/environment/env-5"][4] == 4096  # capped
    assert all(r[1] for r in rows)
    assert count(db_conn, "SELECT count(*) FROM readings") == good


def test_redelivered_message_is_stored_once(db_conn, worker, publisher):
    register(db_conn, [("env-001", "environment")])
    t = time.time() - 5
    message = json.dumps({"time": t, "metrics": {"pm25": 10, "pm10": 20}})
    for _ in range(3):
        publisher.publish("ioc/v1/environment/env-001", message)
        publisher.publish("ioc/v1/environment/env-001", b"broken")
    publisher.flush()
    wait_for(lambda: worker.metrics.acked._value.get() >= 6, DB_S, "all six messages acked")
    assert count(db_conn, "SELECT count(*) FROM readings") == 2
    assert count(db_conn, "SELECT count(*) FROM dead_letters") == 1
    assert worker.stored_readings == 2
