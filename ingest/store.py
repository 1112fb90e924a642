"""Writes a WritePlan in the current transaction: COPY for readings, upserts for the rest."""

from __future__ import annotations

import json
from dataclasses import dataclass

import psycopg
from psycopg import sql
from psycopg.types.json import Jsonb

from evidence.incident import RECORD_COLUMNS, IncidentRecord
from ingest.batch import WritePlan
from ingest.incidents import merge_incidents, merge_reviews, queue_candidate
from ingest.records import CapAlert
from police.queue import enqueue
from police.rules import QueueRules, load_rules

# Readings go through a session-private staging table: COPY is the fastest way in, and the
# INSERT ... ON CONFLICT from it makes a redelivered reading a no-op.
_CREATE_STAGE = """
CREATE TEMP TABLE IF NOT EXISTS ingest_readings_stage (
    time timestamptz, device_id text, metric text,
    value double precision, value_text text, unit text
) ON COMMIT DELETE ROWS
"""
_COPY_STAGE = (
    "COPY ingest_readings_stage (time, device_id, metric, value, value_text, unit) "
    "FROM STDIN (FORMAT BINARY)"
)
_STAGE_TYPES = ["timestamptz", "text", "text", "float8", "text", "text"]
# The same statement marks the (device, metric, hour) of every reading really added in
# rollup_dirty, one row per key per batch, so `ioc maintain` refreshes exactly those rollups
# (a late backlog included) and a redelivered reading marks nothing. Keys in order, so two
# workers never wait on each other in a cycle.
_MERGE_STAGE = """
WITH added AS (
    INSERT INTO readings (time, device_id, metric, value, value_text, unit)
    SELECT time, device_id, metric, value, value_text, unit FROM ingest_readings_stage
    ON CONFLICT (device_id, metric, time) DO NOTHING
    RETURNING device_id, metric, time, value),
marked AS (
    INSERT INTO rollup_dirty (device_id, metric, hour)
    SELECT DISTINCT device_id, metric, date_bin('1 hour', time, TIMESTAMPTZ '2000-01-01')
    FROM added WHERE value IS NOT NULL ORDER BY 1, 2, 3
    ON CONFLICT DO NOTHING)
SELECT count(*),
       -- which staged readings were new (the others were stored before: a redelivered or
       -- overlapping copy), only when some were not; from RETURNING, so it also works in
       -- TimescaleDB's compressed chunks (which have no xmin to ask)
       CASE WHEN count(*) < %(staged)s THEN array_agg(device_id) END,
       CASE WHEN count(*) < %(staged)s THEN array_agg(metric) END,
       CASE WHEN count(*) < %(staged)s THEN array_agg(time) END
FROM added
"""


# the columns in evidence.incident.RECORD_COLUMNS order, the values by _incident_params
_UPSERT_INCIDENT = sql.SQL("""
INSERT INTO camera_incidents AS c ({columns})
VALUES ({values})
ON CONFLICT (source, event_id) DO UPDATE SET
    device_id = CASE WHEN EXCLUDED.last_update >= c.last_update
                     THEN EXCLUDED.device_id ELSE c.device_id END,
    label = CASE WHEN EXCLUDED.last_update >= c.last_update THEN EXCLUDED.label ELSE c.label END,
    phase = CASE WHEN 'end' IN (c.phase, EXCLUDED.phase) THEN 'end'
                 WHEN EXCLUDED.last_update >= c.last_update THEN EXCLUDED.phase
                 ELSE c.phase END,
    first_seen = LEAST(c.first_seen, EXCLUDED.first_seen),
    started_at = LEAST(c.started_at, EXCLUDED.started_at),
    last_update = GREATEST(c.last_update, EXCLUDED.last_update),
    ended_at = GREATEST(c.ended_at, EXCLUDED.ended_at),
    confidence = CASE WHEN EXCLUDED.last_update >= c.last_update
                      THEN COALESCE(EXCLUDED.confidence, c.confidence)
                      ELSE COALESCE(c.confidence, EXCLUDED.confidence) END,
    top_confidence = GREATEST(c.top_confidence, EXCLUDED.top_confidence),
    zones = ARRAY(SELECT DISTINCT z FROM unnest(c.zones || EXCLUDED.zones) AS z ORDER BY z),
    plate = CASE WHEN EXCLUDED.last_update >= c.last_update
                 THEN COALESCE(EXCLUDED.plate, c.plate) ELSE COALESCE(c.plate, EXCLUDED.plate) END,
    plate_confidence = CASE WHEN EXCLUDED.last_update >= c.last_update
                            THEN COALESCE(EXCLUDED.plate_confidence, c.plate_confidence)
                            ELSE COALESCE(c.plate_confidence, EXCLUDED.plate_confidence) END,
    snapshot_sha256 = CASE WHEN EXCLUDED.last_update >= c.last_update
                           THEN COALESCE(EXCLUDED.snapshot_sha256, c.snapshot_sha256)
                           ELSE COALESCE(c.snapshot_sha256, EXCLUDED.snapshot_sha256) END,
    snapshot_url = CASE WHEN EXCLUDED.last_update >= c.last_update
                        THEN COALESCE(EXCLUDED.snapshot_url, c.snapshot_url)
                        ELSE COALESCE(c.snapshot_url, EXCLUDED.snapshot_url) END,
    false_positive = CASE WHEN EXCLUDED.last_update >= c.last_update
                          THEN EXCLUDED.false_positive ELSE c.false_positive END,
    data = CASE WHEN EXCLUDED.last_update >= c.last_update
                THEN c.data || EXCLUDED.data ELSE EXCLUDED.data || c.data END
""").format(columns=sql.SQL(", ").join(map(sql.Identifier, RECORD_COLUMNS)),
           values=sql.SQL(", ").join(sql.Placeholder() * len(RECORD_COLUMNS)))

