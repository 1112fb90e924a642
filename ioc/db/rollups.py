"""Hourly and daily rollups of readings, kept on PostgreSQL and TimescaleDB alike.

Two ways in:
- `refresh_dirty` (what `ioc maintain` runs every minute): recompute exactly the
  (device, metric, hour) keys listed in `rollup_dirty` — written by ingest in the transaction
  that stores the readings, and by a trigger for readings changed by hand — and the days they
  fall in. A station's three-day backlog, or a corrected value in an hour rolled up long ago,
  is in the rollups after one refresh, and nothing that did not change is read again.
- `refresh_rollups(since)`: recompute every bucket from `since` on (bulk loads, benchmarks,
  a rebuild after data was written around ingest).
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass

import psycopg
from psycopg import sql

log = logging.getLogger(__name__)

# A bucket is rewritten only when one of its figures changed, so a refresh of unchanged data
# writes nothing (and a corrected value, same count and time, is still caught).
_CHANGED = sql.SQL("""
WHERE (reading_rollups.n, reading_rollups.sum, reading_rollups.min, reading_rollups.max,
       reading_rollups.last, reading_rollups.last_time)
      IS DISTINCT FROM
      (EXCLUDED.n, EXCLUDED.sum, EXCLUDED.min, EXCLUDED.max, EXCLUDED.last, EXCLUDED.last_time)
""")
_SET = sql.SQL("""
ON CONFLICT (width, device_id, metric, bucket) DO UPDATE
SET n = EXCLUDED.n, sum = EXCLUDED.sum, min = EXCLUDED.min, max = EXCLUDED.max,
    last = EXCLUDED.last, last_time = EXCLUDED.last_time
""")

# Recomputes whole buckets from raw readings, so a late reading or a re-run gives the same rows.
_REFRESH = sql.SQL("""
INSERT INTO reading_rollups (bucket, width, device_id, metric, n, sum, min, max, last, last_time)
SELECT date_bin(%(step)s, time, TIMESTAMPTZ '2000-01-01') AS bucket, %(width)s, device_id, metric,
       count(*), sum(value), min(value), max(value),
       (array_agg(value ORDER BY time DESC))[1], max(time)
FROM readings
WHERE value IS NOT NULL
  AND time >= date_bin(%(step)s, %(since)s::timestamptz, TIMESTAMPTZ '2000-01-01')
GROUP BY 1, device_id, metric
""") + _SET + _CHANGED

# -- the dirty-key refresh ------------------------------------------------------------------------
_CLAIM_TABLE = """
CREATE TEMP TABLE IF NOT EXISTS rollup_claim (
    device_id text, metric text, hour timestamptz
) ON COMMIT DELETE ROWS
"""
# Taken rows are deleted in this transaction: a reading committed meanwhile either was seen by
# the recompute below (its key was deleted here) or marks its key again once this commits
# (its INSERT ... ON CONFLICT waits for this DELETE). SKIP LOCKED lets two refreshers share.
_CLAIM = """
WITH taken AS (
    DELETE FROM rollup_dirty WHERE ctid IN (
        SELECT ctid FROM rollup_dirty ORDER BY hour LIMIT %(limit)s FOR UPDATE SKIP LOCKED)
    RETURNING device_id, metric, hour)
INSERT INTO rollup_claim SELECT device_id, metric, hour FROM taken
"""
_CLAIM_RANGE = "SELECT count(*), min(hour), max(hour) FROM rollup_claim"
# Keys older than the raw readings' retention: raw data is (being) dropped, the rollups stay.
_DROP_OLD = "DELETE FROM rollup_claim WHERE hour < %(horizon)s"

_HOURS = sql.SQL("""
INSERT INTO reading_rollups (bucket, width, device_id, metric, n, sum, min, max, last, last_time)
SELECT c.hour, 'hour', c.device_id, c.metric, count(*), sum(r.value), min(r.value),
       max(r.value), (array_agg(r.value ORDER BY r.time DESC))[1], max(r.time)
FROM rollup_claim c
JOIN readings r ON r.device_id = c.device_id AND r.metric = c.metric
               AND r.time >= c.hour AND r.time < c.hour + interval '1 hour'
WHERE r.value IS NOT NULL
  -- the claimed range as constants: TimescaleDB leaves out the other chunks when planning
  AND r.time >= %(lo)s AND r.time < %(hi)s::timestamptz + interval '1 hour'
GROUP BY c.hour, c.device_id, c.metric
""") + _SET + _CHANGED

_EMPTY_HOURS = """
DELETE FROM reading_rollups h USING rollup_claim c
WHERE h.width = 'hour' AND h.device_id = c.device_id AND h.metric = c.metric
  AND h.bucket = c.hour
  AND NOT EXISTS (SELECT 1 FROM readings r
                  WHERE r.device_id = c.device_id AND r.metric = c.metric
                    AND r.time >= c.hour AND r.time < c.hour + interval '1 hour'
                    AND r.time >= %(lo)s AND r.time < %(hi)s::timestamptz + interval '1 hour'
                    AND r.value IS NOT NULL)
