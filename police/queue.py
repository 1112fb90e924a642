"""The police queue in the database: what `rules.decide` put there, written with the incident.

The ingest worker calls `enqueue` in the transaction that stores a batch's incidents; the
watchlist calls `requeue_plate` when a plate is added (its recent sightings become hits)
and `requeue_watch` when one is removed. Functions take a connection and never commit.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from psycopg import sql

from evidence.privacy import plate_key
from police.rules import Detection, QueueDecision, QueueRules, decide, incident_type

BACKFILL = dt.timedelta(days=30)  # a plate added to a watchlist: sightings this far back


@dataclass(frozen=True)
class Candidate:
    """One stored incident as the queue sees it."""

    source: str
    event_id: str
    device_id: str
    first_seen: dt.datetime
    detection: Detection


def live_watch(conn, keys: Iterable[str]) -> dict[str, int]:
    """plate key -> watchlist id, for the keys that are on a live (not removed, not expired)
    watchlist entry."""
    keys = sorted({k for k in keys if k})
    if not keys:
        return {}
    rows = conn.execute(
        "SELECT plate_key, id FROM police_watchlist WHERE plate_key = ANY(%s) "
        "AND removed_at IS NULL AND (expires_at IS NULL OR expires_at > now())",
        (keys,),
    ).fetchall()
    return {k: i for k, i in rows}


_UPSERT = """
INSERT INTO police_queue (source, event_id, device_id, first_seen, priority, rule, watchlist_id,
                          decision)
VALUES (%s, %s, %s, %s, %s, %s, %s,
        (SELECT ir.decision FROM incident_reviews ir WHERE ir.source = %s AND ir.event_id = %s
          ORDER BY ir.id DESC LIMIT 1))
ON CONFLICT (source, event_id) DO UPDATE SET
    first_seen = LEAST(police_queue.first_seen, EXCLUDED.first_seen),
    priority = GREATEST(police_queue.priority, EXCLUDED.priority),
    rule = CASE WHEN EXCLUDED.priority > police_queue.priority THEN EXCLUDED.rule
                ELSE police_queue.rule END,
    watchlist_id = COALESCE(EXCLUDED.watchlist_id, police_queue.watchlist_id)
"""


def enqueue(conn, candidates: Sequence[Candidate], rules: QueueRules) -> int:
    """Queue the candidates that need a decision; how many entered (or rose)."""
    if not candidates:
        return 0
    watch = live_watch(conn, (c.detection.plate_key for c in candidates))
    rows = []
    for c in candidates:
        decision: QueueDecision | None = decide(c.detection, rules, watch)
        if decision is not None:
            rows.append((c.source, c.event_id, c.device_id, c.first_seen, decision.priority,
                         decision.rule, decision.watchlist_id, c.source, c.event_id))
    if rows:
        with conn.cursor() as cur:
            cur.executemany(_UPSERT, rows)
    return len(rows)


_CANDIDATES = sql.SQL(
    "SELECT source, event_id, device_id, first_seen, label, data, zones, top_confidence, "
    "confidence, plate, false_positive FROM camera_incidents c WHERE {}")


def _candidates(rows) -> list[Candidate]:
    out = []
    for (source, event_id, device_id, first_seen, label, data, zones, top, conf, plate,
         false_positive) in rows:
        out.append(Candidate(source, event_id, device_id, first_seen, Detection(
            device_id=device_id, type=incident_type(label, data), zones=tuple(zones or ()),
            confidence=top if top is not None else conf, plate_key=plate_key(plate),
            false_positive=false_positive)))
    return out


def requeue_plate(conn, key: str, rules: QueueRules, *, since: dt.timedelta = BACKFILL) -> int:
    """A plate was added to a watchlist: its sightings of the last `since` become hits."""
    rows = conn.execute(
        _CANDIDATES.format(sql.SQL(
            "c.plate IS NOT NULL AND upper(regexp_replace(c.plate, '[^0-9A-Za-z]', '', 'g')) "
            "= %s AND c.first_seen >= now() - %s")),
        (key, since),
    ).fetchall()
    return enqueue(conn, _candidates(rows), rules)


def requeue_watch(conn, watchlist_id: int, rules: QueueRules) -> int:
    """A watchlist entry was removed: its hits leave the queue unless a rule keeps them
    (decided hits stay: the decision is part of the record)."""
    keys = conn.execute(
        "DELETE FROM police_queue q WHERE q.watchlist_id = %s AND q.decision IS NULL "
        "RETURNING source, event_id",
        (watchlist_id,),
    ).fetchall()
    if not keys:
        return 0
    rows = conn.execute(
        _CANDIDATES.format(sql.SQL(
            "(c.source, c.event_id) IN (SELECT * FROM unnest(%s::text[], %s::text[]))")),
        ([k[0] for k in keys], [k[1] for k in keys]),
    ).fetchall()
    return enqueue(conn, _candidates(rows), rules)
