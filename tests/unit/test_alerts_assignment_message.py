"""Other systems learn whom an alert was assigned to: the `assigned` event's message (the one
shape sent over Redis, MQTT and webhooks) carries the assignee and who assigned it."""

from __future__ import annotations

import datetime as dt

from alerts.outbound import alert_message


def test_the_assigned_message_names_the_assignee_and_who_assigned():
    at = dt.datetime(2026, 12, 7, 11, 0, tzinfo=dt.UTC)
    event = {"id": 7, "action": "assigned", "actor": "op.lan", "note": "cử đội",
             "at": at, "data": {"from": "acknowledged", "to": "assigned", "assignee": "cuu_ho"}}
    alert = {"id": 3, "status": "assigned", "assigned_to": "cuu_ho", "unit_id": "bat_xat",
             "kind": "water_level", "details": {"level": 3}}
    message = alert_message(event, alert)
    assert (message.action, message.actor) == ("assigned", "op.lan")
    assert message.data["assignee"] == "cuu_ho"
    assert message.alert["assigned_to"] == "cuu_ho"
    wire = message.to_wire()  # what Redis, MQTT and webhooks carry
    assert (wire["action"], wire["data"]["assignee"], wire["alert"]["assigned_to"]) == \
        ("assigned", "cuu_ho", "cuu_ho")
