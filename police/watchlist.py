"""Plate watchlists kept by the police: add, remove, list (every change audited).

Plates are compared by their key (evidence.privacy.plate_key: upper-case letters and
digits), so '24A-686.68', '24a 686 68' and '24A68668' are one entry. Removing keeps the row
(who added it, why, until when, who removed it); the audit log has both changes.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from psycopg import sql

from evidence.privacy import plate_key
from ioc.security import audit
from police import queue
from police.rules import QueueRules

MAX_PLATE = 32
MAX_REASON = 500


class WatchlistError(Exception):
    """A watchlist change that cannot be made as asked (the message says why)."""


@dataclass(frozen=True)
class WatchEntry:
    id: int
    plate: str
    plate_key: str
    reason: str
    added_by: str
    added_at: dt.datetime
    expires_at: dt.datetime | None
    removed_by: str | None
    removed_at: dt.datetime | None

    def live(self, now: dt.datetime) -> bool:
        return self.removed_at is None and (self.expires_at is None or self.expires_at > now)


_COLUMNS = sql.SQL("id, plate, plate_key, reason, added_by, added_at, expires_at, "
                   "removed_by, removed_at")


def check_plate(plate: str | None) -> str:
    """The plate's key, or WatchlistError naming what is wrong (pure)."""
    text = (plate or "").strip()
    if not text:
        raise WatchlistError("plate: empty")
    if len(text) > MAX_PLATE:
        raise WatchlistError(f"plate: longer than {MAX_PLATE} characters")
    key = plate_key(text)
    if key is None or len(key) < 4:
        raise WatchlistError(f"plate: {text!r} has fewer than 4 letters or digits")
    return key


def add(conn, plate: str, reason: str, *, actor: str, rules: QueueRules,
        expires_at: dt.datetime | None = None, ip: str | None = None) -> WatchEntry:
    """Put a plate on the watchlist; its sightings of the last 30 days become queue hits."""
    key = check_plate(plate)
    reason = (reason or "").strip()
    if not reason:
        raise WatchlistError("reason: required (why is this plate wanted?)")
    if len(reason) > MAX_REASON:
        raise WatchlistError(f"reason: longer than {MAX_REASON} characters")
    now = dt.datetime.now(dt.UTC)
    if expires_at is not None and expires_at <= now:
        raise WatchlistError(f"expires: {expires_at.isoformat()} is already past")
    existing = find(conn, key)
    if existing is not None:
        raise WatchlistError(f"plate: {existing.plate} is already on the watchlist "
                             f"(added by {existing.added_by})")
    row = conn.execute(
        sql.SQL("INSERT INTO police_watchlist (plate, plate_key, reason, added_by, expires_at) "
                "VALUES (%s, %s, %s, %s, %s) RETURNING {}").format(_COLUMNS),
        (plate.strip(), key, reason, actor, expires_at),
    ).fetchone()
    entry = WatchEntry(*row)
    hits = queue.requeue_plate(conn, key, rules)
    audit.record(conn, actor, "watchlist.add", f"plate:{key}",
                 {"plate": entry.plate, "reason": reason, "watchlist_id": entry.id,
                  "expires_at": expires_at.isoformat() if expires_at else None,
                  "sightings_queued": hits}, ip)
    return entry


def remove(conn, plate: str, *, actor: str, rules: QueueRules,
           ip: str | None = None) -> WatchEntry:
    """Take a plate off the watchlist (its undecided hits leave the queue)."""
    key = check_plate(plate)
    row = conn.execute(
        sql.SQL("UPDATE police_watchlist SET removed_by = %s, removed_at = now() "
                "WHERE plate_key = %s AND removed_at IS NULL RETURNING {}").format(_COLUMNS),
        (actor, key),
    ).fetchone()
    if row is None:
        raise WatchlistError(f"plate: {plate.strip()!r} is not on the watchlist")
    entry = WatchEntry(*row)
    queue.requeue_watch(conn, entry.id, rules)
    audit.record(conn, actor, "watchlist.remove", f"plate:{key}",
                 {"plate": entry.plate, "watchlist_id": entry.id}, ip)
    return entry


def find(conn, key: str) -> WatchEntry | None:
    """The entry (not removed) for a plate key, expired or not."""
    row = conn.execute(
        sql.SQL("SELECT {} FROM police_watchlist WHERE plate_key = %s AND removed_at IS NULL"
                ).format(_COLUMNS),
        (key,),
    ).fetchone()
    return WatchEntry(*row) if row else None


def list_entries(conn, *, include_removed: bool = False) -> list[WatchEntry]:
    where = sql.SQL("" if include_removed else "WHERE removed_at IS NULL ")
    rows = conn.execute(
        sql.SQL("SELECT {} FROM police_watchlist {}ORDER BY added_at DESC, id DESC").format(
            _COLUMNS, where)
    ).fetchall()
    return [WatchEntry(*r) for r in rows]