_UPSERT_REVIEW = """
INSERT INTO frigate_reviews AS r (
    review_id, device_id, phase, severity, event_ids, first_seen, last_update, ended_at, data)
VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)
ON CONFLICT (review_id) DO UPDATE SET
    device_id = CASE WHEN EXCLUDED.last_update >= r.last_update
                     THEN EXCLUDED.device_id ELSE r.device_id END,
    phase = CASE WHEN 'end' IN (r.phase, EXCLUDED.phase) THEN 'end'
                 WHEN EXCLUDED.last_update >= r.last_update THEN EXCLUDED.phase
                 ELSE r.phase END,
    severity = CASE WHEN EXCLUDED.last_update >= r.last_update
                    THEN EXCLUDED.severity ELSE r.severity END,
    event_ids = ARRAY(SELECT DISTINCT e FROM unnest(r.event_ids || EXCLUDED.event_ids) AS e
                      ORDER BY e),
    first_seen = LEAST(r.first_seen, EXCLUDED.first_seen),
    last_update = GREATEST(r.last_update, EXCLUDED.last_update),
    ended_at = GREATEST(r.ended_at, EXCLUDED.ended_at),
    data = CASE WHEN EXCLUDED.last_update >= r.last_update
                THEN r.data || EXCLUDED.data ELSE EXCLUDED.data || r.data END
"""

_INSERT_SNAPSHOT = """
INSERT INTO camera_snapshots (sha256, content, content_type, size, device_id, label, time)
VALUES (%s, %s, %s, %s, %s, %s, %s)
ON CONFLICT (sha256) DO NOTHING
"""

_INSERT_CAP = """
INSERT INTO cap_messages (identifier, sender, sent, msg_type, status, scope, refs, xml, parsed)
VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)
ON CONFLICT (sender, identifier, sent) DO NOTHING
"""

_INSERT_STATUS = """
INSERT INTO device_status (device_id, time, online) VALUES (%s, %s, %s)
ON CONFLICT (device_id, time) DO NOTHING
"""

_INSERT_DEAD_LETTER = """
INSERT INTO dead_letters (topic, payload, payload_size, reason, format, device_id, message_sha256)
VALUES (%s, %s, %s, %s, %s, %s, %s)
ON CONFLICT (message_sha256) DO NOTHING
"""

_REGISTER_DEVICE = """
INSERT INTO devices (device_id, family, kind, name, metadata)
VALUES (%s, %s, %s, %s, %s)
ON CONFLICT (device_id) DO NOTHING
"""


@dataclass(frozen=True)
class WriteCounts:
    """Rows the database really added (redelivered duplicates are not counted)."""

    readings: int = 0
    incidents: int = 0
    snapshots: int = 0
    reviews: int = 0
    caps: int = 0
    statuses: int = 0
    dead_letters: int = 0
    # (device_id, metric, time) of the readings inserted, when some were already stored;
    # None when every reading of the plan was new
    new_readings: frozenset | None = None


