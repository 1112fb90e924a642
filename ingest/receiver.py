"""The MQTT side of the worker: a durable session, its share of the stream, a bounded inbox, late acks."""

from __future__ import annotations

import logging
import queue
import threading
import time

from ingest.batch import Inbound
from ingest.membership import CONTROL_TOPIC, EMPTY, ControlError, Ownership, View
from ioc.config import Settings
from ioc.mqtt import Message, MqttClient

log = logging.getLogger(__name__)

TOPICS = ("ioc/v1/#",)
OUTBOUND = "ioc/v1/out/"  # ioc's own outputs, under the same wildcard (GUIDE: topics out)


def subscription_topics(settings: Settings) -> list[str]:
    """What the worker subscribes to, relative to the topic prefix (pure). Plain filters, not
    `$share/...`: Mosquitto restores plain subscriptions of offline sessions after a restart
    and not shared ones (docs/ingest.md, "Broker restarts")."""
    return [*TOPICS, f"{settings.mqtt.frigate_prefix.strip('/')}/#"]


def legacy_shared_topics(settings: Settings) -> list[str]:
    """The `$share/...` filters earlier versions subscribed with; a resumed session drops them."""
    return [f"$share/{settings.mqtt.shared_group}/{t}" for t in subscription_topics(settings)]


def client_id_for(name: str) -> str:
    """A client id that stays the same across restarts of the worker called `name`, so its
    persistent session (and the messages it had not acknowledged) is picked up again."""
    safe = "".join(c if c.isalnum() or c in "-_." else "-" for c in name)
    return f"ingest-{safe}"[:64]


_MINE, _OTHERS, _OURS_OUT = "mine", "others", "ours-out"  # first-look verdicts per topic


