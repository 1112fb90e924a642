"""Hourly and daily rollups of readings, kept on PostgreSQL and TimescaleDB alike."""

from __future__ import annotations

import datetime as dt

import psycopg

# Recomputes whole buckets from raw readings, so a late reading or a re-run gives the same rows.
_REFRESH = """
INSERT INTO reading_rollups (bucket, width, device_id, metric, n, sum, min, max, last, last_time)
SELECT date_bin(%(step)s, time, TIMESTAMPTZ '2000-01-01') AS bucket, %(width)s, device_id, metric,
       count(*), sum(value), min(value), max(value),
       (array_agg(value ORDER BY time DESC))[1], max(time)
FROM readings
WHERE value IS NOT NULL
  AND time >= date_bin(%(step)s, %(since)s::timestamptz, TIMESTAMPTZ '2000-01-01')
GROUP BY 1, device_id, metric
ON CONFLICT (width, device_id, metric, bucket) DO UPDATE
SET n = EXCLUDED.n, sum = EXCLUDED.sum, min = EXCLUDED.min, max = EXCLUDED.max,
    last = EXCLUDED.last, last_time = EXCLUDED.last_time
WHERE reading_rollups.n IS DISTINCT FROM EXCLUDED.n
   OR reading_rollups.last_time IS DISTINCT FROM EXCLUDED.last_time
"""

WIDTHS = {"hour": dt.timedelta(hours=1), "day": dt.timedelta(days=1)}


def refresh_rollups(conn: psycopg.Connection, since: dt.datetime) -> int:
    """Recompute every hourly and daily bucket that overlaps [since, now]; returns rows written."""
    written = 0
    with conn.transaction():
        for width, step in WIDTHS.items():
            cur = conn.execute(_REFRESH, {"step": step, "width": width, "since": since})
            written += cur.rowcount
    return written
