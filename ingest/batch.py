"""A batch of received messages and the write plan made from it (pure: no I/O)."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from ingest.records import (
    CameraEvent,
    CapAlert,
    DeviceStatus,
    Parsed,
    Reading,
    ReviewItem,
    Snapshot,
)
from ingest.registry import DeviceEntry, Verdict, device_verdict, family_from_topic


@dataclass(slots=True)
class Inbound:
    """One MQTT message as received: topic without the prefix, payload, and its ack handle."""

    topic: str
    payload: bytes
    received: float  # Unix seconds
    handle: Any = None  # what the receiver needs to acknowledge it
    generation: int = 0  # the broker connection it came in on
    control: Any = None  # a membership.View when this is a member-list control message


@dataclass(frozen=True, slots=True)
class Rejection:
    """Why a message goes to the dead-letter table."""

    reason: str
    reason_class: str  # payload, parser_bug, unknown_device, disabled_device, database
    format: str | None = None
    device_id: str | None = None


@dataclass(slots=True)
class Entry:
    """A received message with what parsing made of it: records, or a rejection."""

    inbound: Inbound
    parsed: Parsed | None = None
    rejection: Rejection | None = None

    @property
    def rows(self) -> int:
        return len(self.parsed.records) if self.parsed is not None else 1

    def device_ids(self) -> set[str]:
        """The devices this message speaks for (the topic's, or each Frigate record's)."""
        if self.parsed is None:
            return set()
        if self.parsed.device_id is not None:
            return {self.parsed.device_id}
        return {
            r.device_id
            for r in self.parsed.records
            if isinstance(r, (Reading, CameraEvent, Snapshot, ReviewItem, DeviceStatus))
        }


@dataclass(frozen=True, slots=True)
class DeadLetter:
    topic: str
    payload: bytes
    payload_size: int
    reason: str
    reason_class: str
    format: str | None
    device_id: str | None
    digest: bytes  # sha256(topic NUL payload): the same message is dead-lettered once


def message_digest(topic: str, payload: bytes) -> bytes:
    return hashlib.sha256(topic.encode() + b"\x00" + payload).digest()


def dead_letter(inbound: Inbound, rejection: Rejection, payload_cap: int) -> DeadLetter:
    return DeadLetter(
        topic=inbound.topic,
        payload=inbound.payload[:payload_cap],
        payload_size=len(inbound.payload),
        reason=rejection.reason.replace("\x00", "")[:1000],
        reason_class=rejection.reason_class,
        format=rejection.format,
        device_id=rejection.device_id,
        digest=message_digest(inbound.topic, inbound.payload),
    )


@dataclass
class WritePlan:
    """Everything one transaction writes for a list of messages."""

    entries: list[Entry]
    readings: list[Reading] = field(default_factory=list)
    camera_events: list[CameraEvent] = field(default_factory=list)
    snapshots: list[Snapshot] = field(default_factory=list)
    reviews: list[ReviewItem] = field(default_factory=list)
    caps: list[CapAlert] = field(default_factory=list)
    statuses: list[DeviceStatus] = field(default_factory=list)
    dead_letters: list[DeadLetter] = field(default_factory=list)
    new_devices: dict[str, str] = field(default_factory=dict)  # device_id -> family
    control: Any = None  # the last member list (membership.View) among the entries

    @property
    def stored_records(self) -> int:
        return (
            len(self.readings) + len(self.camera_events) + len(self.snapshots)
            + len(self.reviews) + len(self.caps) + len(self.statuses)
        )


_SINKS = {
    Reading: "readings",
    CameraEvent: "camera_events",
    Snapshot: "snapshots",
    ReviewItem: "reviews",
    CapAlert: "caps",
    DeviceStatus: "statuses",
}


def admission(
    entry: Entry,
    lookup: Callable[[str], DeviceEntry | None],
    auto_register: bool,
) -> tuple[Rejection | None, dict[str, str]]:
    """(why the message is refused, devices to register) from the registry (pure)."""
    parsed = entry.parsed
    assert parsed is not None
    family = None
    register: dict[str, str] = {}
    for device_id in entry.device_ids():
        known = lookup(device_id)
        if known is not None and known.enabled:
            continue
        if known is None and family is None:
            family = family_from_topic(entry.inbound.topic, parsed.format)
        verdict = device_verdict(known, auto_register=auto_register, family=family)
        if verdict is Verdict.REGISTER:
            register[device_id] = family  # type: ignore[assignment]
        elif verdict is Verdict.DISABLED:
            return Rejection(f"device {device_id} is disabled", "disabled_device",
                             parsed.format, device_id), {}
        elif verdict is Verdict.UNKNOWN:
            # Status messages of unknown devices are harmless when auto-registering (demo).
            if auto_register and parsed.format == "status":
                continue
            return Rejection(f"unknown device {device_id} (not in the device registry)",
                             "unknown_device", parsed.format, device_id), {}
    return None, register


def build_plan(
    entries: Iterable[Entry],
    lookup: Callable[[str], DeviceEntry | None],
    *,
    auto_register: bool,
    payload_cap: int,
) -> WritePlan:
    """Sort the records of accepted messages by table; rejected messages become dead letters."""
    plan = WritePlan(entries=list(entries))
    readings = plan.readings
    for entry in plan.entries:
        if entry.inbound.control is not None:  # a member list: the worker records its view
            plan.control = entry.inbound.control
            continue
        rejection = entry.rejection
        register: dict[str, str] = {}
        if rejection is None:
            rejection, register = admission(entry, lookup, auto_register)
        if rejection is not None:
            plan.dead_letters.append(dead_letter(entry.inbound, rejection, payload_cap))
            continue
        plan.new_devices.update(register)
        for record in entry.parsed.records:  # type: ignore[union-attr]
            if type(record) is Reading:
                readings.append(record)
            else:
                getattr(plan, _SINKS[type(record)]).append(record)
    return plan


def reject_all(entries: Iterable[Entry], rejection: Rejection, payload_cap: int) -> WritePlan:
    """A plan that only dead-letters these messages (when the database refused their rows)."""
    plan = WritePlan(entries=list(entries))
    plan.dead_letters = [dead_letter(e.inbound, rejection, payload_cap) for e in plan.entries]
    return plan
