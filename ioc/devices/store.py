"""The devices table as a province's registry: import, edit, retire, restore, alarm-level history.

Every change is audited in its own transaction. Import stages all rows with COPY and applies
them in a few set-based statements, so 10,000 devices take seconds (bench/devices.py).
Retiring a device sets `enabled = false` (ingest refuses its messages, the rules and the
silence check skip it) and records who, when and why; its readings and alerts stay.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import psycopg
from psycopg import sql
from psycopg.types.json import Jsonb

from ioc.devices.model import AlarmLevels, Location, RegistryEntry, metadata_model
from ioc.security import audit

AUDIT_IDS_MAX = 200  # device ids listed in one audit entry; the counts are always complete
STATES = ("active", "retired")


class DeviceError(ValueError):
    """A change that cannot be made; the message says why."""


@dataclass(frozen=True)
class ImportResult:
    rows: int
    created: tuple[str, ...] = ()
    updated: tuple[str, ...] = ()
    levels_changed: tuple[str, ...] = ()
    retired_in_file: tuple[str, ...] = ()

    @property
    def unchanged(self) -> int:
        return self.rows - len(self.created) - len(self.updated)

    def summary(self) -> str:
        text = (f"{self.rows} device(s): {len(self.created)} new, {len(self.updated)} updated, "
                f"{self.unchanged} unchanged; alarm levels changed at "
                f"{len(self.levels_changed)} station(s)")
        if self.retired_in_file:
            text += (f"; {len(self.retired_in_file)} retired device(s) updated but still retired "
                     "(`ioc devices restore ID`)")
        return text


@dataclass(frozen=True)
class DeviceRecord:
    """A device as stored, with its retirement and credential state."""

    device_id: str
    name: str
    family: str
    kind: str
    unit: str | None  # column devices.unit_id: the commune-level unit's code
    lon: float | None
    lat: float | None
    expected_interval_s: int
    metadata: dict[str, Any]
    enabled: bool
    created_at: dt.datetime
    updated_at: dt.datetime
    retired_at: dt.datetime | None = None
    retired_by: str | None = None
    retire_reason: str | None = None
    credential: str | None = None  # 'active', 'revoked' or None (never issued)
    credential_changed_at: dt.datetime | None = None

    @property
    def retired(self) -> bool:
        return self.retired_at is not None

    def entry(self) -> RegistryEntry:
        """The device in the registry format (what `ioc devices edit` and export write)."""
        meta = {k: v for k, v in self.metadata.items() if k != "alarm_levels_version"}
        return RegistryEntry(
            id=self.device_id, name=self.name, family=self.family, kind=self.kind,
            unit=self.unit, expected_interval_s=self.expected_interval_s, metadata=meta,
            location=Location(lon=self.lon, lat=self.lat)
            if self.lon is not None and self.lat is not None else None)


@dataclass(frozen=True)
class LevelsVersion:
    version: int
    levels: AlarmLevels
    datum: str | None
    changed_by: str
    changed_at: dt.datetime
    reason: str | None


_STAGE_COLUMNS = ("device_id", "family", "kind", "name", "lon", "lat", "unit_id", "metadata",
                  "expected_interval_s", "level_1", "level_2", "level_3", "datum")


def _stage_row(e: RegistryEntry) -> tuple:
    levels = e.alarm_levels
    return (e.id, e.device_family, e.kind, e.name,
            e.location.lon if e.location else None, e.location.lat if e.location else None,
            e.unit, json.dumps(e.metadata, ensure_ascii=False, sort_keys=True), e.interval_s,
            *(levels.as_tuple() if levels else (None, None, None)),
            e.metadata.get("datum") if levels else None)


def import_entries(conn: psycopg.Connection, entries: Sequence[RegistryEntry], *, actor: str,
                   source: str, reason: str | None = None) -> ImportResult:
    """Insert new devices and update changed ones, all in one transaction; audited.

    The entries must be valid (ioc.devices.formats checks them). A device not in the file is
    left as it is; a retired device in the file is updated but stays retired.
    """
    with conn.transaction():
        conn.execute(
            "CREATE TEMP TABLE devices_staged (device_id text PRIMARY KEY, family text, "
            "kind text, name text, lon double precision, lat double precision, unit_id text, "
            "metadata jsonb, expected_interval_s integer, level_1 double precision, "
            "level_2 double precision, level_3 double precision, datum text) ON COMMIT DROP")
        with conn.cursor().copy(
                sql.SQL("COPY devices_staged ({}) FROM STDIN").format(
                    sql.SQL(", ").join(map(sql.Identifier, _STAGE_COLUMNS)))) as copy:
            for e in entries:
                copy.write_row(_stage_row(e))
        changed = conn.execute(
            "INSERT INTO devices AS d (device_id, family, kind, name, lon, lat, unit_id, "
            "metadata, expected_interval_s) SELECT device_id, family, kind, name, lon, lat, "
            "unit_id, "
            "metadata, expected_interval_s FROM devices_staged "
            "ON CONFLICT (device_id) DO UPDATE SET family = EXCLUDED.family, "
            "kind = EXCLUDED.kind, name = EXCLUDED.name, lon = EXCLUDED.lon, lat = EXCLUDED.lat, "
            "unit_id = EXCLUDED.unit_id, metadata = EXCLUDED.metadata || "
            "  coalesce(jsonb_build_object('alarm_levels_version', "
            "           d.metadata->'alarm_levels_version'), '{}'::jsonb), "
            "expected_interval_s = EXCLUDED.expected_interval_s, updated_at = now() "
            "WHERE (d.family, d.kind, d.name, d.lon, d.lat, d.unit_id, "
            "       d.metadata - 'alarm_levels_version', d.expected_interval_s) "
            "  IS DISTINCT FROM (EXCLUDED.family, EXCLUDED.kind, EXCLUDED.name, EXCLUDED.lon, "
            "       EXCLUDED.lat, EXCLUDED.unit_id, EXCLUDED.metadata, "
            "       EXCLUDED.expected_interval_s) "
            "RETURNING d.device_id, (xmax = 0) AS inserted, d.retired_at IS NOT NULL"
        ).fetchall()
        levels = _record_levels(conn, actor, reason or f"import {source}")
        created = tuple(sorted(r[0] for r in changed if r[1]))
        updated = tuple(sorted(r[0] for r in changed if not r[1]))
        retired = tuple(sorted(r[0] for r in changed if r[2]))
        result = ImportResult(len(entries), created, updated, levels, retired)
        audit.record(conn, actor, "device.import", source, {
            "rows": result.rows, "created": len(created), "updated": len(updated),
            "unchanged": result.unchanged, "levels_changed": len(levels),
            "created_ids": list(created[:AUDIT_IDS_MAX]),
            "updated_ids": list(updated[:AUDIT_IDS_MAX]),
            "levels_changed_ids": list(levels[:AUDIT_IDS_MAX]), "reason": reason})
    return result


def _record_levels(conn: psycopg.Connection, actor: str, reason: str) -> tuple[str, ...]:
    """A new history version for each staged station whose levels differ from its last one;
    then devices.metadata.alarm_levels_version follows the history. Returns the changed ids."""
    rows = conn.execute(
        "INSERT INTO device_alarm_levels (device_id, version, level_1, level_2, level_3, datum, "
        "changed_by, reason) "
        "SELECT s.device_id, coalesce(cur.version, 0) + 1, s.level_1, s.level_2, s.level_3, "
        "s.datum, %s, %s FROM devices_staged s LEFT JOIN LATERAL ("
        "  SELECT version, level_1, level_2, level_3 FROM device_alarm_levels h "
        "  WHERE h.device_id = s.device_id ORDER BY version DESC LIMIT 1) cur ON true "
        "WHERE s.level_1 IS NOT NULL AND (cur.version IS NULL OR "
        "  (cur.level_1, cur.level_2, cur.level_3) IS DISTINCT FROM "
        "  (s.level_1, s.level_2, s.level_3)) "
        "RETURNING device_id, version", (actor, reason)).fetchall()
    if rows:
        conn.execute(
            "UPDATE devices d SET metadata = d.metadata || "
            "jsonb_build_object('alarm_levels_version', v.version), updated_at = now() "
            "FROM (SELECT unnest(%s::text[]) AS device_id, unnest(%s::int[]) AS version) v "
            "WHERE d.device_id = v.device_id",
            ([r[0] for r in rows], [r[1] for r in rows]))
    return tuple(sorted(r[0] for r in rows))


_SELECT = (
    "SELECT d.device_id, d.name, d.family, d.kind, d.unit_id, d.lon, d.lat, "
    "d.expected_interval_s, "
    "d.metadata, d.enabled, d.created_at, d.updated_at, d.retired_at, d.retired_by, "
    "d.retire_reason, c.state, c.changed_at FROM devices d "
    "LEFT JOIN device_credentials c ON c.device_id = d.device_id")


def _record(row: Sequence[Any]) -> DeviceRecord:
    return DeviceRecord(*row[:8], row[8] or {}, *row[9:])


@dataclass(frozen=True)
class DeviceFilter:
    text: str | None = None  # in id or name, case-insensitive
    families: tuple[str, ...] = ()
    units: tuple[str, ...] = ()
    kinds: tuple[str, ...] = ()
    state: str | None = None  # 'active' or 'retired'
    ids: tuple[str, ...] = field(default=())


def list_devices(conn: psycopg.Connection, flt: DeviceFilter = DeviceFilter(), *,
                 limit: int | None = None) -> list[DeviceRecord]:
    where: list[sql.Composable] = []
    params: list[Any] = []
    if flt.text:
        pattern = "%" + flt.text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        where.append(sql.SQL("(d.device_id ILIKE %s OR d.name ILIKE %s)"))
        params += [pattern, pattern]
    for column, values in (("family", flt.families), ("unit_id", flt.units), ("kind", flt.kinds),
                           ("device_id", flt.ids)):
        if values:
            where.append(sql.SQL("d.{} = ANY(%s)").format(sql.Identifier(column)))
            params.append(list(values))
    if flt.state == "retired":
        where.append(sql.SQL("d.retired_at IS NOT NULL"))
    elif flt.state == "active":
        where.append(sql.SQL("d.retired_at IS NULL"))
    query = sql.SQL(_SELECT)
    if where:
        query += sql.SQL(" WHERE ") + sql.SQL(" AND ").join(where)
    query += sql.SQL(" ORDER BY d.device_id")
    if limit is not None:
        query += sql.SQL(" LIMIT %s")
        params.append(limit)
    return [_record(r) for r in conn.execute(query, params)]


def get_device(conn: psycopg.Connection, device_id: str) -> DeviceRecord | None:
    row = conn.execute(sql.SQL(_SELECT + " WHERE d.device_id = %s"), (device_id,)).fetchone()
    return _record(row) if row else None


def _need(conn: psycopg.Connection, device_id: str, *, lock: bool = False) -> DeviceRecord:
    if lock:
        conn.execute("SELECT 1 FROM devices WHERE device_id = %s FOR UPDATE", (device_id,))
    device = get_device(conn, device_id)
    if device is None:
        raise DeviceError(f"no device {device_id!r}")
    return device


def level_history(conn: psycopg.Connection, device_id: str) -> list[LevelsVersion]:
    """Every version of the station's alarm levels, newest first."""
    return [
        LevelsVersion(v, AlarmLevels(I=a, II=b, III=c), datum, by, at, why)
        for v, a, b, c, datum, by, at, why in conn.execute(
            "SELECT version, level_1, level_2, level_3, datum, changed_by, changed_at, reason "
            "FROM device_alarm_levels WHERE device_id = %s ORDER BY version DESC", (device_id,))
    ]


