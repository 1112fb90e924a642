"""Targets per plan period kept in the database: set, removed and merged over the catalogue."""

from __future__ import annotations

import datetime as dt
import logging

import psycopg

from ioc.security import audit
from kpi.catalogue import Catalogue, Target, Text

log = logging.getLogger(__name__)


class TargetError(ValueError):
    """A target that cannot be stored; the message says why."""


def stored_targets(conn: psycopg.Connection) -> dict[str, tuple[Target, ...]]:
    """Every stored target, by KPI id."""
    rows = conn.execute(
        "SELECT kpi_id, start, due, value, basis, document, note_vi, note_en "
        "FROM kpi_targets ORDER BY kpi_id, start"
    ).fetchall()
    out: dict[str, list[Target]] = {}
    for kpi_id, start, due, value, basis, document, note_vi, note_en in rows:
        note = Text(vi=note_vi, en=note_en or "") if note_vi else None
        out.setdefault(kpi_id, []).append(Target(value=value, start=start, due=due, basis=basis,
                                                 document=document, note=note))
    return {k: tuple(v) for k, v in out.items()}


def merge(catalogue: Catalogue, stored: dict[str, tuple[Target, ...]]) -> Catalogue:
    """The catalogue with stored targets replacing the file's for the same periods.

    A stored set that no longer fits (a KPI since removed, periods that overlap after the file
    changed) is left out with a warning rather than breaking the page.
    """
    if not stored:
        return catalogue
    kpis = []
    for kpi in catalogue.kpis:
        targets = stored.get(kpi.id)
        if targets:
            try:
                kpi = kpi.with_targets(targets)
            except ValueError as err:
                log.warning("stored targets of %s ignored: %s", kpi.id, err)
        kpis.append(kpi)
    return catalogue.model_copy(update={"kpis": tuple(kpis)})


def effective_catalogue(conn: psycopg.Connection, catalogue: Catalogue) -> Catalogue:
    """The catalogue as the page and the API judge with it: file plus stored targets."""
    return merge(catalogue, stored_targets(conn))


def set_target(conn: psycopg.Connection, catalogue: Catalogue, kpi_id: str, target: Target, *,
               actor: str) -> None:
    """Store (or replace) the target of `kpi_id` for the period starting `target.start`.

    TargetError when the KPI is unknown or the period overlaps another of its targets.
    The caller commits; the audit entry is in the same transaction.
    """
    kpi = catalogue.get(kpi_id)
    if kpi is None:
        raise TargetError(f"unknown KPI {kpi_id!r}")
    current = merge(catalogue, stored_targets(conn)).get(kpi_id)
    try:
        current.with_targets((target,))
    except ValueError as err:
        raise TargetError(f"{kpi_id}: {_first_line(err)}") from None
    conn.execute(
        "INSERT INTO kpi_targets (kpi_id, start, due, value, basis, document, note_vi, note_en, "
        "updated_by) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s) "
        "ON CONFLICT (kpi_id, start) DO UPDATE SET due = EXCLUDED.due, value = EXCLUDED.value, "
        "basis = EXCLUDED.basis, document = EXCLUDED.document, note_vi = EXCLUDED.note_vi, "
        "note_en = EXCLUDED.note_en, updated_by = EXCLUDED.updated_by, updated_at = now()",
        (kpi_id, target.start, target.due, target.value, target.basis, target.document,
         target.note.vi if target.note else None, target.note.en if target.note else None,
         actor),
    )
    audit.record(conn, actor, "kpi.target.set", kpi_id, {
        "start": target.start.isoformat(), "due": target.due.isoformat(),
        "value": target.value, "basis": target.basis, "document": target.document})


def remove_target(conn: psycopg.Connection, kpi_id: str, start: dt.date, *, actor: str) -> bool:
    """Remove a stored target (the file's target of that period, if any, applies again)."""
    row = conn.execute("DELETE FROM kpi_targets WHERE kpi_id = %s AND start = %s RETURNING value",
                       (kpi_id, start)).fetchone()
    if row is not None:
        audit.record(conn, actor, "kpi.target.remove", kpi_id, {"start": start.isoformat()})
    return row is not None


def _first_line(err: Exception) -> str:
    text = str(err)
    if "Value error, " in text:
        text = text.split("Value error, ", 1)[1]
    return text.splitlines()[0].strip()
