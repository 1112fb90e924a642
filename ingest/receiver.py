"""The MQTT side of the worker: shared persistent subscriptions, a bounded inbox, late acks."""

from __future__ import annotations

import logging
import queue
import threading
import time

import paho.mqtt.client as paho

from ingest.batch import Inbound
from ioc.config import Settings
from ioc.mqtt import MqttClient

log = logging.getLogger(__name__)

TOPICS = ("ioc/v1/#",)
OUTBOUND = "ioc/v1/out/"  # ioc's own outputs, under the same wildcard (GUIDE: topics out)


def subscription_topics(settings: Settings, *, shared: bool) -> list[str]:
    """What the worker subscribes to, relative to the topic prefix (pure)."""
    topics = [*TOPICS, f"{settings.mqtt.frigate_prefix.strip('/')}/#"]
    if not shared:
        return topics
    return [f"$share/{settings.mqtt.shared_group}/{t}" for t in topics]


def client_id_for(name: str) -> str:
    """A client id that stays the same across restarts of the worker called `name`, so its
    persistent session (and the messages it had not acknowledged) is picked up again."""
    safe = "".join(c if c.isalnum() or c in "-_." else "-" for c in name)
    return f"ingest-{safe}"[:64]


class Receiver:
    """Receives messages into `inbox` and acknowledges them when told.

    At most `max_pending` messages are held unacknowledged: the broker is asked for that
    receive window (MQTT 5 Receive Maximum), and should a broker send more, the network
    thread waits in the callback, so nothing more is read from the socket until acks free
    room. An ack is only sent on the connection the message came in on; after a reconnect the
    broker redelivers what we had not acknowledged, and idempotent writes absorb the copy.
    """

    def __init__(self, settings: Settings, name: str, *, on_received=None) -> None:
        self.settings = settings
        self.max_pending = settings.ingest.max_pending
        self.receive_window = min(self.max_pending, 65535)
        self.mqtt = MqttClient(
            settings.mqtt,
            client_id_for(name),
            persistent=True,
            manual_ack=True,
            receive_maximum=self.receive_window,
        )
        self.inbox: queue.SimpleQueue[Inbound] = queue.SimpleQueue()
        self._pending = 0
        self._room = threading.Condition()
        self._stopping = False
        self._unsubscribe: list = []
        self._on_received = on_received or (lambda: None)
        self.skipped_outbound = 0
        self.shared = True

    # -- lifecycle ------------------------------------------------------------------------------
    def start(self, timeout: float = 30.0) -> None:
        """Subscribe (handlers first, so a resumed session's messages find them) and connect."""
        for topic in subscription_topics(self.settings, shared=True):
            self._unsubscribe.append(self.mqtt.subscribe(topic, self._on_message, qos=1))
        self.mqtt.connect(timeout)
        if not self.mqtt.features.shared_subscriptions:
            self.shared = False
            log.warning(
                "the MQTT broker does not offer shared subscriptions: falling back to a plain "
                "subscription; ONLY ONE ingest worker may run, or messages are stored twice "
                "as often as there are workers"
            )
            for unsubscribe in self._unsubscribe:
                unsubscribe()
            self._unsubscribe = [
                self.mqtt.subscribe(topic, self._on_message, qos=1)
                for topic in subscription_topics(self.settings, shared=False)
            ]
        log.info(
            "ingest subscribed as %s to %s (receive window %d)", self.mqtt.client_id,
            ", ".join(subscription_topics(self.settings, shared=self.shared)),
            self.receive_window,
        )

    def stop(self) -> None:
        with self._room:
            self._stopping = True
            self._room.notify_all()
        try:
            self.mqtt.close()
        except Exception:  # closing a broken connection must not hide the real error
            log.debug("MQTT close failed", exc_info=True)

    # -- messages -------------------------------------------------------------------------------
    @property
    def pending(self) -> int:
        return self._pending

    def _on_message(self, message: paho.MQTTMessage) -> None:
        topic = message.topic
        prefix = self.mqtt.prefix
        if prefix and topic.startswith(prefix):
            topic = topic[len(prefix):]
        if topic.startswith(OUTBOUND):
            # What ioc itself publishes (alert changes, hazard levels) falls under the same
            # wildcard; it is not data to store. Acknowledged at once, counted, not kept.
            self.mqtt.ack(message)
            self.skipped_outbound += 1
            return
        room = self._room
        with room:
            while self._pending >= self.max_pending and not self._stopping:
                room.wait(0.5)  # holds the network thread: nothing more is read meanwhile
            self._pending += 1
        self.inbox.put(
            Inbound(topic, message.payload, time.time(), message, self.mqtt.connect_count)
        )
        self._on_received()

    def ack(self, inbounds: list[Inbound]) -> int:
        """Acknowledge messages whose records are committed; returns how many PUBACKs went out."""
        generation = self.mqtt.connect_count
        handles = [i.handle for i in inbounds
                   if i.generation == generation and i.handle is not None]
        self.mqtt.ack_many(handles)
        self.release(len(inbounds))
        return len(handles)

    def release(self, count: int) -> None:
        """Forget `count` messages without acknowledging them (the broker will redeliver)."""
        with self._room:
            self._pending -= count
            self._room.notify_all()
