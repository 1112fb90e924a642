"""The one owner of paho-mqtt: MQTT 5 clients with topic prefix, persistent sessions, back-off."""

from __future__ import annotations

import logging
import ssl
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

import paho.mqtt.client as paho
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.subscribeoptions import SubscribeOptions

from ioc.config import MqttSettings

log = logging.getLogger(__name__)

Message = paho.MQTTMessage  # what subscribers receive (`topic`, `payload`, `qos`, `mid`, `dup`)
MessageCallback = Callable[[Message], None]

_PUBACK_HEAD = bytes((paho.PUBACK, 2))  # fixed header of a success PUBACK (MQTT 3.1.1 and 5)
_SKIPPED = 0x10000  # in an _AckOrder: a packet id whose message was finished on arrival


class _AckOrder:
    """Packet ids of received QoS 1 messages in arrival order; PUBACKs leave only in that order.

    Mosquitto 2.0 finds the message a PUBACK is for by walking the session's in-flight list
    from its oldest message (`db__message_delete_outgoing`). When some messages are
    acknowledged at once and older ones only after a commit, every early PUBACK walks past
    all the older unacknowledged messages: with tens of thousands held, the broker spends its
    time walking lists and falls behind (the ingest workers' split stream did exactly that).
    Acknowledged in arrival order, each PUBACK is for the oldest message: found at once.

    `arrived(mid)` (network thread, in order) and `finish(mids)` (any thread) only record;
    `pop_ready()` hands out, in arrival order, the ids whose PUBACKs may go now: every
    finished id up to the oldest unfinished one. `drop(mids)` removes ids that will not be
    acknowledged on this connection (the broker sends them again after a reconnect) so they
    do not hold back the others. The caller holds `lock` around each call and writes what
    `pop_ready` returns before releasing it, so PUBACKs reach the socket in that order.
    `generation` is the connection the ids belong to; `reset` starts a new one.
    """

    __slots__ = ("lock", "generation", "_order", "_done", "_dropped")

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.generation = 0
        self._order: deque[int] = deque()
        self._done: set[int] = set()
        self._dropped: set[int] = set()

    def reset(self, generation: int) -> None:
        self.generation = generation
        self._order.clear()
        self._done.clear()
        self._dropped.clear()

    def arrived(self, mid: int, *, finished: bool = False) -> None:
        self._order.append(mid | _SKIPPED if finished else mid)

    def finish(self, mids) -> None:
        self._done.update(mids)

    def drop(self, mids) -> None:
        self._dropped.update(mids)

    def __len__(self) -> int:
        return len(self._order)

    def pop_ready(self) -> list[int]:
        order, done, dropped = self._order, self._done, self._dropped
        ready: list[int] = []
        while order:
            mid = order[0]
            if mid & _SKIPPED:
                ready.append(mid ^ _SKIPPED)
            elif mid in done:
                done.discard(mid)
                ready.append(mid)
            elif mid in dropped:
                dropped.discard(mid)
            else:
                break
            order.popleft()
        return ready


