"""Two alert workers on the live event stream, with MQTT, webhooks and the CAP feed out."""

from __future__ import annotations

import json
import time

import pytest
import redis
from psycopg.types.json import Jsonb

from alerts import lifecycle
from alerts.cap_out import cap_feed_xml, feed_alerts, validate_cap
from alerts.queries import list_alerts
from alerts.webhooks import WebhookSender
from alerts.worker import AlertWorker
from ioc.config import AlertsSettings
from ioc.db import connect
from ioc.live import LatestValue, LiveState, open_redis
from ioc.mqtt import MqttClient
from tests.unit.test_alerts_webhooks import Hook

pytestmark = pytest.mark.integration

STATIONS = 12


def wait_until(predicate, timeout=20.0, step=0.05):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(step)
    return predicate()


@pytest.fixture
def stack(settings, db_conn):
    """Settings for fast ticks, registered stations (one unit each), a webhook endpoint,
    and an MQTT subscriber on ioc/v1/out/alerts/#."""
    hook = Hook()
    settings = settings.model_copy(update={"alerts": AlertsSettings(
        evaluate_interval_ms=200, webhook_urls=(hook.url,), cap_sender="ioc@laocai.gov.vn")})
    for i in range(STATIONS):
        db_conn.execute(
            "INSERT INTO devices (device_id, family, kind, name, unit_id, lat, lon, metadata) "
            "VALUES (%s, 'disaster', 'water_level', %s, %s, 22.5, 103.97, %s)",
            (f"wl-{i}", f"Trạm {i}", f"d{i}", Jsonb({"alarm_levels": [80.0, 82.0, 83.5]})))
    db_conn.commit()
    received: list[tuple[str, dict]] = []
    sub = MqttClient(settings.mqtt, "test-out-sub")
    sub.subscribe("ioc/v1/out/alerts/#",
                  lambda m: received.append((sub.relative(m.topic), json.loads(m.payload))))
    sub.connect()
    yield settings, hook, received
    sub.close()
    hook.close()


def start_worker(settings, name: str):
    mqtt = MqttClient(settings.mqtt, f"alerts-{name}").connect()
    webhooks = WebhookSender.from_settings(settings.alerts)
    worker = AlertWorker(settings, name, mqtt=mqtt, webhooks=webhooks).start()

    def stop():
        worker.stop()
        mqtt.close()
        worker.live.r.close()

    return worker, stop


