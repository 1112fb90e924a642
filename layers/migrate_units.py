"""`ioc units migrate`: move an installation's area keys from former districts to the units.

Before 1 July 2025 ioc keyed devices, alerts, hazard levels and KPI values by district. The
decisions here are pure (`plan_*`); `migrate_units` applies them in one audited transaction.
Running it again changes nothing (idempotent): only keys that are not units are looked at.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field

import psycopg

from ioc.security import audit

AUDIT_MIGRATE = "units.migrate"
UnitAt = Callable[[float, float], "str | None"]


@dataclass(frozen=True)
class Move:
    """One row's area key changed: which row, from what, to what."""

    key: str
    old: str | None
    new: str


@dataclass(frozen=True)
class MigrationPlan:
    """What a migration would change, and what it keeps as history (before 1 July 2025)."""

    devices: tuple[Move, ...] = ()
    alerts: tuple[Move, ...] = ()
    stale_levels: tuple[str, ...] = ()  # hazard levels under old keys: recomputed per unit
    kpi_history: Mapping[str, int] = field(default_factory=dict)  # old key -> values kept

    @property
    def changes(self) -> int:
        return len(self.devices) + len(self.alerts) + len(self.stale_levels)


def plan_devices(
    devices: Iterable[tuple[str, str | None, float | None, float | None]],
    unit_at: UnitAt,
    units: set[str],
) -> list[Move]:
    """Devices whose key is not a unit get the unit their position lies in.

    A device without a position, or outside every unit, keeps its key (it is reported).
    """
    moves = []
    for device_id, old, lon, lat in devices:
        if old in units or lon is None or lat is None:
            continue
        new = unit_at(lon, lat)
        if new is not None and new != old:
            moves.append(Move(device_id, old, new))
    return moves


def plan_alerts(
    alerts: Iterable[tuple[int, str | None, str | None]],
    device_units: Mapping[str, str | None],
    units: set[str],
) -> list[Move]:
    """Alerts whose key is not a unit take their device's unit (after the devices moved).

    An alert without a device (a CAP warning, a storm parent of a former district) keeps its
    former district: it is shown as before 1 July 2025.
    """
    moves = []
    for alert_id, old, device_id in alerts:
        if old in units or old is None or device_id is None:
            continue
        new = device_units.get(device_id)
        if new in units and new != old:
            moves.append(Move(str(alert_id), old, new))
    return moves


def plan(conn: psycopg.Connection, unit_at: UnitAt, units: set[str]) -> MigrationPlan:
    """Read the installation and decide; writes nothing."""
    devices = conn.execute("SELECT device_id, unit_id, lon, lat FROM devices").fetchall()
    device_moves = plan_devices(devices, unit_at, units)
    device_units = {d: u for d, u, _, _ in devices} | {m.key: m.new for m in device_moves}
    alerts = conn.execute(
        "SELECT id, unit_id, device_id FROM alerts WHERE unit_id IS NOT NULL"
    ).fetchall()
    levels = [
        u for (u,) in conn.execute("SELECT unit_id FROM unit_hazard_levels") if u not in units
    ]
    kpi = {
        u: n
        for u, n in conn.execute(
            "SELECT unit_id, count(*) FROM kpi_values WHERE unit_id <> '' GROUP BY unit_id"
        )
        if u not in units
    }
    return MigrationPlan(
        devices=tuple(device_moves),
        alerts=tuple(plan_alerts(alerts, device_units, units)),
        stale_levels=tuple(sorted(levels)),
        kpi_history=kpi,
    )


def apply(conn: psycopg.Connection, migration: MigrationPlan, *, actor: str) -> None:
    """Apply a plan in one transaction, with one `units.migrate` audit entry."""
    with conn.transaction():
        with conn.cursor() as cur:
            cur.executemany(
                "UPDATE devices SET unit_id = %s WHERE device_id = %s",
                [(m.new, m.key) for m in migration.devices],
            )
            cur.executemany(
                "UPDATE alerts SET unit_id = %s WHERE id = %s",
                [(m.new, int(m.key)) for m in migration.alerts],
            )
            cur.execute(
                "DELETE FROM unit_hazard_levels WHERE unit_id = ANY(%s)",
                (list(migration.stale_levels),),
            )
        audit.record(
            conn,
            actor,
            AUDIT_MIGRATE,
            "units",
            {
                "devices": len(migration.devices),
                "alerts": len(migration.alerts),
                "stale_levels_removed": list(migration.stale_levels),
                "kpi_values_kept_as_history": dict(migration.kpi_history),
                "device_moves": [[m.key, m.old, m.new] for m in migration.devices],
            },
        )


def report(migration: MigrationPlan, *, applied: bool) -> str:
    """What the command prints."""
    verb = "moved" if applied else "would move"
    lines = [
        f"devices: {len(migration.devices)} {verb} to the unit their position lies in",
        f"alerts: {len(migration.alerts)} {verb} to their device's unit",
        f"hazard levels under former keys: {len(migration.stale_levels)} "
        + ("removed (the alerts worker recomputes them per unit)" if applied else "to remove"),
    ]
    if migration.kpi_history:
        kept = ", ".join(f"{k} ({n})" for k, n in sorted(migration.kpi_history.items()))
        lines.append(f"KPI values kept as history, shown as before 1 July 2025: {kept}")
    if not migration.changes:
        lines.append("nothing to change: every area key is a unit")
    return "\n".join(lines)


def migrate_units(settings, *, actor: str, dry_run: bool = False) -> int:
    """The command: plan from the stored `units` layer, print, apply unless dry_run."""
    from ioc.commands import database
    from layers.catalog import UnitLocator
    from layers.store import load_layer

    with database(settings, "ioc-layers", "`ioc demo` starts an embedded database") as conn:
        collection = load_layer(conn, "units")
        if not collection["features"]:
            print("ioc units migrate: no `units` layer stored (run `ioc layers seed` or "
                  "`ioc layers import FILE --name units --kind units`)", file=sys.stderr)
            return 1
        locator = UnitLocator(collection)
        units = {str(f["properties"]["id"]) for f in collection["features"]}
        migration = plan(conn, locator.unit_at, units)
        if not dry_run and migration.changes:
            apply(conn, migration, actor=actor)
        conn.commit()
    print(report(migration, applied=not dry_run))
    return 0
