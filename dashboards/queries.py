"""Read-only queries behind the pages; tested without a browser."""

from __future__ import annotations

import time
from dataclasses import dataclass

from psycopg_pool import ConnectionPool

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
    """Counts for the status page: index range scans over recent time only, never the table."""
    with pool.connection() as conn:
        by_family = dict(
            conn.execute("SELECT family, count(*) FROM devices WHERE enabled GROUP BY family")
        )
        minute, hour, newest = conn.execute(
            """
            SELECT count(*) FILTER (WHERE time > now() - interval '1 minute'),
                   count(*),
                   extract(epoch FROM now() - max(time))
            FROM readings WHERE time > now() - interval '1 hour'
            """
        ).fetchone()
        (dead,) = conn.execute(
            "SELECT count(*) FROM dead_letters WHERE received_at > now() - interval '1 hour'"
        ).fetchone()
        (open_alerts,) = conn.execute(
            "SELECT count(*) FROM alerts WHERE status IN ('open', 'acknowledged', 'assigned')"
        ).fetchone()
    now = time.time()
    online = sum(1 for t in live.last_seen().values() if now - t <= online_window_s)
    return LiveCounts(
        devices=sum(by_family.values()),
        devices_by_family=by_family,
        devices_online=online,
        readings_last_minute=minute,
        readings_last_hour=hour,
        dead_letters_last_hour=dead,
        newest_reading_age_s=float(newest) if newest is not None else None,
        open_alerts=open_alerts,
    )