def test_two_workers_split_the_stream_and_publish_every_change(stack, db_settings):
    settings, hook, received = stack
    workers, stops = [], []
    try:
        for name in ("a", "b"):
            w, stop = start_worker(settings, name)
            workers.append(w)
            stops.append(stop)
        client = open_redis(settings.redis)
        live = LiveState(client, settings.redis)
        group = settings.alerts.consumer_group

        def consumers() -> set[str]:
            if not client.exists(live.events_key):
                return set()
            try:
                found = client.xinfo_consumers(live.events_key, group)
            except redis.ResponseError:  # the group is not made yet
                return set()
            return {c["name"].decode() if isinstance(c["name"], bytes) else c["name"]
                    for c in found}

        # Both workers have joined the group before anything is published, so the stream
        # is split between them from the first entry.
        assert wait_until(lambda: consumers() == {"a", "b"}), consumers()
        now = time.time()
        entries = 0
        for k in range(1, 11):  # ten batches, each with every station above alarm level I
            batch = [[f"wl-{i}", "water_level_m", 80.0 + k / 100, now + k] for i in range(STATIONS)]
            latest = [LatestValue(d, m, v, t) for d, m, v, t in batch]
            live.record(latest, [{"type": "readings", "readings": batch}])
            entries += 1
        readings = lambda: sum(w.readings_handled for w in workers)  # noqa: E731
        assert wait_until(lambda: readings() >= entries * STATIONS)
        with connect(db_settings, autocommit=True) as conn:
            assert wait_until(lambda: conn.execute(
                "SELECT count(*), sum(count) FROM alerts").fetchone() == (STATIONS, STATIONS * 10))
            # No entry was handled twice.
            assert readings() == entries * STATIONS
            opened = lambda: [m for t, m in received if m["action"] == "opened"]  # noqa: E731
            assert wait_until(lambda: len(opened()) == STATIONS)
            topic, message = next((t, m) for t, m in received if m["action"] == "opened")
            assert topic == f"ioc/v1/out/alerts/{message['alert']['unit_id']}/water_level/" \
                            f"{message['alert_id']}"
            assert message["alert"]["severity"] == "moderate"
            assert wait_until(lambda: len(hook.received) == STATIONS), [
                (b["action"], b["alert_id"]) for b, _ in hook.received]
            # The redis stream carries them for the dashboards too.
            alert_events = [e for _, e in live.read_events("0", count=10_000)
                            if e.get("type") == "alert"]
            assert len(alert_events) == STATIONS
            # An operator acts in another process: the change goes out as well.
            first = list_alerts(conn)[-1]
            lifecycle.acknowledge(conn, first.id, "op.lan", "đã nhận")
            assert wait_until(lambda: any(m["action"] == "acknowledged" and m["actor"] == "op.lan"
                                          for _, m in received))
            assert wait_until(lambda: any(b["action"] == "acknowledged"
                                          for b, _ in hook.received))
            # The public alerts are in the CAP feed, and each validates against CAP 1.2.
            feed = cap_feed_xml(conn, sender=settings.alerts.cap_sender)
            caps = feed_alerts(feed)
            assert len(caps) == STATIONS
            assert all(validate_cap(xml) == [] for xml in caps)
            assert "<sender>ioc@laocai.gov.vn</sender>" in caps[0]
            # Each station falls back: the workers resolve every alert.
            batch = [[f"wl-{i}", "water_level_m", 78.0, now + 20] for i in range(STATIONS)]
            live.record([LatestValue(*r) for r in batch], [{"type": "readings", "readings": batch}])
            assert wait_until(lambda: conn.execute(
                "SELECT count(*) FROM alerts WHERE status = 'resolved'").fetchone()[0] == STATIONS)
            assert feed_alerts(cap_feed_xml(conn)) == []
        client.close()
    finally:
        for stop in stops:
            stop()


def test_a_restarted_worker_handles_what_it_had_not_acknowledged(stack, db_settings):
    settings, _hook, _received = stack
    w, stop = start_worker(settings, "solo")
    stop()  # the group exists now; the worker is gone
    client = open_redis(settings.redis)
    live = LiveState(client, settings.redis)
    batch = [["wl-0", "water_level_m", 82.5, time.time()]]
    live.record([LatestValue(*batch[0])], [{"type": "readings", "readings": batch}])
    # Take the entry as "solo" without acknowledging it, as if it died mid-batch.
    client.xreadgroup("ioc-alerts", "solo", {live.events_key: ">"}, count=10)
    w2, stop2 = start_worker(settings, "solo")
    try:
        with connect(db_settings, autocommit=True) as conn:
            assert wait_until(lambda: conn.execute(
                "SELECT severity FROM alerts").fetchone() == ("severe",))
        assert wait_until(lambda: client.xpending(live.events_key, "ioc-alerts")["pending"] == 0)
    finally:
        stop2()
        client.close()


def test_worker_keeps_going_when_redis_restarts(stack, db_settings, redis_server):
    if redis_server is None:
        pytest.skip("needs the embedded Redis (IOC_TEST_REDIS_URL points elsewhere)")
    settings, _hook, _received = stack
    w, stop = start_worker(settings, "r")
    try:
        redis_server.stop()
        time.sleep(1.0)
        redis_server.start()
        client = open_redis(settings.redis)
        live = LiveState(client, settings.redis)
        assert wait_until(lambda: w.engine is not None and w.stream is not None)

        def send():
            batch = [["wl-1", "water_level_m", 82.5, time.time()]]
            live.record([LatestValue(*batch[0])], [{"type": "readings", "readings": batch}])

        with connect(db_settings, autocommit=True) as conn:
            # After the restart the stream and the group are gone; the worker recreates them.
            def alert_open():
                send()
                return conn.execute("SELECT count(*) FROM alerts "
                                    "WHERE rule_id = 'water_level_alarm'").fetchone()[0] == 1

            assert wait_until(alert_open, timeout=30, step=1.0)
        client.close()
    finally:
        stop()