EDITABLE = ("name", "unit", "location", "expected_interval_s", "metadata")


def edit_device(conn: psycopg.Connection, device_id: str, changes: dict[str, Any], *,
                actor: str, reason: str | None = None) -> DeviceRecord:
    """Change some fields of one device (checked as a whole registry entry); audited. A change
    of alarm levels adds a version to their history with `reason`."""
    unknown = sorted(set(changes) - set(EDITABLE))
    if unknown:
        raise DeviceError(f"cannot edit {', '.join(unknown)} (editable: {', '.join(EDITABLE)})")
    with conn.transaction():
        device = _need(conn, device_id, lock=True)
        current = device.entry().model_dump(mode="json", exclude_none=True)
        merged = {**current, **changes}
        if "metadata" in changes and changes["metadata"] is not None:
            merged["metadata"] = {**current.get("metadata", {}), **changes["metadata"]}
            merged["metadata"] = {k: v for k, v in merged["metadata"].items() if v is not None}
        entry = check_entry(merged)
        before = {k: current.get(k) for k in changes}
        import_entries_one(conn, entry, actor=actor, reason=reason)
        audit.record(conn, actor, "device.edit", device_id, {
            "changes": changes, "before": before, "reason": reason})
        return _need(conn, device_id)


def check_entry(data: dict[str, Any]) -> RegistryEntry:
    """One entry validated like a row of a file; DeviceError naming every bad field."""
    from ioc.devices.formats import check_data

    found = check_data(data)
    if isinstance(found, RegistryEntry):
        return found
    raise DeviceError("; ".join(f"{p.field}: {p.message}" if p.field else p.message
                                for p in found))


