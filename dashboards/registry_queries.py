"""What the device registry page shows and does: each device's state (online, silent, never
connected, retired), filters, last readings, and the admin actions (edit, alarm levels,
retire, restore, MQTT password), tested without a browser."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, NamedTuple

import psycopg

from dashboards.classify import is_silent
from ioc.config.models import DevicesSettings
from ioc.devices import credentials as creds
from ioc.devices.store import (
    DeviceError,
    DeviceRecord,
    edit_device,
    get_device,
    list_devices,
    restore_device,
    retire_device,
)

STATES = ("online", "silent", "never", "retired")


@dataclass(frozen=True)
class RegistryRow:
    device: DeviceRecord
    state: str
    last_seen: float | None


def device_state(device: DeviceRecord, last_seen: float | None, now: float) -> str:
    """online, silent, never (connected) or retired, as the silence rule sees it (pure)."""
    if device.retired:
        return "retired"
    if last_seen is None:
        return "never"
    if not device.metadata.get("event_driven") and is_silent(
            last_seen, device.expected_interval_s, now):
        return "silent"
    return "online"


def registry_rows(devices: Iterable[DeviceRecord], last_seen: Mapping[str, float],
                  now: float) -> list[RegistryRow]:
    return [RegistryRow(d, device_state(d, last_seen.get(d.device_id), now),
                        last_seen.get(d.device_id)) for d in devices]


def filter_rows(rows: Iterable[RegistryRow], *, text: str | None = None,
                families: Iterable[str] | None = None, units: Iterable[str] | None = None,
                states: Iterable[str] | None = None) -> list[RegistryRow]:
    """Rows matching every filter given; text in the id or the name, case-insensitive (pure)."""
    needle = (text or "").strip().casefold()
    families, units, states = set(families or ()), set(units or ()), set(states or ())
    return [
        r for r in rows
        if (not needle or needle in r.device.device_id.casefold()
            or needle in r.device.name.casefold())
        and (not families or r.device.family in families)
        and (not units or (r.device.unit or "") in units)
        and (not states or r.state in states)
    ]


def state_counts(rows: Iterable[RegistryRow]) -> dict[str, int]:
    counts = dict.fromkeys(STATES, 0)
    for r in rows:
        counts[r.state] += 1
    return counts


def load_rows(conn: psycopg.Connection, last_seen: Mapping[str, float],
              now: float) -> list[RegistryRow]:
    return registry_rows(list_devices(conn), last_seen, now)


def last_readings(conn: psycopg.Connection, device_id: str, *,
                  days: int = 7) -> list[tuple[str, float | None, str | None, dt.datetime]]:
    """The newest value of each metric of the device in the last `days` (primary-key scan)."""
    return [(metric, value if value is not None else text, unit, at)
            for metric, value, text, unit, at in conn.execute(
                "SELECT DISTINCT ON (metric) metric, value, value_text, unit, time "
                "FROM readings WHERE device_id = %s AND time > now() - make_interval(days => %s) "
                "ORDER BY metric, time DESC", (device_id, days))]


# -- admin actions ---------------------------------------------------------------------------
class Outcome(NamedTuple):
    """What an action did: `key` names the message (devices.reg.msg.<key> in the page's
    texts), `detail` adds the specifics (a field and why, what was changed)."""

    ok: bool
    key: str
    detail: str = ""
    password: str | None = None  # shown once, then gone


def _number(text: Any, name: str) -> float | None:
    if text is None or str(text).strip() == "":
        return None
    try:
        return float(str(text).replace(",", "."))
    except ValueError:
        raise DeviceError(f"{name}: not a number: {text!r}") from None


def form_changes(device: DeviceRecord, form: Mapping[str, Any]) -> dict[str, Any]:
    """The edit a submitted form asks for (pure): DeviceError naming a bad field."""
    changes: dict[str, Any] = {}
    name = (form.get("name") or "").strip()
    if name and name != device.name:
        changes["name"] = name
    unit = (form.get("unit") or "").strip() or None
    if unit != device.unit:
        changes["unit"] = unit
    lon, lat = _number(form.get("lon"), "lon"), _number(form.get("lat"), "lat")
    if (lon is None) != (lat is None):
        raise DeviceError("lon, lat: give both or neither")
    if (lon, lat) != (device.lon, device.lat) and lon is not None:
        changes["location"] = {"lon": lon, "lat": lat}
    interval = _number(form.get("interval"), "expected_interval_s")
    if interval is not None and interval != device.expected_interval_s:
        changes["expected_interval_s"] = int(interval) if interval == int(interval) else interval
    raw = (form.get("metadata") or "").strip()
    current = {k: v for k, v in device.metadata.items()
               if k not in ("alarm_levels", "alarm_levels_version")}
    if raw:
        try:
            metadata = json.loads(raw)
        except ValueError as err:
            raise DeviceError(f"metadata: not valid JSON ({err.msg})") from None
        if not isinstance(metadata, dict):
            raise DeviceError("metadata: expected a JSON object")
        metadata.pop("alarm_levels", None)
        metadata.pop("alarm_levels_version", None)
        if metadata != current:
            changes["metadata"] = {**dict.fromkeys(current), **metadata}
    levels = [_number(form.get(k), f"alarm level {k[-1:]}") for k in
              ("level_1", "level_2", "level_3")]
    if any(v is not None for v in levels):
        if any(v is None for v in levels):
            raise DeviceError("alarm levels: give I, II and III")
        new = {"I": levels[0], "II": levels[1], "III": levels[2]}
        if new != device.metadata.get("alarm_levels"):
            changes.setdefault("metadata", {})["alarm_levels"] = new
    return changes


def apply_action(conn: psycopg.Connection, action: str, device_id: str | None,
                 form: Mapping[str, Any], *, actor: str,
                 devices_settings: DevicesSettings) -> Outcome:
    """One admin action from the page; commits its own transaction. Never raises DeviceError."""
    if not device_id:
        return Outcome(False, "pick")
    reason = (form.get("reason") or "").strip() or None
    try:
        device = get_device(conn, device_id)
        conn.commit()  # each change below is its own transaction, committed before a reload
        if device is None:
            return Outcome(False, "error", f"no device {device_id!r}")
        if action == "save":
            changes = form_changes(device, form)
            if not changes:
                return Outcome(True, "unchanged")
            levels = (changes.get("metadata") or {}).get("alarm_levels")
            if levels is not None and not reason:
                return Outcome(False, "reason_levels")
            edit_device(conn, device_id, changes, actor=actor, reason=reason)
            what = [k for k in changes if k != "metadata"] + list(changes.get("metadata") or ())
            return Outcome(True, "saved", ", ".join(sorted(what)))
        if action == "retire":
            if not reason:
                return Outcome(False, "reason_retire")
            retire_device(conn, device_id, actor=actor, reason=reason)
            revoked = creds.revoke_on_retire(conn, devices_settings, device_id, actor=actor)
            return Outcome(True, "retired_revoked" if revoked else "retired")
        if action == "restore":
            restore_device(conn, device_id, actor=actor, reason=reason)
            return Outcome(True, "restored")
        if action in creds.ACTIONS:
            change = creds.change_credential(conn, devices_settings, device_id, action,
                                             actor=actor)
            return Outcome(True, f"cred_{action}", change.reloaded, change.password)
        return Outcome(False, "error", f"unknown action {action!r}")
    except DeviceError as err:
        conn.rollback()
        return Outcome(False, "error", str(err))
