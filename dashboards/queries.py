"""Read-only queries behind the pages; tested without a browser."""

from __future__ import annotations

import time
from dataclasses import dataclass

from psycopg_pool import ConnectionPool

from ioc.alert_status import ACTIVE
from ioc.ingest_sessions import SessionBoard, SessionRow
from ioc.live import LiveState


@dataclass(frozen=True)
class LiveCounts:
    devices: int
    devices_by_family: dict[str, int]
    devices_online: int
    readings_last_minute: int
    readings_last_hour: int
    dead_letters_last_hour: int
    newest_reading_age_s: float | None
    open_alerts: int


def live_counts(pool: ConnectionPool, live: LiveState, online_window_s: float = 600) -> LiveCounts:
    """Counts for the status page. Reading rates and freshness come from Redis (kept by the
    ingest workers), so a page refreshing every two seconds never scans `readings`; the
    database answers only small questions: the registry, recent dead letters, open alerts."""
    with pool.connection() as conn:
        by_family = dict(
            conn.execute("SELECT family, count(*) FROM devices WHERE enabled GROUP BY family")
        )
        (dead,) = conn.execute(
            "SELECT count(*) FROM dead_letters WHERE received_at > now() - interval '1 hour'"
        ).fetchone()
        (open_alerts,) = conn.execute(
            "SELECT count(*) FROM alerts WHERE status = ANY(%s)", (list(ACTIVE),)
        ).fetchone()
    now = time.time()
    seen = live.last_seen()
    online = sum(1 for t in seen.values() if now - t <= online_window_s)
    minute, hour = live.stored_counts(now)
    newest = max(seen.values(), default=None)
    return LiveCounts(
        devices=sum(by_family.values()),
        devices_by_family=by_family,
        devices_online=online,
        readings_last_minute=minute,
        readings_last_hour=hour,
        dead_letters_last_hour=dead,
        newest_reading_age_s=max(0.0, now - newest) if newest is not None else None,
        open_alerts=open_alerts,
    )


def ingest_sessions(pool: ConnectionPool, live: LiveState) -> list[SessionRow]:
    """The ingest sessions the broker holds (members and heartbeats), for the status page."""
    with pool.connection() as conn:
        row = conn.execute(
            "SELECT members FROM ingest_membership ORDER BY epoch DESC LIMIT 1").fetchone()
    members = list(row[0]) if row else []
    return SessionBoard(live.r, live.prefix).rows(members, members)
