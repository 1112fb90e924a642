"""Typed messages between processes: the live event stream in Redis and ioc/v1/out/ on MQTT.

Every message is a frozen type here, with `to_wire()` (the JSON object it is on the wire) and
`from_wire()` (that object read back, checked). Producers build these types and consumers
receive them; nobody builds or picks apart the dicts by hand (GUIDE, house style 11).

On the Redis stream (`ioc.live.LiveState`, written by ingest and the alerts worker, read by
the alerts worker and the dashboards' live mirror):

    readings      Readings       stored readings, [device_id, metric, value, unix_time] lists
    incident      Incident       a camera incident (merged new/update/end state)
    review        Review         a Frigate review item
    snapshot      Snapshot       a stored camera snapshot (its address, not its bytes)
    cap           Cap            a stored CAP 1.2 message
    status        Status         a device online/offline
    alert         AlertMessage   an alert change (also MQTT ioc/v1/out/alerts/... and webhooks)
    hazard_level  HazardLevel    a unit's disaster level changed (also MQTT ioc/v1/out/hazard/...)

Versions: each type has a `VERSION`; on the wire it is the key "v". Version 1 is the format
written before versions existed, byte for byte, so it carries no "v" and every message already
in a stream or a delivery queue still decodes. A later version writes "v": 2 and its decoder
keeps reading version 1; a message of a version newer than this code raises
`UnsupportedVersion`, which consumers log and skip like any malformed message.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, ClassVar

WIRE_VERSION_KEY = "v"


class EventError(ValueError):
    """A message that cannot be decoded (not an object, unknown type, bad field)."""


class UnknownEventType(EventError):
    pass


class UnsupportedVersion(EventError):
    pass


# -- field helpers ------------------------------------------------------------------------------
def _iso(t: datetime | None) -> str | None:
    return t.isoformat() if t is not None else None


def _time(data: Mapping[str, Any], key: str) -> datetime | None:
    raw = data.get(key)
    if raw is None or raw == "":
        return None
    if isinstance(raw, datetime):
        return raw
    try:
        return datetime.fromisoformat(str(raw))
    except ValueError as err:
        raise EventError(f"{key}: not an ISO 8601 time: {raw!r}") from err


def _str(data: Mapping[str, Any], key: str, default: str = "") -> str:
    raw = data.get(key)
    return default if raw is None else str(raw)


def _opt_str(data: Mapping[str, Any], key: str) -> str | None:
    raw = data.get(key)
    return None if raw is None else str(raw)


def _number(data: Mapping[str, Any], key: str) -> float | None:
    raw = data.get(key)
    if raw is None:
        return None
    if isinstance(raw, bool) or not isinstance(raw, int | float):
        raise EventError(f"{key}: not a number: {raw!r}")
    return raw


def _seq(data: Mapping[str, Any], key: str) -> tuple:
    raw = data.get(key)
    if raw is None:
        return ()
    if isinstance(raw, str | bytes) or not isinstance(raw, Sequence):
        raise EventError(f"{key}: not a list: {raw!r}")
    return tuple(raw)


def _mapping(data: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    raw = data.get(key)
    if raw is None:
        return {}
    if not isinstance(raw, Mapping):
        raise EventError(f"{key}: not an object: {raw!r}")
    return raw


class _Message:
    """What every message type has: its wire `TYPE` and `VERSION`."""

    __slots__ = ()
    TYPE: ClassVar[str]
    VERSION: ClassVar[int] = 1

    def _head(self) -> dict[str, Any]:
        head: dict[str, Any] = {"type": self.TYPE}
        if self.VERSION > 1:
            head[WIRE_VERSION_KEY] = self.VERSION
        return head

    def to_wire(self) -> dict[str, Any]:  # pragma: no cover - every type overrides it
        raise NotImplementedError

    def to_json(self, *, compact: bool = True) -> str:
        """The JSON text: compact for the Redis stream; `compact=False` as it goes out on
        MQTT and webhooks (non-ASCII kept)."""
        if compact:
            return json.dumps(self.to_wire(), separators=(",", ":"), default=str)
        return json.dumps(self.to_wire(), ensure_ascii=False, default=str)


# -- the live stream ------------------------------------------------------------------------------
Reading = Sequence[Any]  # (device_id, metric, value, unix_time): compact, thousands per event


@dataclass(frozen=True, slots=True)
class Readings(_Message):
    """Readings a transaction stored, each ``(device_id, metric, value, unix_time)`` (at
    most `ingest.live_feed.READINGS_PER_EVENT`). Items are not checked one by one on decode:
    a consumer skips an item it cannot unpack."""

    TYPE: ClassVar[str] = "readings"
    readings: tuple[Reading, ...] = ()
    worker: str | None = None
    committed_at: float | None = None

    @property
    def count(self) -> int:
        return len(self.readings)

    def to_wire(self) -> dict[str, Any]:
        out = self._head()
        if self.worker is not None:
            out["worker"] = self.worker
        if self.committed_at is not None:
            out["committed_at"] = self.committed_at
        out["count"] = len(self.readings)
        out["readings"] = list(self.readings)
        return out

    @classmethod
    def from_wire(cls, data: Mapping[str, Any]) -> Readings:
        return cls(_seq(data, "readings"), _opt_str(data, "worker"),
                   _number(data, "committed_at"))


@dataclass(frozen=True, slots=True)
class Incident(_Message):
    """A camera incident's merged state (ingest/incidents.py), per (source, event_id)."""

    TYPE: ClassVar[str] = "incident"
    source: str
    event_id: str
    device_id: str
    label: str
    phase: str
    confidence: float | None = None
    top_confidence: float | None = None
    zones: tuple[str, ...] = ()
    plate: str | None = None
    plate_confidence: float | None = None
    snapshot_sha256: str | None = None
    snapshot_url: str | None = None
    false_positive: bool = False
    started_at: datetime | None = None
    ended_at: datetime | None = None
    time: datetime | None = None  # its last update

    def to_wire(self) -> dict[str, Any]:
        out = self._head()
        out.update(
            source=self.source, event_id=self.event_id, device_id=self.device_id,
            label=self.label, phase=self.phase, confidence=self.confidence,
            top_confidence=self.top_confidence, zones=list(self.zones), plate=self.plate,
            plate_confidence=self.plate_confidence, snapshot_sha256=self.snapshot_sha256,
            snapshot_url=self.snapshot_url, false_positive=self.false_positive,
            started_at=_iso(self.started_at), ended_at=_iso(self.ended_at),
            time=_iso(self.time))
        return out

    @classmethod
    def from_wire(cls, data: Mapping[str, Any]) -> Incident:
        return cls(
            _str(data, "source"), _str(data, "event_id"), _str(data, "device_id"),
            _str(data, "label"), _str(data, "phase"), _number(data, "confidence"),
            _number(data, "top_confidence"), tuple(str(z) for z in _seq(data, "zones")),
            _opt_str(data, "plate"), _number(data, "plate_confidence"),
            _opt_str(data, "snapshot_sha256"), _opt_str(data, "snapshot_url"),
            bool(data.get("false_positive")), _time(data, "started_at"),
            _time(data, "ended_at"), _time(data, "time"))


