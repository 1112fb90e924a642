"""Durable delivery of alert changes to MQTT and webhooks (table `alert_deliveries`).

The publisher queues one row per (event, destination) in the transaction that stamps the
event published, so a change is either queued for every destination or for none. A
`ioc.worker.ConnectionLoop` per destination runs `deliver_due`, which claims due rows with FOR UPDATE SKIP LOCKED (two workers never
send one row at the same time), sends them, and in the same transaction marks each one
delivered, due again after a back-off (temporary failure), or failed (permanent refusal, or
out of attempts). A worker that dies leaves its rows for the next one: delivery is at least
once, in event order except around retries.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, Protocol

import psycopg
from psycopg.types.json import Jsonb

from ioc.events import AlertMessage, EventError
from ioc.retry import backoff_s

log = logging.getLogger(__name__)

Outcome = Literal["ok", "retry", "fail", "wait"]  # wait: not tried this time (no attempt used)

MQTT_DESTINATION = "mqtt"


class Destination(Protocol):
    name: str
    max_attempts: int

    def wants(self, message: AlertMessage) -> bool: ...

    def send(self, messages: Sequence[AlertMessage]) -> list[tuple[Outcome, str | None]]: ...


@dataclass(frozen=True)
class Delivery:
    event_id: int
    body: dict[str, Any]
    attempts: int


# -- the table ---------------------------------------------------------------------------------
def queue(conn: psycopg.Connection, messages: Iterable[AlertMessage],
          destinations: Sequence[Destination]) -> int:
    """Queue each message for every destination that wants it; returns rows queued."""
    rows = [(m.event_id, d.name, Jsonb(m.to_wire())) for m in messages for d in destinations
            if d.wants(m)]
    if rows:
        with conn.cursor() as cur:
            cur.executemany(
                "INSERT INTO alert_deliveries (event_id, destination, body) VALUES (%s, %s, %s) "
                "ON CONFLICT (event_id, destination) DO NOTHING", rows)
    return len(rows)


def deliver_due(conn: psycopg.Connection, destination: Destination, *, limit: int = 200,
                backoff_base_s: float = 0.5, backoff_cap_s: float = 60.0) -> int:
    """Claim, send and settle up to `limit` due deliveries; returns how many were settled."""
    with conn.transaction():
        rows = conn.execute(
            "SELECT event_id, body, attempts FROM alert_deliveries "
            "WHERE destination = %s AND delivered_at IS NULL AND failed_at IS NULL "
            "AND next_at <= now() ORDER BY event_id LIMIT %s FOR UPDATE SKIP LOCKED",
            (destination.name, limit)).fetchall()
        if not rows:
            return 0
        due = [Delivery(*row) for row in rows]
        outcomes: list[tuple[Outcome, str | None] | None] = [None] * len(due)
        readable: list[tuple[int, AlertMessage]] = []
        for i, d in enumerate(due):
            try:
                readable.append((i, AlertMessage.from_wire(d.body)))
            except EventError as err:  # a row no code can send: give up on it, say why
                outcomes[i] = ("fail", f"not an alert message: {err}")
        if readable:
            sent = destination.send([m for _, m in readable])
            for (i, _), outcome in zip(readable, sent, strict=True):
                outcomes[i] = outcome
        settled = 0
        for delivery, (outcome, error) in zip(due, outcomes, strict=True):
            if outcome == "wait":
                continue
            settled += 1
            attempts = delivery.attempts + 1
            if outcome == "ok":
                conn.execute(
                    "UPDATE alert_deliveries SET delivered_at = now(), attempts = %s, "
                    "last_error = NULL WHERE event_id = %s AND destination = %s",
                    (attempts, delivery.event_id, destination.name))
            elif outcome == "retry" and attempts < destination.max_attempts:
                delay = backoff_s(attempts, backoff_base_s, backoff_cap_s)
                conn.execute(
                    "UPDATE alert_deliveries SET attempts = %s, last_error = %s, "
                    "next_at = now() + make_interval(secs => %s) "
                    "WHERE event_id = %s AND destination = %s",
                    (attempts, error, delay, delivery.event_id, destination.name))
            else:
                conn.execute(
                    "UPDATE alert_deliveries SET attempts = %s, last_error = %s, "
                    "failed_at = now() WHERE event_id = %s AND destination = %s",
                    (attempts, error, delivery.event_id, destination.name))
                log.warning("alert event %d: giving up on %s after %d attempt(s): %s",
                            delivery.event_id, destination.name, attempts, error)
    return settled


def pending(conn: psycopg.Connection, destination: str | None = None) -> int:
    """Deliveries neither delivered nor given up on."""
    return conn.execute(
        "SELECT count(*) FROM alert_deliveries WHERE delivered_at IS NULL "
        "AND failed_at IS NULL AND (%(d)s::text IS NULL OR destination = %(d)s)",
        {"d": destination}).fetchone()[0]


# -- destinations --------------------------------------------------------------------------------
class MqttDestination:
    """Alert changes on `ioc/v1/out/alerts/...`, QoS 1; a message counts as delivered when the
    broker has acknowledged it. While the client is disconnected nothing is handed to paho
    (which would queue another copy on every retry); the rows simply stay due."""

    name = MQTT_DESTINATION

    def __init__(self, mqtt, *, topic_of: Callable[[Mapping[str, Any]], str],
                 max_attempts: int = 1_000_000, confirm_timeout_s: float = 10.0) -> None:
        self.mqtt = mqtt
        self.topic_of = topic_of
        self.max_attempts = max_attempts  # the broker comes back: keep trying
        self.confirm_timeout_s = confirm_timeout_s

    def wants(self, message: AlertMessage) -> bool:
        return True

    def send(self, messages: Sequence[AlertMessage]) -> list[tuple[Outcome, str | None]]:
        if not self.mqtt.connected:
            return [("wait", None)] * len(messages)
        infos = [self.mqtt.publish(self.topic_of(m.alert), m.to_json(compact=False), qos=1)
                 for m in messages]
        deadline = time.monotonic() + self.confirm_timeout_s
        out: list[tuple[Outcome, str | None]] = []
        for info in infos:
            try:
                info.wait_for_publish(max(0.0, deadline - time.monotonic()))
            except (RuntimeError, ValueError) as err:
                out.append(("retry", f"MQTT publish failed: {err}"))
                continue
            out.append(("ok", None) if info.is_published()
                       else ("retry", "the broker did not acknowledge in time"))
        return out


class WebhookDestination:
    """JSON POSTs of top-level alert changes (storm children reach people through their parent)
    to one URL. After a temporary failure the rest of the batch waits, so one endpoint that is
    down costs one timeout per round, not one per message."""

    def __init__(self, sender, url: str) -> None:
        self.sender = sender
        self.url = url
        self.name = f"webhook:{url}"
        self.max_attempts = sender.max_attempts

    def wants(self, message: AlertMessage) -> bool:
        return message.alert.get("parent_id") is None

    def send(self, messages: Sequence[AlertMessage]) -> list[tuple[Outcome, str | None]]:
        out: list[tuple[Outcome, str | None]] = []
        for message in messages:
            if out and out[-1][0] == "retry":
                out.append(("wait", None))
                continue
            outcome, error = self.sender.post(self.url, self.sender.encode(message.to_wire()))
            out.append((outcome, error))
        return out
