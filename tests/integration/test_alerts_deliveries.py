"""Durable alert deliveries against the real database, broker and a local webhook endpoint:
queued with the event, retried across a worker restart, given up on a permanent refusal,
held while the broker is away."""

from __future__ import annotations

import json
import queue
import time

import pytest

from alerts import deliveries
from alerts.deliveries import MqttDestination, WebhookDestination
from alerts.outbound import AlertPublisher, alert_topic
from alerts.webhooks import WebhookSender
from ioc.mqtt import MqttClient
from tests.integration.test_alerts_lifecycle import new_alert
from tests.unit.test_alerts_webhooks import Hook

pytestmark = pytest.mark.integration


@pytest.fixture
def conn(db_conn):
    db_conn.autocommit = True
    return db_conn


@pytest.fixture
def hook():
    h = Hook()
    yield h
    h.close()


def _state(conn, destination: str) -> list[tuple]:
    return conn.execute(
        "SELECT attempts, delivered_at IS NOT NULL, failed_at IS NOT NULL FROM alert_deliveries "
        "WHERE destination = %s ORDER BY event_id", (destination,)).fetchall()


def test_webhook_down_then_back_after_a_restart(conn, hook):
    hook.statuses = [503, 503]
    webhook = WebhookDestination(WebhookSender([hook.url], max_attempts=5), hook.url)
    new_alert(conn, "wl-1")
    new_alert(conn, "wl-2")
    assert AlertPublisher(None, [webhook]).publish_pending(conn) == 2
    assert deliveries.pending(conn) == 2
    # first round: the endpoint fails; the second delivery waits instead of costing a timeout
    assert deliveries.deliver_due(conn, webhook, backoff_base_s=0.01) == 1
    assert _state(conn, webhook.name) == [(1, False, False), (0, False, False)]
    # the worker "restarts": a new destination object, the rows are still there
    again = WebhookDestination(WebhookSender([hook.url], max_attempts=5), hook.url)
    time.sleep(0.05)
    assert deliveries.deliver_due(conn, again, backoff_base_s=0.01) == 1  # 503 again
    time.sleep(0.05)
    assert deliveries.deliver_due(conn, again, backoff_base_s=0.01) == 2
    assert _state(conn, webhook.name) == [(3, True, False), (1, True, False)]
    assert [b["alert"]["subject"] for b, _ in hook.received] == ["wl-1", "wl-2"]
    assert deliveries.pending(conn) == 0


def test_permanent_refusal_and_running_out_of_attempts(conn, hook):
    hook.statuses = [400, 500, 500]
    webhook = WebhookDestination(WebhookSender([hook.url], max_attempts=2), hook.url)
    new_alert(conn, "wl-1")
    new_alert(conn, "wl-2")
    AlertPublisher(None, [webhook]).publish_pending(conn)
    assert deliveries.deliver_due(conn, webhook, backoff_base_s=0.01) == 2  # 400, then 500
    time.sleep(0.05)
    assert deliveries.deliver_due(conn, webhook, backoff_base_s=0.01) == 1  # 500: out of tries
    assert _state(conn, webhook.name) == [(1, False, True), (2, False, True)]
    errors = [r[0] for r in conn.execute(
        "SELECT last_error FROM alert_deliveries ORDER BY event_id")]
    assert errors == ["HTTP 400", "HTTP 500"]
    assert hook.received == []


def test_storm_children_go_to_mqtt_but_not_to_webhooks(conn, hook):
    webhook = WebhookDestination(WebhookSender([hook.url]), hook.url)
    parent = new_alert(conn, "wl-1")
    child = new_alert(conn, "wl-2")
    conn.execute("UPDATE alerts SET parent_id = %s WHERE id = %s", (parent, child))

    class Offline:
        connected = False

    mqtt = MqttDestination(Offline(), topic_of=alert_topic)
    AlertPublisher(None, [mqtt, webhook]).publish_pending(conn)
    assert len(_state(conn, "mqtt")) == 2 and len(_state(conn, webhook.name)) == 1


def test_mqtt_deliveries_wait_for_the_broker_and_are_acknowledged(conn, settings):
    got: queue.Queue = queue.Queue()
    sub = MqttClient(settings.mqtt, "out-sub").connect()
    sub.subscribe("ioc/v1/out/alerts/#", lambda m: got.put(json.loads(m.payload)))
    client = MqttClient(settings.mqtt, "alerts-out")
    mqtt = MqttDestination(client, topic_of=alert_topic)
    try:
        time.sleep(0.3)
        alert_id = new_alert(conn, "wl-9")
        AlertPublisher(None, [mqtt]).publish_pending(conn)
        # not connected yet: nothing is handed to paho and no attempt is used up
        assert deliveries.deliver_due(conn, mqtt) == 0
        assert _state(conn, "mqtt") == [(0, False, False)]
        client.connect()
        assert deliveries.deliver_due(conn, mqtt) == 1
        assert _state(conn, "mqtt") == [(1, True, False)]
        message = got.get(timeout=10)
        assert message["alert_id"] == alert_id and message["action"] == "opened"
    finally:
        client.close()
        sub.close()
