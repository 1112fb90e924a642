"""The device registry cache: which devices may send, refreshed periodically and on a miss."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from enum import Enum

import psycopg

log = logging.getLogger(__name__)

FAMILIES = ("environment", "disaster", "camera", "tourism")


@dataclass(frozen=True, slots=True)
class DeviceEntry:
    family: str
    enabled: bool


class Verdict(Enum):
    ACCEPT = "accept"
    REGISTER = "register"  # unknown, but auto_register is on and the family is known
    UNKNOWN = "unknown_device"
    DISABLED = "disabled_device"


def device_verdict(entry: DeviceEntry | None, *, auto_register: bool, family: str | None) -> Verdict:
    """May a message from this device be stored? (pure)"""
    if entry is not None:
        return Verdict.ACCEPT if entry.enabled else Verdict.DISABLED
    if auto_register and family is not None:
        return Verdict.REGISTER
    return Verdict.UNKNOWN


def family_from_topic(topic: str, fmt: str) -> str | None:
    """The family an auto-registered device gets: from `ioc/v1/<family>/<id>`, SenML and
    Frigate imply environment and camera; status and CAP topics say nothing."""
    if fmt == "frigate":
        return "camera"
    if fmt == "senml":
        return "environment"
    parts = topic.split("/", 3)
    if len(parts) == 4 and parts[0] == "ioc" and parts[2] in FAMILIES:
        return parts[2]
    return None


class DeviceRegistry:
    """device_id -> (family, enabled), loaded from `devices`; no per-message query.

    `due(misses)` says when to reload: every `refresh_s`, and sooner (at most every
    `miss_refresh_s`) when a batch names a device we do not know.
    """

    def __init__(
        self,
        *,
        refresh_s: float = 30.0,
        miss_refresh_s: float = 2.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.refresh_s = refresh_s
        self.miss_refresh_s = miss_refresh_s
        self.clock = clock
        self.devices: dict[str, DeviceEntry] = {}
        self.loaded_at: float | None = None

    def get(self, device_id: str) -> DeviceEntry | None:
        return self.devices.get(device_id)

    def misses(self, device_ids: Iterable[str]) -> bool:
        devices = self.devices
        return any(d not in devices for d in device_ids)

    def due(self, *, misses: bool) -> bool:
        if self.loaded_at is None:
            return True
        age = self.clock() - self.loaded_at
        return age >= self.refresh_s or (misses and age >= self.miss_refresh_s)

    def load(self, conn: psycopg.Connection) -> None:
        """Reload from the database (raises psycopg errors; the caller retries)."""
        with conn.transaction():
            rows = conn.execute("SELECT device_id, family, enabled FROM devices").fetchall()
        self.devices = {r[0]: DeviceEntry(r[1], bool(r[2])) for r in rows}
        self.loaded_at = self.clock()
        log.debug("device registry loaded: %d devices", len(self.devices))

    def load_missing(self, conn: psycopg.Connection, device_ids: Iterable[str]) -> None:
        """Look up just the devices we do not know (by primary key), between two full reloads:
        a station imported a moment after the last reload is not refused as unknown."""
        missing = sorted(d for d in device_ids if d not in self.devices)
        if not missing:
            return
        with conn.transaction():
            rows = conn.execute("SELECT device_id, family, enabled FROM devices "
                                "WHERE device_id = ANY(%s)", (missing,)).fetchall()
        for device_id, family, enabled in rows:
            self.devices[device_id] = DeviceEntry(family, bool(enabled))

    def add(self, device_id: str, family: str) -> None:
        """Remember a device we just registered ourselves."""
        self.devices[device_id] = DeviceEntry(family, True)
