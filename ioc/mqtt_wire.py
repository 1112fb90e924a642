"""paho's client made fast for the receive path, and the order its PUBACKs leave in.

`BufferedClient` (chunked socket reads, PUBLISH packets without properties decoded straight
from the buffer, PUBACKs batched per write) and `AckOrder` (PUBACKs of QoS 1 messages in
arrival order). Only `ioc.mqtt.MqttClient`, the owner of paho, builds one.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable

import paho.mqtt.client as paho

log = logging.getLogger(__name__)

_PUBACK_HEAD = bytes((paho.PUBACK, 2))  # fixed header of a success PUBACK (MQTT 3.1.1 and 5)
_SKIPPED = 0x10000  # in an AckOrder: a packet id whose message was finished on arrival


class AckOrder:
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


class BufferedClient(paho.Client):
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
    the messages arrived, whatever order the application finishes them in (`AckOrder`).
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
        self._acks = AckOrder() if ordered_acks and self._manual_ack else None
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