class Receiver:
    """Receives messages into `inbox` and acknowledges them when told.

    Every worker's session gets every message; `ownership` says which ones this worker
    stores. The others are finished at once (their owner's session holds its own copy); their
    PUBACKs, like all of ours, leave in arrival order, so one that came after a message we
    store waits for that message's commit. A member-list control message changes `ownership` right where it sits in the
    stream and goes through the inbox like data, so the view is committed with the messages
    before it.

    At most `max_pending` messages are held unacknowledged: the broker is asked for that
    receive window (MQTT 5 Receive Maximum), and should a broker send more, the network
    thread waits in the callback, so nothing more is read from the socket until acks free
    room. An ack is only sent on the connection the message came in on; after a reconnect the
    broker redelivers what we had not acknowledged, and idempotent writes absorb the copy.
    """

    SKIP_ACK_BATCH = 1000

    def __init__(self, settings: Settings, name: str, *, on_received=None,
                 view: View = EMPTY) -> None:
        self.settings = settings
        self.name = name
        self.max_pending = settings.ingest.max_pending
        self.receive_window = min(self.max_pending, 65535)
        self.mqtt = MqttClient(
            settings.mqtt,
            client_id_for(name),
            persistent=True,
            manual_ack=True,
            receive_maximum=self.receive_window,
            # PUBACKs in arrival order: another member's messages are finished at once, ours
            # after the commit; Mosquitto 2.0 pays for every PUBACK that overtakes older
            # unacknowledged messages (ioc/mqtt_wire.py `AckOrder`, docs/ingest.md).
            ordered_acks=True,
        )
        self.ownership = Ownership(name, view)
        self.inbox: queue.SimpleQueue[Inbound] = queue.SimpleQueue()
        self._pending = 0
        self._room = threading.Condition()
        self._stopping = False
        self._unsubscribe: list = []
        self._on_received = on_received or (lambda: None)
        self._skip_lock = threading.Lock()
        self._skip: list[int] = []
        self._skip_generation = 0
        self.skipped_outbound = 0
        self.skipped_other = 0  # messages another member stores
        self.stream = 0  # messages seen for the first time (not DUP): our place in the stream
        self.bad_control = 0
        self._wire_prefix = self.mqtt.prefix.encode()
        self._skip_cache: dict[bytes, str] = {}
        self.mqtt.skip_by_topic(self._others_share)

    # -- lifecycle ------------------------------------------------------------------------------
    def start(self, timeout: float = 30.0) -> None:
        """Subscribe (handlers first, so a resumed session's messages find them) and connect."""
        topics = subscription_topics(self.settings)
        for topic in topics:
            self._unsubscribe.append(self.mqtt.subscribe(topic, self._on_message, qos=1))
        self.mqtt.connect(timeout)
        for topic in legacy_shared_topics(self.settings):
            self.mqtt.forget(topic)
        log.info(
            "ingest subscribed as %s to %s (receive window %d, session present: %s)",
            self.mqtt.client_id, ", ".join(topics), self.receive_window,
            self.mqtt.features.session_present,
        )

    def stop(self, *, end_session: bool = False) -> None:
        with self._room:
            self._stopping = True
            self._room.notify_all()
        try:
            self.flush_skipped()
            self.mqtt.close(end_session=end_session)
        except Exception:  # closing a broken connection must not hide the real error
            log.debug("MQTT close failed", exc_info=True)

    # -- messages -------------------------------------------------------------------------------
    @property
    def pending(self) -> int:
        return self._pending

    def _others_share(self, wire_topic: bytes, dup: bool) -> bool:
        """The network thread's first look at a message: True if another member stores it
        (or it is our own output), so it is acknowledged without being delivered."""
        kind = self._skip_cache.get(wire_topic)
        if kind is None:
            topic = wire_topic.decode(errors="replace")
            if self.mqtt.prefix and topic.startswith(self.mqtt.prefix):
                topic = topic[len(self.mqtt.prefix):]
            if topic.startswith(OUTBOUND):
                kind = _OURS_OUT
            elif topic != CONTROL_TOPIC and not self.ownership.mine(topic):
                kind = _OTHERS
            else:
                kind = _MINE
            if len(self._skip_cache) >= 200_000:
                self._skip_cache = {}
            self._skip_cache[wire_topic] = kind
        if kind is _MINE:
            return False
        if not dup:
            self.stream += 1
        if kind is _OTHERS:
            self.skipped_other += 1
        else:
            self.skipped_outbound += 1
        return True

    def _on_message(self, message: Message) -> None:
        topic = message.topic
        prefix = self.mqtt.prefix
        if prefix and topic.startswith(prefix):
            topic = topic[len(prefix):]
        if not message.dup:
            self.stream += 1
        if topic.startswith(OUTBOUND):
            # What ioc itself publishes (alert changes, hazard levels) falls under the same
            # wildcard; it is not data to store. Acknowledged at once, counted, not kept.
            self._skip_ack(message)
            self.skipped_outbound += 1
            return
        control = None
        if topic == CONTROL_TOPIC:
            try:
                control = View.decode(message.payload)
            except ControlError as err:
                log.error("ignoring a malformed member list on %s: %s", topic, err)
                self.bad_control += 1
                self._skip_ack(message)
                return
            if control.epoch < self.ownership.view.epoch:
                log.warning("member list epoch %d after epoch %d: applied as it comes (every "
                            "worker sees the same order)", control.epoch,
                            self.ownership.view.epoch)
            self.ownership.view = control
            self._skip_cache = {}  # decided under the previous list
            log.info("member list epoch %d: %s (%s)", control.epoch,
                     ", ".join(control.members) or "none", control.change)
        elif not self.ownership.mine(topic):
            self._skip_ack(message)
            self.skipped_other += 1
            return
        room = self._room
        with room:
            while self._pending >= self.max_pending and not self._stopping:
                room.wait(0.5)  # holds the network thread: nothing more is read meanwhile
            self._pending += 1
        self.inbox.put(
            Inbound(topic, message.payload, time.time(), message, self.mqtt.connect_count,
                    control)
        )
        if control is None:
            self._on_received()

    def _skip_ack(self, message: Message) -> None:
        """Acknowledge a message we do not store; PUBACKs go out in batches, at the latest
        when the bytes read from the socket are used up (or from `flush_skipped`)."""
        if message.qos != 1:
            self.mqtt.ack(message)
            return
        with self._skip_lock:
            generation = self.mqtt.connect_count
            if generation != self._skip_generation:
                self._skip = []  # ids of an earlier connection mean nothing on this one
                self._skip_generation = generation
            self._skip.append(message.mid)
            if len(self._skip) < self.SKIP_ACK_BATCH and self.mqtt.buffered:
                return
            mids, self._skip = self._skip, []
        self.mqtt.ack_mids(mids, generation)

    def flush_skipped(self) -> None:
        """Send the PUBACKs of skipped messages still held (called now and then)."""
        with self._skip_lock:
            generation = self.mqtt.connect_count
            if self._skip_generation != generation:
                self._skip = []
            mids, self._skip = self._skip, []
        self.mqtt.ack_mids(mids, generation)

    @property
    def unacknowledged(self) -> int:
        """Messages of ours and others' not acknowledged yet (the broker's view of our window)."""
        return self.mqtt.unacknowledged

    def ack(self, inbounds: list[Inbound]) -> int:
        """Acknowledge messages whose records are committed; returns how many were acknowledged
        (their PUBACKs leave once every message that arrived before them is acknowledged too)."""
        generation = self.mqtt.connect_count
        handles = [i.handle for i in inbounds
                   if i.generation == generation and i.handle is not None]
        self.mqtt.ack_many(handles, generation)
        self.release(len(inbounds))
        return len(handles)

    def abandon(self, inbounds: list[Inbound]) -> None:
        """Give up on messages without acknowledging them: the broker sends them again after
        a reconnect; later messages' PUBACKs no longer wait for them."""
        generation = self.mqtt.connect_count
        handles = [i.handle for i in inbounds
                   if i.generation == generation and i.handle is not None]
        self.mqtt.will_not_ack(handles, generation)
        self.release(len(inbounds))

    def release(self, count: int) -> None:
        """Forget `count` messages without acknowledging them (the broker will redeliver)."""
        with self._room:
            self._pending -= count
            self._room.notify_all()