@dataclass(frozen=True, slots=True)
class Review(_Message):
    """A Frigate review item's state."""

    TYPE: ClassVar[str] = "review"
    review_id: str
    device_id: str
    phase: str
    severity: str | None = None
    event_ids: tuple[str, ...] = ()
    time: datetime | None = None

    def to_wire(self) -> dict[str, Any]:
        out = self._head()
        out.update(review_id=self.review_id, device_id=self.device_id, phase=self.phase,
                   severity=self.severity, event_ids=list(self.event_ids), time=_iso(self.time))
        return out

    @classmethod
    def from_wire(cls, data: Mapping[str, Any]) -> Review:
        return cls(_str(data, "review_id"), _str(data, "device_id"), _str(data, "phase"),
                   _opt_str(data, "severity"), tuple(str(e) for e in _seq(data, "event_ids")),
                   _time(data, "time"))


@dataclass(frozen=True, slots=True)
class Snapshot(_Message):
    """A camera snapshot was stored (content-addressed by `sha256`)."""

    TYPE: ClassVar[str] = "snapshot"
    device_id: str
    label: str | None
    sha256: str
    content_type: str
    size: int
    time: datetime | None = None

    def to_wire(self) -> dict[str, Any]:
        out = self._head()
        out.update(device_id=self.device_id, label=self.label, sha256=self.sha256,
                   content_type=self.content_type, size=self.size, time=_iso(self.time))
        return out

    @classmethod
    def from_wire(cls, data: Mapping[str, Any]) -> Snapshot:
        size = _number(data, "size")
        return cls(_str(data, "device_id"), _opt_str(data, "label"), _str(data, "sha256"),
                   _str(data, "content_type"), int(size or 0), _time(data, "time"))