def import_entries_one(conn: psycopg.Connection, entry: RegistryEntry, *, actor: str,
                       reason: str | None) -> None:
    """Write one checked entry (an edit) and version its levels; the caller audits."""
    levels = entry.alarm_levels
    conn.execute(
        "UPDATE devices SET name = %s, unit_id = %s, lon = %s, lat = %s, "
        "expected_interval_s = %s, "
        "metadata = %s || coalesce(jsonb_build_object('alarm_levels_version', "
        "metadata->'alarm_levels_version'), '{}'::jsonb), updated_at = now() "
        "WHERE device_id = %s",
        (entry.name, entry.unit, entry.location.lon if entry.location else None,
         entry.location.lat if entry.location else None, entry.interval_s,
         Jsonb(entry.metadata), entry.id))
    if levels is not None:
        set_alarm_levels(conn, entry.id, levels, actor=actor, reason=reason,
                         datum=entry.metadata.get("datum"), _audit=False)


def set_alarm_levels(conn: psycopg.Connection, device_id: str, levels: AlarmLevels, *,
                     actor: str, reason: str | None, datum: str | None = None,
                     _audit: bool = True) -> int | None:
    """A new version of the station's levels when they differ from the current one; returns
    the new version (None when unchanged). Audited unless part of an edit."""
    with conn.transaction():
        device = _need(conn, device_id, lock=True)
        model = metadata_model(device.kind)
        if "alarm_levels" not in model.model_fields:
            raise DeviceError(f"{device_id} is a {device.kind}: it has no alarm levels")
        last = conn.execute(
            "SELECT version, level_1, level_2, level_3 FROM device_alarm_levels "
            "WHERE device_id = %s ORDER BY version DESC LIMIT 1", (device_id,)).fetchone()
        if last is not None and tuple(last[1:]) == levels.as_tuple():
            return None
        version = (last[0] if last else 0) + 1
        datum = datum or device.metadata.get("datum")
        conn.execute(
            "INSERT INTO device_alarm_levels (device_id, version, level_1, level_2, level_3, "
            "datum, changed_by, reason) VALUES (%s, %s, %s, %s, %s, %s, %s, %s)",
            (device_id, version, *levels.as_tuple(), datum, actor, reason))
        conn.execute(
            "UPDATE devices SET metadata = metadata || jsonb_build_object('alarm_levels', "
            "%s::jsonb, 'alarm_levels_version', %s::int), updated_at = now() "
            "WHERE device_id = %s",
            (json.dumps(levels.model_dump()), version, device_id))
        if _audit:
            audit.record(conn, actor, "device.alarm_levels", device_id, {
                "version": version, "levels": levels.model_dump(), "reason": reason,
                "before": dict(zip(("I", "II", "III"), last[1:], strict=True)) if last else None})
    return version