class _BufferedClient(paho.Client):
    """paho's client with chunked socket reads and batched PUBACKs; packet handling unchanged.

    paho reads every packet with three or more `recv` calls (command byte, each length byte,
    body) and goes back to `select` after each packet, and each PUBACK is its own queued
    packet with its own wake-up and `send`. At thousands of messages a second those system
    calls are most of an ingest worker's CPU. Here `recv` takes up to 64 KiB at a time, paho's
    small reads are served from that chunk, and `loop_read` drains the chunk before returning
    to `select`; `ack_many` queues the PUBACKs of a committed batch as one write. A PUBLISH
    without properties is decoded here with no per-message `Properties` object (its message's
    `properties` is None); every other packet goes through paho's own code.

    With `ordered_acks` (manual acks only), the PUBACKs of QoS 1 messages leave in the order
    the messages arrived, whatever order the application finishes them in (`_AckOrder`).
    """

    READ_CHUNK = 65536

    def __init__(self, *args, ordered_acks: bool = False, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._rbuf = b""
        self._rpos = 0
        self._filtered = False
        # skip_filter(wire_topic, dup) -> True: PUBACK the QoS 1 message without delivering it
        # (an ingest worker's share of the stream is decided per topic).
        self.skip_filter: Callable[[bytes, bool], bool] | None = None
        self._skip_mids: list[int] = []
        self._acks = _AckOrder() if ordered_acks and self._manual_ack else None
        self._acks_ready = False  # something was finished since the last pop_ready

    def _sock_recv(self, bufsize: int) -> bytes:
        start = self._rpos
        available = len(self._rbuf) - start
        if available <= 0:
            chunk = super()._sock_recv(max(bufsize, self.READ_CHUNK))
            if not chunk:  # the peer closed the connection: paho treats b"" as lost
                return chunk
            self._rbuf, start, available = chunk, 0, len(chunk)
        end = start + min(bufsize, available)
        self._rpos = end
        return self._rbuf[start:end]

    @property
    def buffered(self) -> int:
        """Bytes read from the socket that paho has not consumed yet."""
        return len(self._rbuf) - self._rpos

    def loop_read(self, max_packets: int = 1) -> paho.MQTTErrorCode:
        rc = super().loop_read(max_packets)
        # select() cannot see bytes already in our buffer: handle them before going back to it,
        # the plain PUBLISH packets straight from the buffer, anything else through paho.
        while rc == paho.MQTT_ERR_SUCCESS and self._sock is not None and self.buffered > 0:
            if self._in_packet["command"] == 0:  # at a packet boundary
                self._read_lean()
                if self._sock is None or self.buffered == 0:
                    break
            rc = super().loop_read(max_packets)
        if self._skip_mids:
            self._flush_skipped()
        elif self._acks_ready:
            self._send_ready()
        return rc

    def _flush_skipped(self) -> None:
        mids, self._skip_mids = self._skip_mids, []
        if self._sock is not None:
            self._queue_pubacks(mids)

    def _send_ready(self) -> None:
        """Queue the PUBACKs the ack order allows now, in arrival order, as one write."""
        acks = self._acks
        with acks.lock:
            self._acks_ready = False
            self._queue_pubacks(acks.pop_ready())

    def _queue_pubacks(self, mids: list[int]) -> None:
        if mids:
            head = _PUBACK_HEAD
            data = b"".join([head + mid.to_bytes(2, "big") for mid in mids])
            self._packet_queue(paho.PUBACK, data, 0, 0)

    def reset_ack_order(self, generation: int) -> None:
        """A new connection (network thread, at CONNACK, before any of its messages):
        packet ids of the previous one are forgotten."""
        if self._acks is not None:
            with self._acks.lock:
                self._acks.reset(generation)
                self._acks_ready = False

    @property
    def unacknowledged(self) -> int:
        """QoS 1 messages received and not yet acknowledged (ordered acks only; else 0)."""
        return len(self._acks) if self._acks is not None else 0

    def message_callback_add(self, sub, callback) -> None:
        self._filtered = True  # the lean path below knows only `on_message`
        super().message_callback_add(sub, callback)

    def _handle_publish(self) -> paho.MQTTErrorCode:
        """A PUBLISH without MQTT 5 properties (nearly all of them), decoded without building
        paho's Properties and message-info objects per message; anything else goes to paho."""
        header = self._in_packet["command"]
        packet = self._in_packet["packet"]
        qos = (header & 0x06) >> 1
        size = len(packet)
        acks = self._acks
        if size < 2:
            return super()._handle_publish()
        topic_len = (packet[0] << 8) | packet[1]
        pos = 2 + topic_len
        mid = 0
        if qos:
            if size < pos + 2:
                return super()._handle_publish()
            mid = (packet[pos] << 8) | packet[pos + 1]
            pos += 2
        if self._protocol != paho.MQTTv5 or qos == 2 or self._filtered or topic_len == 0 \
                or size <= pos or packet[pos] != 0:  # properties, or malformed
            if acks is not None and qos == 1:
                with acks.lock:  # in arrival order, before anyone can finish it
                    acks.arrived(mid)
            return super()._handle_publish()
        # paho's buffer is a bytearray: the message gets bytes
        return self._publish_lean(header, qos, mid, bytes(packet[2 : 2 + topic_len]),
                                  bytes(packet[pos + 1 :]))

    def _read_lean(self) -> None:
        """Handle the complete PUBLISH packets without properties (QoS 0/1, MQTT 5) at the head
        of the read buffer, straight from it; stop at anything else or at a partial packet,
        which paho's own reader then takes (it reads through `_sock_recv`, from the buffer)."""
        if self._protocol != paho.MQTTv5 or self._filtered:
            return
        buf, pos = self._rbuf, self._rpos
        end = len(buf)
        handled = False
        while pos < end and self._sock is not None:
            header = buf[pos]
            if header & 0xF0 != paho.PUBLISH or header & 0x06 == 0x04:  # not PUBLISH, or QoS 2
                break
            i, length, shift = pos + 1, 0, 0
            while i < end and shift < 28:
                byte = buf[i]
                i += 1
                length |= (byte & 127) << shift
                shift += 7
                if not byte & 128:
                    break
            else:
                break  # length incomplete (or malformed: paho will say so)
            body_end = i + length
            if body_end > end or length < 3:
                break  # partial packet
            qos = (header & 0x06) >> 1
            topic_end = i + 2 + ((buf[i] << 8) | buf[i + 1])
            props = topic_end + 2 if qos else topic_end
            if topic_end == i + 2 or props >= body_end or buf[props] != 0:
                break  # properties, an empty topic or malformed: paho's code
            mid = (buf[topic_end] << 8) | buf[topic_end + 1] if qos else 0
            pos = self._rpos = body_end  # consumed before any callback
            handled = True
            self._publish_lean(header, qos, mid, buf[i + 2 : topic_end], buf[props + 1 : body_end])
        if handled:
            with self._msgtime_mutex:
                self._last_bytes_received = paho.time_func()

    def _publish_lean(self, header: int, qos: int, mid: int, topic: bytes,
                      payload: bytes) -> paho.MQTTErrorCode:
        acks = self._acks
        skip = self.skip_filter
        if skip is not None and qos == 1 and skip(topic, bool(header & 0x08)):
            if acks is not None:
                with acks.lock:
                    acks.arrived(mid, finished=True)
                    self._acks_ready = True
                return paho.MQTT_ERR_SUCCESS
            self._skip_mids.append(mid)
            if len(self._skip_mids) >= 1000:
                self._flush_skipped()
            return paho.MQTT_ERR_SUCCESS
        if acks is not None and qos == 1:
            with acks.lock:
                acks.arrived(mid)
        message = paho.MQTTMessage.__new__(paho.MQTTMessage)
        message.timestamp = time.monotonic()
        message.state = paho.mqtt_ms_invalid
        message.info = None  # only outgoing messages have one
        message.dup = bool(header & 0x08)
        message.qos = qos
        message.retain = bool(header & 0x01)
        message.mid = mid
        message._topic = topic
        message.payload = payload
        message.properties = None  # the packet carried none
        on_message = self.on_message
        if on_message is not None:
            with self._in_callback_mutex:
                try:
                    on_message(self, self._userdata, message)
                except Exception:
                    log.exception("MQTT on_message failed")
                    if not self.suppress_exceptions:
                        raise
        if qos == 1 and not self._manual_ack:
            return self._send_puback(mid)
        return paho.MQTT_ERR_SUCCESS

    def reconnect(self) -> paho.MQTTErrorCode:
        self._rbuf, self._rpos = b"", 0  # bytes of the old connection mean nothing on the new
        self._skip_mids = []  # nor do its packet ids
        return super().reconnect()

    def ack_many(self, mids: list[int], generation: int | None = None) -> None:
        """Acknowledge QoS 1 messages `mids`: their PUBACKs are queued as one write (with
        ordered acks: once every message that arrived before them is finished too).
        `generation`: the connection they came in on; ignored if that is no longer the
        current one (ordered acks only)."""
        if not mids:
            return
        acks = self._acks
        if acks is None:
            self._queue_pubacks(mids)
            return
        with acks.lock:
            if generation is not None and generation != acks.generation:
                return
            acks.finish(mids)
            self._acks_ready = False
            self._queue_pubacks(acks.pop_ready())

    def drop_acks(self, mids: list[int], generation: int | None = None) -> None:
        """Messages that will not be acknowledged on this connection (the broker sends them
        again after a reconnect): later ones are no longer held back by them."""
        acks = self._acks
        if acks is None or not mids:
            return
        with acks.lock:
            if generation is not None and generation != acks.generation:
                return
            acks.drop(mids)
            self._queue_pubacks(acks.pop_ready())


@dataclass(frozen=True)
class BrokerFeatures:
    """What the broker told us it supports in CONNACK (MQTT 5 properties)."""

    shared_subscriptions: bool = True
    session_present: bool = False
    max_qos: int = 2


class MqttClient:
    """A paho client configured from settings.

    - topics are given without the configured prefix; it is added on the wire, and callbacks
      see the wire topic in `message.topic` (`relative()` strips the prefix);
    - `persistent=True` asks for a session that outlives the connection (clean_start=False,
      session expiry), so QoS 1 messages wait for us while we are away;
    - `manual_ack=True` leaves PUBACK to the caller (`ack(message)`), so a message is only
      acknowledged after what it carried is stored;
    - `ordered_acks=True` (with manual_ack) sends the PUBACKs of QoS 1 messages in the order
      the messages arrived: an ack waits until every earlier message is acknowledged too
      (Mosquitto looks PUBACKs up from the oldest in-flight message; see `_AckOrder`);
    - reconnects with exponential back-off and re-subscribes.
    """

    def __init__(
        self,
        settings: MqttSettings,
        client_id: str,
        *,
        persistent: bool = False,
        manual_ack: bool = False,
        will: tuple[str, bytes] | None = None,
        receive_maximum: int = 1000,
        ordered_acks: bool = False,
    ) -> None:
        self.settings = settings
        # MQTT 5 Receive Maximum: how many unacknowledged QoS 1 messages the broker may send us.
        self.receive_maximum = max(1, min(int(receive_maximum), 65535))
        self.prefix = settings.topic_prefix
        self.persistent = persistent
        self.client_id = f"{settings.client_id_prefix}-{client_id}"
        self._client = _BufferedClient(
            paho.CallbackAPIVersion.VERSION2,
            client_id=self.client_id,
            protocol=paho.MQTTv5,
            manual_ack=manual_ack,
            ordered_acks=ordered_acks,
        )
        url = settings.parsed_url()
        self._url = url
        if url.username:
            self._client.username_pw_set(url.username, url.password)
        if url.tls:
            self._client.tls_set(cert_reqs=ssl.CERT_REQUIRED)
        if will:
            self._client.will_set(self.topic(will[0]), will[1], qos=1, retain=True)
        self._client.reconnect_delay_set(min_delay=1, max_delay=30)
        self._client.max_inflight_messages_set(1000)
        self._client.max_queued_messages_set(0)
        self._subscriptions: dict[str, int] = {}
        self._handlers: list[tuple[str, MessageCallback, Callable[[str], bool]]] = []
        self._connected = threading.Event()
        self.features = BrokerFeatures()
        self.connect_count = 0
        self._client.on_connect = self._on_connect
        self._client.on_disconnect = self._on_disconnect
        self._client.on_message = self._on_message

    # -- topics -------------------------------------------------------------------------------
    def topic(self, relative: str) -> str:
        """The wire topic for `relative`; `$share/group/t` keeps `$share/group/` in front."""
        if relative.startswith("$share/"):
            _, group, rest = relative.split("/", 2)
            return f"$share/{group}/{self.prefix}{rest}"
        return f"{self.prefix}{relative}"

    def relative(self, wire_topic: str) -> str:
        return wire_topic[len(self.prefix) :] if wire_topic.startswith(self.prefix) else wire_topic

    # -- connection -----------------------------------------------------------------------------
    def connect(self, timeout: float = 15.0, *, keep_trying: bool = False) -> MqttClient:
        """Connect and wait up to `timeout` for the broker's CONNACK; ConnectionError if it
        does not come. `keep_trying=True`: the network loop keeps running after that error
        and connects (with back-off) as soon as the broker is there."""
        props = Properties(PacketTypes.CONNECT)
        props.SessionExpiryInterval = self.settings.session_expiry_s if self.persistent else 0
        props.ReceiveMaximum = self.receive_maximum
        self._client.connect_async(
            self._url.host,
            self._url.port,
            keepalive=self.settings.keepalive_s,
            clean_start=not self.persistent,
            properties=props,
        )
        self._client.loop_start()
        if not self._connected.wait(timeout):
            if not keep_trying:
                self._client.loop_stop()
            raise ConnectionError(
                f"MQTT broker at {self._url.host}:{self._url.port} did not accept "
                f"{self.client_id} within {timeout:.0f} s"
            )
        return self

    def _on_connect(self, client, userdata, flags, reason_code, properties) -> None:
        if reason_code.is_failure:
            log.error("MQTT connect refused for %s: %s", self.client_id, reason_code)
            return
        shared = True
        max_qos = 2
        if properties is not None:
            shared = bool(getattr(properties, "SharedSubscriptionAvailable", 1))
            max_qos = int(getattr(properties, "MaximumQoS", 2))
        self.features = BrokerFeatures(shared, bool(flags.session_present), max_qos)
        self.connect_count += 1
        self._client.reset_ack_order(self.connect_count)
        log.info(
            "MQTT %s connected to %s:%d (session present: %s)",
            self.client_id, self._url.host, self._url.port, flags.session_present,
        )
        # Re-subscribe every time: cheap, and covers brokers that lost our session.
        for topic, qos in self._subscriptions.items():
            client.subscribe(topic, options=SubscribeOptions(qos=qos))
        self._connected.set()

    def _on_disconnect(self, client, userdata, flags, reason_code, properties) -> None:
        self._connected.clear()
        if reason_code != 0:
            log.warning("MQTT %s disconnected (%s); reconnecting", self.client_id, reason_code)

    @property
    def connected(self) -> bool:
        return self._connected.is_set()

    def wait_connected(self, timeout: float) -> bool:
        return self._connected.wait(timeout)

    def close(self, *, end_session: bool = False) -> None:
        """Disconnect; `end_session=True` also tells the broker to delete our persistent
        session (MQTT 5 DISCONNECT with Session Expiry Interval 0), queue included."""
        try:
            if end_session and self.persistent:
                props = Properties(PacketTypes.DISCONNECT)
                props.SessionExpiryInterval = 0
                self._client.disconnect(properties=props)
            else:
                self._client.disconnect()
        finally:
            self._client.loop_stop()

    # -- publish / subscribe --------------------------------------------------------------------
    def publish(self, topic: str, payload: bytes | str, *, qos: int = 1, retain: bool = False):
        return self._client.publish(self.topic(topic), payload, qos=qos, retain=retain)

    def subscribe(self, topic: str, callback: MessageCallback, *, qos: int = 1) -> Callable[[], None]:
        """Subscribe and route matching messages to `callback`; returns an unsubscribe function."""
        wire = self.topic(topic)
        match_filter = wire.split("/", 2)[2] if wire.startswith("$share/") else wire
        self._subscriptions[wire] = qos
        self._handlers.append((match_filter, callback, _topic_matcher(match_filter)))
        if self.connected:
            self._client.subscribe(wire, options=SubscribeOptions(qos=qos))

        def unsubscribe() -> None:
            self._subscriptions.pop(wire, None)
            self._handlers[:] = [h for h in self._handlers if h[1] is not callback]
            self._client.unsubscribe(wire)

        return unsubscribe

    def skip_by_topic(self, skip: Callable[[bytes, bool], bool] | None) -> None:
        """`skip(wire_topic, dup)` is asked, on the network thread, before each QoS 1 message
        without properties is delivered; True acknowledges it at once (PUBACKs batched)
        without building a message or calling any handler."""
        self._client.skip_filter = skip

    def forget(self, topic: str) -> None:
        """Unsubscribe a filter we no longer use but a resumed session may still hold."""
        if self.connected:
            self._client.unsubscribe(self.topic(topic))

    @property
    def buffered(self) -> int:
        """Bytes already read from the socket and not yet handled (0: none waiting)."""
        return self._client.buffered

    def _on_message(self, client, userdata, message: paho.MQTTMessage) -> None:
        topic = message.topic
        for _pattern, callback, matches in self._handlers:
            if matches(topic):
                try:
                    callback(message)
                except Exception:  # a bad handler must not kill the network thread
                    log.exception("MQTT handler failed for topic %s", message.topic)
                return
        log.debug("no handler for %s", message.topic)

    def ack(self, message: paho.MQTTMessage) -> None:
        """Send the PUBACK for a message received with manual_ack=True."""
        if message.qos == 1:
            self._client.ack_many([message.mid])
        elif message.qos > 0:
            self._client.ack(message.mid, message.qos)

    def ack_many(self, messages: list[paho.MQTTMessage], generation: int | None = None) -> None:
        """Acknowledge several messages received with manual_ack=True in one socket write.
        `generation`: the `connect_count` they arrived under (with ordered acks, messages of
        an earlier connection are then not acknowledged)."""
        qos1 = [m.mid for m in messages if m.qos == 1]
        self._client.ack_many(qos1, generation)
        for m in messages:
            if m.qos == 2:
                self._client.ack(m.mid, 2)

    def ack_mids(self, mids: list[int], generation: int | None = None) -> None:
        """PUBACK QoS 1 messages by packet id in one write (current connection only)."""
        self._client.ack_many(mids, generation)

    def will_not_ack(self, messages: list[paho.MQTTMessage], generation: int | None = None) -> None:
        """With ordered acks: these messages will not be acknowledged on this connection (the
        broker sends them again after a reconnect), so later ones need not wait for them."""
        self._client.drop_acks([m.mid for m in messages if m.qos == 1], generation)

    @property
    def unacknowledged(self) -> int:
        """With ordered acks: QoS 1 messages received and not yet acknowledged."""
        return self._client.unacknowledged

    @property
    def paho(self) -> paho.Client:
        """The underlying client, for the rare case a caller needs it."""
        return self._client


def broker_accepts(host: str, port: int, username: str | None = None,
                   password: str | None = None) -> bool:
    """True when an MQTT 5 broker at host:port takes a connection (one probe, no loop): how
    the embedded services wait for their broker."""
    client = paho.Client(paho.CallbackAPIVersion.VERSION2, protocol=paho.MQTTv5)
    if username is not None:
        client.username_pw_set(username, password)
    try:
        client.connect(host, port, keepalive=5)
        rc = client.loop(timeout=1.0)
        client.disconnect()
        return rc == paho.MQTT_ERR_SUCCESS
    except OSError:
        return False


def _topic_matcher(pattern: str) -> Callable[[str], bool]:
    """A fast test for `pattern` (paho's topic_matches_sub builds a matcher tree per call)."""
    if "+" not in pattern and "#" not in pattern:
        return lambda topic: topic == pattern
    if "+" not in pattern and pattern.endswith("/#") and pattern.count("#") == 1:
        head, base = pattern[:-1], pattern[:-2]
        return lambda topic: topic.startswith(head) or topic == base
    return lambda topic: paho.topic_matches_sub(pattern, topic)