@dataclass(frozen=True, slots=True)
class Cap(_Message):
    """A stored CAP 1.2 message: its header, `references` as (sender, identifier, sent)
    triples and its `info` blocks as parsed by ingest/formats/cap.py."""

    TYPE: ClassVar[str] = "cap"
    identifier: str
    sender: str
    sent: datetime | None
    msg_type: str
    status: str
    scope: str
    references: tuple[tuple[str, ...], ...] = ()
    info: tuple[Mapping[str, Any], ...] = ()

    def to_wire(self) -> dict[str, Any]:
        out = self._head()
        out.update(identifier=self.identifier, sender=self.sender, sent=_iso(self.sent),
                   msg_type=self.msg_type, status=self.status, scope=self.scope,
                   references=[list(x) for x in self.references],
                   info=[dict(i) for i in self.info])
        return out

    @classmethod
    def from_wire(cls, data: Mapping[str, Any]) -> Cap:
        refs = []
        for ref in _seq(data, "references"):
            if isinstance(ref, str) or not isinstance(ref, Sequence):
                raise EventError(f"references: not a (sender, identifier, sent) list: {ref!r}")
            refs.append(tuple(str(x) for x in ref))
        info = _seq(data, "info")
        if not all(isinstance(i, Mapping) for i in info):
            raise EventError("info: not a list of objects")
        return cls(_str(data, "identifier"), _str(data, "sender"), _time(data, "sent"),
                   _str(data, "msg_type"), _str(data, "status"), _str(data, "scope"),
                   tuple(refs), info)


@dataclass(frozen=True, slots=True)
class Status(_Message):
    """A device said it is online or offline (its status topic, or its last will)."""

    TYPE: ClassVar[str] = "status"
    device_id: str
    online: bool
    time: datetime | None = None

    def to_wire(self) -> dict[str, Any]:
        out = self._head()
        out.update(device_id=self.device_id, online=self.online, time=_iso(self.time))
        return out

    @classmethod
    def from_wire(cls, data: Mapping[str, Any]) -> Status:
        return cls(_str(data, "device_id"), bool(data.get("online")), _time(data, "time"))


# -- what the alerts worker sends (Redis stream, MQTT ioc/v1/out/..., webhooks) -------------------
@dataclass(frozen=True, slots=True)
class AlertMessage(_Message):
    """One change of an alert (an `alert_events` row and the alert after it), personal data
    already masked (alerts.outbound). The same JSON goes on the Redis stream, on MQTT
    `ioc/v1/out/alerts/<unit_id or province>/<kind>/<alert id>` and to webhooks."""

    TYPE: ClassVar[str] = "alert"
    event_id: int
    action: str
    actor: str
    note: str | None
    at: str | None  # ISO 8601, as the database gave it
    data: Mapping[str, Any] = field(default_factory=dict)
    alert_id: int = 0
    alert: Mapping[str, Any] = field(default_factory=dict)  # the alert row, times in ISO 8601

    def to_wire(self) -> dict[str, Any]:
        out = self._head()
        out.update(event_id=self.event_id, action=self.action, actor=self.actor,
                   note=self.note, at=self.at, data=self.data, alert_id=self.alert_id,
                   alert=self.alert)
        return out

    @classmethod
    def from_wire(cls, data: Mapping[str, Any]) -> AlertMessage:
        try:
            event_id, alert_id = int(data["event_id"]), int(data["alert_id"])
        except (KeyError, TypeError, ValueError) as err:
            raise EventError(f"alert message without event_id/alert_id: {err}") from err
        at = data.get("at")
        return cls(event_id, _str(data, "action"), _str(data, "actor"), _opt_str(data, "note"),
                   None if at is None else str(at), _mapping(data, "data"), alert_id,
                   _mapping(data, "alert"))


