"""The SQL of ingest membership: member lists by epoch, each worker's committed view."""

from __future__ import annotations

import logging
from collections.abc import Callable

import psycopg

from ingest.membership import EMPTY, View, joined, left
from ioc.security.audit import record

log = logging.getLogger(__name__)

# One lock for every change of the member list: epochs are announced in the order they commit.
_LOCK_KEY = 0x10C_16E5  # pg_advisory_xact_lock key (any constant; documented in docs/ingest.md)


def current(conn: psycopg.Connection) -> View:
    """The newest member list announced (EMPTY before the first worker joined)."""
    row = conn.execute(
        "SELECT epoch, members, change FROM ingest_membership ORDER BY epoch DESC LIMIT 1"
    ).fetchone()
    return View(row[0], tuple(row[1]), row[2]) if row else EMPTY


def load_view(conn: psycopg.Connection, worker: str) -> View | None:
    """The member list `worker` last committed from its own stream (None: never)."""
    row = conn.execute(
        "SELECT epoch, members FROM ingest_views WHERE worker = %s", (worker,)
    ).fetchone()
    return View(row[0], tuple(row[1])) if row else None


def save_view(conn: psycopg.Connection, worker: str, view: View) -> None:
    """Record `worker`'s view; call inside the transaction of the messages before it."""
    conn.execute(
        "INSERT INTO ingest_views (worker, epoch, members) VALUES (%s, %s, %s) "
        "ON CONFLICT (worker) DO UPDATE SET epoch = EXCLUDED.epoch, members = EXCLUDED.members, "
        "updated_at = now()",
        (worker, view.epoch, list(view.members)),
    )


def forget_view(conn: psycopg.Connection, worker: str) -> None:
    conn.execute("DELETE FROM ingest_views WHERE worker = %s", (worker,))


def known_workers(conn: psycopg.Connection) -> list[str]:
    """Every worker that is a member or has a committed view (its broker session may exist)."""
    view = current(conn)
    rows = conn.execute("SELECT worker FROM ingest_views").fetchall()
    return sorted({*view.members, *(r[0] for r in rows)})


def change(
    conn: psycopg.Connection,
    announce: Callable[[View], None],
    *,
    add: str | None = None,
    remove: str | None = None,
    actor: str,
) -> View:
    """Add or remove one member: store the new list and announce it on the MQTT stream.

    `announce` publishes the control message and returns once the broker has acknowledged
    it; it runs inside the transaction, so a list that was not announced is not stored.
    Returns the list in force (unchanged when there was nothing to change).
    """
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (_LOCK_KEY,))
        now = current(conn)
        if add is not None:
            members, what = joined(now, add), f"join {add}"
        elif remove is not None:
            members, what = left(now, remove), f"retire {remove}"
        else:
            raise ValueError("change(): give add or remove")
        if members == now.members:
            return now
        view = View(now.epoch + 1, members, what)
        conn.execute(
            "INSERT INTO ingest_membership (epoch, members, change) VALUES (%s, %s, %s)",
            (view.epoch, list(members), what),
        )
        record(conn, actor, "ingest.join" if add else "ingest.retire", add or remove,
               {"epoch": view.epoch, "members": list(members)})
        announce(view)
    log.info("ingest members now %s (epoch %d, %s)", ", ".join(members) or "none",
             view.epoch, what)
    return view
