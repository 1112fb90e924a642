"""The one owner of paho-mqtt: MQTT 5 clients with topic prefix, persistent sessions, back-off.

The paho client underneath, with its fast receive path and PUBACKs in arrival order, is
`ioc.mqtt_wire.BufferedClient`; nothing else builds one.
"""

from __future__ import annotations

import logging
import ssl
import threading
from collections.abc import Callable
from dataclasses import dataclass

import paho.mqtt.client as paho
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.subscribeoptions import SubscribeOptions

from ioc.config import MqttSettings
from ioc.mqtt_wire import BufferedClient

log = logging.getLogger(__name__)

Message = paho.MQTTMessage  # what subscribers receive (`topic`, `payload`, `qos`, `mid`, `dup`)
MessageCallback = Callable[[Message], None]


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
      (Mosquitto looks PUBACKs up from the oldest in-flight message; see `ioc.mqtt_wire.AckOrder`);
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
        self._client = BufferedClient(
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