@dataclass(frozen=True, slots=True)
class HazardLevel(_Message):
    """A unit's disaster level (Decision 18/2021) changed; retained on MQTT
    `ioc/v1/out/hazard/<unit_id>`."""

    TYPE: ClassVar[str] = "hazard_level"
    unit_id: str
    unit_name: str
    level: int
    base_level: int
    uplift: int
    colour: str
    label: str
    hazards: Mapping[str, int] = field(default_factory=dict)
    previous: int = 0
    at: datetime | None = None

    def to_wire(self) -> dict[str, Any]:
        out = self._head()
        out.update(unit_id=self.unit_id, unit_name=self.unit_name, level=self.level,
                   base_level=self.base_level, uplift=self.uplift, colour=self.colour,
                   label=self.label, hazards=dict(self.hazards), previous=self.previous,
                   at=_iso(self.at))
        return out

    @classmethod
    def from_wire(cls, data: Mapping[str, Any]) -> HazardLevel:
        def level(key: str) -> int:
            return int(_number(data, key) or 0)

        return cls(_str(data, "unit_id"), _str(data, "unit_name"), level("level"),
                   level("base_level"), level("uplift"), _str(data, "colour"),
                   _str(data, "label"), _mapping(data, "hazards"), level("previous"),
                   _time(data, "at"))


LiveEvent = Readings | Incident | Review | Snapshot | Cap | Status | AlertMessage | HazardLevel
TYPES: dict[str, type[LiveEvent]] = {
    t.TYPE: t for t in (Readings, Incident, Review, Snapshot, Cap, Status, AlertMessage,
                        HazardLevel)
}


# -- the codec --------------------------------------------------------------------------------------
def encode(event: LiveEvent | Mapping[str, Any]) -> Mapping[str, Any]:
    """The wire object of `event` (a mapping is taken as already encoded)."""
    return event if isinstance(event, Mapping) else event.to_wire()


def dumps(event: LiveEvent | Mapping[str, Any]) -> str:
    """Compact JSON of `event`, as it is stored on the Redis stream."""
    return json.dumps(encode(event), separators=(",", ":"), default=str)


def version_of(data: Mapping[str, Any]) -> int:
    raw = data.get(WIRE_VERSION_KEY, 1)
    if isinstance(raw, bool) or not isinstance(raw, int) or raw < 1:
        raise UnsupportedVersion(f"bad version {raw!r}")
    return raw


def decode(data: Any) -> LiveEvent:
    """The typed message of a wire object; raises EventError (UnknownEventType,
    UnsupportedVersion) when it is not one this code can read."""
    if isinstance(data, _Message):
        return data  # type: ignore[return-value]
    if not isinstance(data, Mapping):
        raise EventError(f"not a JSON object: {type(data).__name__}")
    kind = data.get("type")
    cls = TYPES.get(kind) if isinstance(kind, str) else None
    if cls is None:
        raise UnknownEventType(f"unknown event type {kind!r}")
    version = version_of(data)
    if version > cls.VERSION:
        raise UnsupportedVersion(
            f"{kind} version {version} is newer than this code reads ({cls.VERSION})")
    try:
        return cls.from_wire(data)
    except EventError:
        raise
    except (TypeError, ValueError, KeyError) as err:
        raise EventError(f"{kind}: {err}") from err


def loads(raw: bytes | str) -> LiveEvent:
    """Decode the JSON text of one message."""
    try:
        data = json.loads(raw)
    except ValueError as err:
        raise EventError(f"not JSON: {err}") from err
    return decode(data)