def retire_device(conn: psycopg.Connection, device_id: str, *, actor: str,
                  reason: str) -> DeviceRecord:
    """Stop a device: no more readings accepted, no alerts, never 'silent'; history kept."""
    if not reason.strip():
        raise DeviceError("say why the device is retired (--reason)")
    with conn.transaction():
        device = _need(conn, device_id, lock=True)
        if device.retired:
            raise DeviceError(f"{device_id} is already retired (since {device.retired_at:%Y-%m-%d})")
        conn.execute(
            "UPDATE devices SET enabled = false, retired_at = now(), retired_by = %s, "
            "retire_reason = %s, updated_at = now() WHERE device_id = %s",
            (actor, reason, device_id))
        audit.record(conn, actor, "device.retire", device_id, {"reason": reason})
    return _need(conn, device_id)


def restore_device(conn: psycopg.Connection, device_id: str, *, actor: str,
                   reason: str | None = None) -> DeviceRecord:
    with conn.transaction():
        device = _need(conn, device_id, lock=True)
        if not device.retired:
            raise DeviceError(f"{device_id} is not retired")
        conn.execute(
            "UPDATE devices SET enabled = true, retired_at = NULL, retired_by = NULL, "
            "retire_reason = NULL, updated_at = now() WHERE device_id = %s", (device_id,))
        audit.record(conn, actor, "device.restore", device_id, {
            "reason": reason, "retired_at": device.retired_at, "retired_by": device.retired_by,
            "retire_reason": device.retire_reason})
    return _need(conn, device_id)


def counts(conn: psycopg.Connection) -> dict[str, int]:
    """Devices per state, for summaries."""
    row = conn.execute(
        "SELECT count(*) FILTER (WHERE retired_at IS NULL), count(*) FILTER (WHERE retired_at "
        "IS NOT NULL) FROM devices").fetchone()
    return {"active": row[0], "retired": row[1]}


def ids(entries: Iterable[RegistryEntry]) -> list[str]:
    return [e.id for e in entries]
