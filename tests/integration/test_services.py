"""The one owners of MQTT and Redis against the real servers, and the embedded stack itself."""

from __future__ import annotations

import queue
import time

import pytest

from ioc.config import Settings
from ioc.live import LatestValue, LiveState, open_redis
from ioc.mqtt import MqttClient

pytestmark = pytest.mark.integration


def test_publish_subscribe_with_prefix(mqtt_settings):
    got: queue.Queue = queue.Queue()
    sub = MqttClient(mqtt_settings, "sub").connect()
    pub = MqttClient(mqtt_settings, "pub").connect()
    try:
        sub.subscribe("ioc/v1/environment/+", lambda m: got.put((m.topic, m.payload)))
        time.sleep(0.3)
        pub.publish("ioc/v1/environment/aq-1", b"{}").wait_for_publish(5)
        topic, payload = got.get(timeout=5)
        assert topic == mqtt_settings.topic_prefix + "ioc/v1/environment/aq-1"
        assert sub.relative(topic) == "ioc/v1/environment/aq-1" and payload == b"{}"
        assert sub.features.shared_subscriptions
    finally:
        sub.close()
        pub.close()


def test_persistent_session_keeps_messages_while_away(mqtt_settings):
    got: queue.Queue = queue.Queue()
    first = MqttClient(mqtt_settings, "worker", persistent=True).connect()
    first.subscribe("ioc/v1/#", lambda m: None)
    time.sleep(0.3)
    first.close()
    pub = MqttClient(mqtt_settings, "pub").connect()
    for i in range(20):
        pub.publish(f"ioc/v1/disaster/st-{i}", str(i)).wait_for_publish(5)
    pub.close()
    again = MqttClient(mqtt_settings, "worker", persistent=True)
    again.subscribe("ioc/v1/#", lambda m: got.put(m.payload))
    again.connect()
    try:
        received = {got.get(timeout=5) for _ in range(20)}
        assert received == {str(i).encode() for i in range(20)}
        assert again.features.session_present
    finally:
        again.close()


def test_live_state_keeps_the_newest(redis_settings):
    live = LiveState(open_redis(redis_settings), redis_settings)
    live.record([LatestValue("st-1", "water_level_m", 81.2, 200.0)], [{"type": "t", "n": 1}])
    live.record([LatestValue("st-1", "water_level_m", 80.0, 100.0)])  # late: ignored
    assert live.latest("st-1")["water_level_m"].value == 81.2
    assert live.last_seen() == {"st-1": 200.0}
    assert live.read_events("0")[0][1] == {"type": "t", "n": 1}


def test_embedded_stack_starts_and_stops(tmp_path):
    from ioc.services.stack import EmbeddedStack

    stack = EmbeddedStack(tmp_path / "state")
    settings = stack.start_missing(Settings())
    try:
        assert settings.database.url and settings.mqtt.url and settings.redis.url
        assert "127.0.0.1" in settings.database.url
        assert open_redis(settings.redis).ping()
        from ioc.db import connect

        with connect(settings.database) as conn:
            assert conn.execute("SELECT current_setting('TimeZone')").fetchone()[0] == "UTC"
        servers = list(stack.servers)
    finally:
        stack.stop()
    assert not any(s.running for s in servers)
