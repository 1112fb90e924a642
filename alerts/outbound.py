"""What goes out when an alert changes: a Redis stream event, an MQTT message, webhooks.

`alert_events` is the outbox. Whoever changes an alert (a rule in the worker, an operator in
the web app through alerts.lifecycle) writes an event row in the same transaction; the
publisher claims unpublished rows with FOR UPDATE SKIP LOCKED (so two workers never send one
twice), puts them on the Redis stream, queues their MQTT and webhook deliveries
(`alerts.deliveries`, durable) and stamps `published_at`, all in one transaction (a crash
before the commit sends them again: at least once).

- Redis: `ioc.events.AlertMessage` (``{"type": "alert", ...}``) on the live event stream;
- MQTT: ``ioc/v1/out/alerts/<unit_id or province>/<kind>/<alert id>``, QoS 1, not retained;
- webhooks: changes of top-level alerts only (storm children reach people through their
  parent), as a JSON POST.

A camera alert's details hold personal data (Decree 13/2023/ND-CP) that stays on the server:
what goes out carries the plate masked as for a role without the right
(`evidence.privacy.mask_plate`) and no snapshot reference (its SHA-256 or URL); police
follow the alert to the police page, which shows them by role.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

import psycopg
from psycopg import sql

from alerts import deliveries
from evidence.privacy import mask_plate
from ioc.events import AlertMessage, HazardLevel
from ioc.live import LiveState

log = logging.getLogger(__name__)

ALERT_TOPIC = "ioc/v1/out/alerts"
HAZARD_TOPIC = "ioc/v1/out/hazard"
_TOPIC_UNSAFE = re.compile(r"[/+#\s]")

_COLUMNS = (
    "id", "rule_id", "subject", "kind", "family", "severity", "status", "title", "unit_id",
    "device_id", "parent_id", "count", "first_value", "last_value", "peak_value", "opened_at",
    "last_seen_at", "acknowledged_at", "acknowledged_by", "assigned_to", "resolved_at",
    "resolved_by", "escalation_level", "public", "details",
)
_CLAIM = sql.SQL(
    "SELECT e.id, e.at, e.actor, e.action, e.note, e.data, {} "
    "FROM alert_events e JOIN alerts a ON a.id = e.alert_id "
    "WHERE e.published_at IS NULL ORDER BY e.id LIMIT %s FOR UPDATE OF e SKIP LOCKED"
).format(sql.SQL(", ").join(sql.Identifier("a", c) for c in _COLUMNS))


# Keys of alert details and event data that never leave the server: a snapshot's content
# address and URL lead to the image of a person or a vehicle.
WITHHELD_KEYS = frozenset({"snapshot_sha256", "snapshot_url"})


def _iso(value: Any) -> Any:
    return value.isoformat() if isinstance(value, datetime) else value


def outbound_details(details: Any) -> Any:
    """Alert details (or event data) as they may leave the server: plate masked, snapshot
    references dropped (pure; anything but a mapping is returned unchanged)."""
    if not isinstance(details, Mapping):
        return details
    out = {k: v for k, v in details.items() if k not in WITHHELD_KEYS}
    if "plate" in out:
        plate = out["plate"]
        out["plate"] = mask_plate(plate) if isinstance(plate, str) else None
    return out


def alert_message(event: Mapping[str, Any], alert: Mapping[str, Any]) -> AlertMessage:
    """The one message of an alert change, for Redis, MQTT and webhooks (pure), from an
    `alert_events` row and its alert row.

    Personal data is masked here, once, so no channel can forget it (see the module doc)."""
    body = {k: _iso(v) for k, v in alert.items()}
    if "details" in body:
        body["details"] = outbound_details(body["details"])
    return AlertMessage(
        event_id=event["id"], action=event["action"], actor=event["actor"], note=event["note"],
        at=_iso(event["at"]), data=outbound_details(event["data"] or {}),
        alert_id=alert["id"], alert=body)


def hazard_topic(unit_id: str) -> str:
    return f"{HAZARD_TOPIC}/{_TOPIC_UNSAFE.sub('_', unit_id)}"


def alert_topic(alert: Mapping[str, Any]) -> str:
    unit_id = _TOPIC_UNSAFE.sub("_", alert.get("unit_id") or "province")
    kind = _TOPIC_UNSAFE.sub("_", alert.get("kind") or "alert")
    return f"{ALERT_TOPIC}/{unit_id}/{kind}/{alert['id']}"


class AlertPublisher:
    """Publishes unpublished alert events; one per worker, called from its own thread.

    The Redis stream gets each change at once; MQTT and webhooks get a row each in
    `alert_deliveries`, in the same transaction, that `alerts.deliveries` sends durably.
    """

    def __init__(self, live: LiveState | None, destinations: Sequence = (), mqtt=None) -> None:
        self.live = live
        self.destinations = list(destinations)
        self.mqtt = mqtt  # retained unit hazard levels (send_hazard)
        self.published = 0

    def publish_pending(self, conn: psycopg.Connection, limit: int = 500) -> int:
        """Claim up to `limit` events, send them to Redis, queue their deliveries and stamp
        them published, all or nothing; returns how many."""
        with conn.transaction():
            rows = conn.execute(_CLAIM, (limit,)).fetchall()
            if not rows:
                return 0
            messages = []
            for row in rows:
                event = dict(zip(("id", "at", "actor", "action", "note", "data"), row[:6],
                                 strict=True))
                alert = dict(zip(_COLUMNS, row[6:], strict=True))
                messages.append(alert_message(event, alert))
            # Redis first: if it fails the transaction rolls back and everything is retried.
            if self.live is not None:
                self.live.record((), messages)
            deliveries.queue(conn, messages, self.destinations)
            conn.execute("UPDATE alert_events SET published_at = now() WHERE id = ANY(%s)",
                         ([r[0] for r in rows],))
        self.published += len(messages)
        return len(messages)

    def send_hazard(self, message: HazardLevel) -> None:
        """A unit's disaster level changed: Redis event and a retained MQTT message."""
        if self.live is not None:
            self.live.record((), [message])
        if self.mqtt is not None:
            self.mqtt.publish(hazard_topic(message.unit_id), message.to_json(compact=False),
                              qos=1, retain=True)
