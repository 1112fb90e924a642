"""A camera alert leaves the server (Redis stream, MQTT ioc/v1/out/alerts, webhooks) with its
plate masked as privacy.mask_plate masks it and without any snapshot reference."""

from __future__ import annotations

import datetime as dt
from types import SimpleNamespace

from alerts.deliveries import MqttDestination, WebhookDestination
from alerts.outbound import alert_message, alert_topic, outbound_details
from alerts.webhooks import WebhookSender
from evidence.privacy import mask_plate

PLATE = "24A-686.68"
SHA = "ab" * 32
WHEN = dt.datetime(2025, 6, 1, 1, 5, tzinfo=dt.UTC)


def camera_alert(**details) -> dict:
    return {
        "id": 42, "rule_id": "camera_wanted_plate", "subject": "cam-bg-lao-cai:wanted_plate",
        "kind": "wanted_plate", "family": "camera", "severity": "critical", "status": "open",
        "title": "Cửa khẩu Lào Cai: biển số bị truy tìm", "unit_id": "lao_cai_city",
        "device_id": "cam-bg-lao-cai", "parent_id": None, "opened_at": WHEN,
        "details": {"last_event_id": "ev-9", "zones": ["gate"], "plate": PLATE,
                    "snapshot_sha256": SHA, "snapshot_url": "http://nvr.local/s/ev-9.jpg",
                    "level": 1, "label": "wanted_plate", **details},
    }


EVENT = {"id": 7, "at": WHEN, "actor": "rule", "action": "open", "note": None,
         "data": {"level": 1, "notify": True, "severity": "critical"}}


def test_message_masks_the_plate_and_drops_the_snapshot():
    message = alert_message(EVENT, camera_alert())
    details = message.alert["details"]
    assert details["plate"] == mask_plate(PLATE) == "24A-6**.**"
    assert "snapshot_sha256" not in details and "snapshot_url" not in details
    assert details["zones"] == ["gate"] and details["last_event_id"] == "ev-9"
    assert message.alert["opened_at"] == WHEN.isoformat()
    text = message.to_json(compact=False)
    for secret in (PLATE, "24A68668", "686.68", SHA, "nvr.local"):
        assert secret not in text


def test_outbound_details_edge_cases():
    assert outbound_details(None) is None
    assert outbound_details({"plate": None}) == {"plate": None}
    assert outbound_details({"plate": 24686}) == {"plate": None}  # not text: not sent at all
    assert outbound_details({"value": 3.5}) == {"value": 3.5}
    event_data = {"snapshot_sha256": SHA, "plate": PLATE, "to": "acknowledged"}
    assert outbound_details(event_data) == {"plate": "24A-6**.**", "to": "acknowledged"}
    original = camera_alert()
    alert_message(EVENT, original)
    assert original["details"]["plate"] == PLATE  # the stored alert is not changed


class Recorder:
    """Stands in for Redis, the MQTT client and the webhook sender: records what is sent."""

    connected = True
    max_attempts = 3

    def __init__(self):
        self.sent: list[str] = []

    def record(self, _readings, events):  # LiveState
        self.sent += [e.to_json(compact=False) for e in events]

    def publish(self, topic, payload, qos=0, retain=False):  # MQTT
        self.sent.append(topic + " " + payload)
        return SimpleNamespace(rc=0, wait_for_publish=lambda timeout: None,
                               is_published=lambda: True)

    encode = staticmethod(WebhookSender.encode)

    def post(self, url, body):  # webhooks
        self.sent.append(body.decode())
        return "ok", None


def test_every_channel_gets_the_masked_message():
    live, mqtt, hooks = Recorder(), Recorder(), Recorder()
    message = alert_message(EVENT, camera_alert())
    live.record((), [message])  # what AlertPublisher puts on the Redis stream
    assert MqttDestination(mqtt, topic_of=alert_topic).send([message]) == [("ok", None)]
    assert WebhookDestination(hooks, "http://hook.invalid/x").send([message]) == [("ok", None)]
    for channel in (live, mqtt, hooks):
        assert len(channel.sent) == 1
        assert "24A-6**.**" in channel.sent[0]
        assert PLATE not in channel.sent[0] and SHA not in channel.sent[0]
    assert mqtt.sent[0].startswith("ioc/v1/out/alerts/lao_cai_city/wanted_plate/42 ")
