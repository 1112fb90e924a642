"""Typed records produced by the payload parsers, and the permanent payload error."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

__all__ = [
    "CameraEvent",
    "FrozenDict",
    "CapAlert",
    "DeviceStatus",
    "Parsed",
    "PayloadError",
    "Reading",
    "Record",
    "ReviewItem",
    "Snapshot",
]


class FrozenDict(dict):
    """A read-only, hashable dict: keeps records immutable yet JSON-serialisable as they are.

    Nested dicts and lists are frozen too (lists become tuples), so `json.dumps(record.data)`
    and psycopg's `Jsonb(record.data)` work without conversion.
    """

    __slots__ = ()

    def __init__(self, *args, **kwargs) -> None:
        super().__init__({k: _freeze(v) for k, v in dict(*args, **kwargs).items()})

    def _readonly(self, *args, **kwargs):
        raise TypeError("FrozenDict is read-only")

    __setitem__ = __delitem__ = __ior__ = _readonly  # type: ignore[assignment]
    clear = pop = popitem = setdefault = update = _readonly  # type: ignore[assignment]

    def __hash__(self) -> int:  # type: ignore[override]
        return hash(frozenset(self.items()))

    def __reduce__(self):
        return (FrozenDict, (dict(self),))

    def __repr__(self) -> str:
        return f"FrozenDict({dict.__repr__(self)})"


def _freeze(value):
    if isinstance(value, FrozenDict):
        return value
    if isinstance(value, dict):
        return FrozenDict(value)
    if isinstance(value, list | tuple):
        return tuple(_freeze(v) for v in value)
    return value


@dataclass(frozen=True, slots=True)
class Reading:
    """One numeric or text value of one metric of one device at one time (UTC)."""

    device_id: str
    metric: str
    time: datetime
    value: float | None
    value_text: str | None = None
    unit: str | None = None


@dataclass(frozen=True, slots=True)
class CameraEvent:
    """One state of a camera incident (our JSON or Frigate), merged by (source, event_id)."""

    source: str  # "ioc" | "frigate"
    event_id: str
    device_id: str
    phase: str  # new | update | end
    label: str
    confidence: float | None
    top_confidence: float | None
    started_at: datetime
    ended_at: datetime | None
    time: datetime
    zones: tuple[str, ...] = ()
    plate: str | None = None
    plate_confidence: float | None = None
    snapshot_ref: str | None = None
    false_positive: bool = False
    data: Mapping = field(default_factory=FrozenDict)


@dataclass(frozen=True, slots=True)
class Snapshot:
    """Image bytes for content-addressed storage (sha256 of the content)."""

    device_id: str
    label: str | None
    content: bytes
    sha256: str
    content_type: str
    time: datetime


@dataclass(frozen=True, slots=True)
class ReviewItem:
    """One state of a Frigate review item (frigate/reviews)."""

    review_id: str
    device_id: str
    phase: str
    severity: str
    event_ids: tuple[str, ...]
    time: datetime
    data: Mapping


@dataclass(frozen=True, slots=True)
class CapAlert:
    """A validated CAP 1.2 message."""

    identifier: str
    sender: str
    sent: datetime
    status: str
    msg_type: str
    scope: str
    references: tuple[tuple[str, str, str], ...]
    xml: str
    info: tuple[Mapping, ...]


@dataclass(frozen=True, slots=True)
class DeviceStatus:
    """A device (or Frigate) went online or offline."""

    device_id: str
    online: bool
    time: datetime


Record = Reading | CameraEvent | Snapshot | ReviewItem | CapAlert | DeviceStatus


@dataclass(frozen=True, slots=True)
class Parsed:
    """The result of parsing one MQTT message."""

    format: str  # "ioc-json" | "senml" | "frigate" | "cap" | "status"
    device_id: str | None  # the device the topic names (None for cap, frigate/reviews)
    records: tuple[Record, ...]
    seq: int | None = None  # the sender's sequence number (own JSON `seq`), when given


class PayloadError(Exception):
    """A permanent payload problem: the message goes to the dead-letter table with `reason`."""

    def __init__(
        self, reason: str, *, format: str | None = None, device_id: str | None = None
    ) -> None:
        super().__init__(reason)
        self.reason = reason
        self.format = format
        self.device_id = device_id

    def __str__(self) -> str:
        return self.reason

    def __reduce__(self):
        return (_payload_error, (self.reason, self.format, self.device_id))

    def __repr__(self) -> str:
        return (
            f"PayloadError({self.reason!r}, format={self.format!r}, "
            f"device_id={self.device_id!r})"
        )


def _payload_error(reason: str, format: str | None, device_id: str | None) -> PayloadError:
    return PayloadError(reason, format=format, device_id=device_id)