"""

# A day is summed from its hours (24 rows, not a day of raw readings). Days are UTC, like
# date_bin('1 day', ...) in `_REFRESH`.
_DAYS = sql.SQL("""
INSERT INTO reading_rollups (bucket, width, device_id, metric, n, sum, min, max, last, last_time)
SELECT d.day, 'day', d.device_id, d.metric, sum(h.n), sum(h.sum), min(h.min), max(h.max),
       (array_agg(h.last ORDER BY h.last_time DESC))[1], max(h.last_time)
FROM (SELECT DISTINCT device_id, metric,
             date_bin('1 day', hour, TIMESTAMPTZ '2000-01-01') AS day FROM rollup_claim) d
JOIN reading_rollups h ON h.width = 'hour' AND h.device_id = d.device_id
                      AND h.metric = d.metric
                      AND h.bucket >= d.day AND h.bucket < d.day + interval '1 day'
GROUP BY d.day, d.device_id, d.metric
""") + _SET + _CHANGED

_EMPTY_DAYS = """
DELETE FROM reading_rollups x USING (
    SELECT DISTINCT device_id, metric, date_bin('1 day', hour, TIMESTAMPTZ '2000-01-01') AS day
    FROM rollup_claim) d
WHERE x.width = 'day' AND x.device_id = d.device_id AND x.metric = d.metric
  AND x.bucket = d.day
  AND NOT EXISTS (SELECT 1 FROM reading_rollups h
                  WHERE h.width = 'hour' AND h.device_id = d.device_id AND h.metric = d.metric
                    AND h.bucket >= d.day AND h.bucket < d.day + interval '1 day')
"""

WIDTHS = {"hour": dt.timedelta(hours=1), "day": dt.timedelta(days=1)}
CLAIM_LIMIT = 50_000


@dataclass(frozen=True)
class DirtyRefresh:
    """What one `refresh_dirty` did."""

    keys: int = 0  # (device, metric, hour) keys taken from rollup_dirty
    rows: int = 0  # rollup rows written or removed
    first_hour: dt.datetime | None = None
    last_hour: dt.datetime | None = None
    skipped: int = 0  # keys older than the raw readings' retention


def refresh_rollups(conn: psycopg.Connection, since: dt.datetime) -> int:
    """Recompute every hourly and daily bucket that overlaps [since, now]; returns rows written."""
    written = 0
    with conn.transaction():
        for width, step in WIDTHS.items():
            cur = conn.execute(_REFRESH, {"step": step, "width": width, "since": since})
            written += cur.rowcount
    return written


def mark_dirty(conn: psycopg.Connection, start: dt.datetime, end: dt.datetime) -> int:
    """Mark every hour with readings in [start, end) dirty: for data written around ingest
    (an import, a bulk fix). Returns the keys added."""
    cur = conn.execute(
        "INSERT INTO rollup_dirty (device_id, metric, hour) "
        "SELECT DISTINCT device_id, metric, date_bin('1 hour', time, TIMESTAMPTZ '2000-01-01') "
        "FROM readings WHERE value IS NOT NULL AND time >= %s AND time < %s "
        "ON CONFLICT DO NOTHING",
        (start, end),
    )
    return cur.rowcount


def refresh_dirty(conn: psycopg.Connection, *, horizon: dt.datetime | None = None,
                  limit: int = CLAIM_LIMIT) -> DirtyRefresh:
    """Recompute the hours listed in rollup_dirty and their days, `limit` keys per
    transaction, until none is left; keys before `horizon` are dropped unrefreshed."""
    keys = rows = skipped = 0
    first = last = None
    conn.execute(_CLAIM_TABLE)
    while True:
        with conn.transaction():
            conn.execute("DELETE FROM rollup_claim")  # a caller's open transaction keeps rows
            claimed = conn.execute(_CLAIM, {"limit": limit}).rowcount
            if horizon is not None:
                skipped += conn.execute(_DROP_OLD, {"horizon": horizon}).rowcount
            n, lo, hi = conn.execute(_CLAIM_RANGE).fetchone()
            if n:
                for statement in (_HOURS, _EMPTY_HOURS, _DAYS, _EMPTY_DAYS):
                    rows += conn.execute(statement, {"lo": lo, "hi": hi}).rowcount
                first = lo if first is None else min(first, lo)
                last = hi if last is None else max(last, hi)
                keys += n
        if claimed < limit:
            break
    if skipped:
        log.info("rollups: %d dirty hour(s) older than the raw readings' retention skipped",
                 skipped)
    return DirtyRefresh(keys, rows, first, last, skipped)