def _json_default(value):
    return value.isoformat() if hasattr(value, "isoformat") else str(value)


def _jsonb(value) -> Jsonb:
    return Jsonb(value, dumps=lambda v: json.dumps(v, default=_json_default, ensure_ascii=False))


def _incident_params(row: IncidentRecord) -> tuple:
    """The row's values for _UPSERT_INCIDENT, in RECORD_COLUMNS order."""
    adapt = {"zones": list, "data": _jsonb}
    return tuple(adapt[name](getattr(row, name)) if name in adapt else getattr(row, name)
                 for name in RECORD_COLUMNS)


def cap_document(cap: CapAlert) -> dict:
    """The parsed CAP message as stored in cap_messages.parsed."""
    return {
        "identifier": cap.identifier,
        "sender": cap.sender,
        "sent": cap.sent.isoformat(),
        "status": cap.status,
        "msg_type": cap.msg_type,
        "scope": cap.scope,
        "references": [list(r) for r in cap.references],
        "info": [dict(i) for i in cap.info],
    }


def prepare(conn: psycopg.Connection) -> None:
    """Per-connection set-up: the staging table."""
    with conn.transaction():
        conn.execute(_CREATE_STAGE)


def write_plan(conn: psycopg.Connection, plan: WritePlan,
               queue_rules: QueueRules | None = None) -> WriteCounts:
    """Write every row of `plan`; the caller owns the transaction.

    Incidents that need a police decision (police.rules) enter the police queue in the
    same transaction; `queue_rules` defaults to the built-in rules."""
    readings = incidents = snapshots = reviews = caps = statuses = dead = 0
    new_readings = None
    with conn.cursor() as cur:
        if plan.new_devices:
            cur.executemany(
                _REGISTER_DEVICE,
                [
                    (device_id, family, family, device_id, _jsonb({"auto_registered": True}))
                    for device_id, family in plan.new_devices.items()
                ],
            )
        if plan.readings:
            with cur.copy(_COPY_STAGE) as copy:
                copy.set_types(_STAGE_TYPES)
                write_row = copy.write_row
                for r in plan.readings:
                    write_row((r.time, r.device_id, r.metric, r.value, r.value_text, r.unit))
            readings, ids, metrics, times = cur.execute(
                _MERGE_STAGE, {"staged": len(plan.readings)}).fetchone()
            if readings < len(plan.readings):
                new_readings = frozenset(zip(ids or (), metrics or (), times or (), strict=True))
        if plan.camera_events:
            rows = merge_incidents(plan.camera_events)
            cur.executemany(
                _UPSERT_INCIDENT,
                [_incident_params(i) for i in rows],
            )
            incidents = len(rows)
            enqueue(conn, [queue_candidate(i) for i in rows], queue_rules or load_rules())
        if plan.snapshots:
            cur.executemany(
                _INSERT_SNAPSHOT,
                [
                    (s.sha256, s.content, s.content_type, len(s.content), s.device_id, s.label,
                     s.time)
                    for s in plan.snapshots
                ],
            )
            snapshots = len({s.sha256 for s in plan.snapshots})
        if plan.reviews:
            rows_r = merge_reviews(plan.reviews)
            cur.executemany(
                _UPSERT_REVIEW,
                [
                    (r.review_id, r.device_id, r.phase, r.severity, list(r.event_ids),
                     r.first_seen, r.last_update, r.ended_at, _jsonb(r.data))
                    for r in rows_r
                ],
            )
            reviews = len(rows_r)
        if plan.caps:
            cur.executemany(
                _INSERT_CAP,
                [
                    (c.identifier, c.sender, c.sent, c.msg_type, c.status, c.scope,
                     [",".join(ref) for ref in c.references], c.xml, _jsonb(cap_document(c)))
                    for c in plan.caps
                ],
            )
            caps = len(plan.caps)
        if plan.statuses:
            cur.executemany(
                _INSERT_STATUS, [(s.device_id, s.time, s.online) for s in plan.statuses]
            )
            statuses = len(plan.statuses)
        if plan.dead_letters:
            cur.executemany(
                _INSERT_DEAD_LETTER,
                [
                    (d.topic, d.payload, d.payload_size, d.reason, d.format, d.device_id,
                     d.digest)
                    for d in plan.dead_letters
                ],
            )
            dead = len(plan.dead_letters)
    return WriteCounts(readings, incidents, snapshots, reviews, caps, statuses, dead,
                       new_readings)
