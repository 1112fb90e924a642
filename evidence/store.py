"""Camera incidents as evidence in the database: one incident, its snapshots, its reviews,
notes and custody log, and the record of exported bundles (tables of 0002 and 0006). The
incident's shape is evidence/incident.py's.

Functions take a connection and never commit: the caller's transaction makes a decision,
its custody entry and its audit entry one unit.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from psycopg import sql
from psycopg.types.json import Jsonb

from evidence.incident import RECORD_COLUMNS, Incident
from ioc.security import audit

# The incident's type: our JSON's `type`; for Frigate the sub_label (a fight is a `person`
# whose sub_label is ["fight", score]), else the object label (fire, smoke, car, ...).
INCIDENT_TYPE = sql.SQL(
    "coalesce(nullif(c.data->>'type', ''), "
    "CASE jsonb_typeof(c.data->'sub_label') WHEN 'array' THEN c.data->'sub_label'->>0 "
    "WHEN 'string' THEN c.data->>'sub_label' END, c.label)"
)
PLATE_KEY = sql.SQL("upper(regexp_replace(c.plate, '[^0-9A-Za-z]', '', 'g'))")

# An incident's values in a query: the record's columns in RECORD_COLUMNS order, then the
# camera's name and place, the type, and the newest review (`d` and `r` as INCIDENT_SELECT
# joins them); incident_of reads the first INCIDENT_WIDTH values of such a row.
INCIDENT_COLUMNS = sql.SQL(", ").join([
    *(sql.SQL("c.{}").format(sql.Identifier(name)) for name in RECORD_COLUMNS),
    sql.SQL("d.name, d.unit_id, d.lon, d.lat"),
    INCIDENT_TYPE,
    sql.SQL("r.decision, r.actor, r.at, r.reason"),
])
INCIDENT_WIDTH = len(RECORD_COLUMNS) + 9

INCIDENT_SELECT = sql.SQL(
    "SELECT {columns} "
    "FROM camera_incidents c "
    "LEFT JOIN devices d ON d.device_id = c.device_id "
    "LEFT JOIN LATERAL (SELECT decision, actor, at, reason FROM incident_reviews ir "
    "  WHERE ir.source = c.source AND ir.event_id = c.event_id "
    "  ORDER BY ir.id DESC LIMIT 1) r ON true"
).format(columns=INCIDENT_COLUMNS)

# A Frigate snapshot (`frigate/<camera>/<label>/snapshot`) belongs to the incident of the
# same camera and label that was live when it arrived (a little slack for the broker).
SNAPSHOT_BEFORE = dt.timedelta(seconds=10)
SNAPSHOT_AFTER = dt.timedelta(seconds=60)
MAX_SNAPSHOTS = 8

CUSTODY_ACTIONS = ("view", "view_snapshot", "verify", "dismiss", "note", "export")
AUDIT_ACTION = {
    "view": "evidence.view",
    "view_snapshot": "evidence.view",
    "verify": "incident.verify",
    "dismiss": "incident.dismiss",
    "note": "incident.note",
    "export": "evidence.export",
}
DECISIONS = {"verify": "verified", "dismiss": "dismissed"}
MAX_REASON = 1000
MAX_NOTE = 2000


def incident_of(row: tuple) -> Incident:
    """The incident from a row of INCIDENT_SELECT (its first INCIDENT_WIDTH values)."""
    n = len(RECORD_COLUMNS)
    record = dict(zip(RECORD_COLUMNS, row[:n], strict=True))
    name, unit_id, lon, lat, kind, decision, actor, at, reason = row[n:INCIDENT_WIDTH]
    return Incident(
        **{**record, "zones": tuple(record["zones"] or ()), "data": record["data"] or {}},
        camera_name=name, unit_id=unit_id, lon=lon, lat=lat, type=kind or record["label"],
        review=decision, reviewed_by=actor, reviewed_at=at, review_reason=reason,
    )


def split_key(key: str | None) -> tuple[str, str] | None:
    """('frigate', '1748…-k3n9vq') from 'frigate:1748…-k3n9vq'; None when malformed."""
    if not isinstance(key, str) or ":" not in key:
        return None
    source, event_id = key.split(":", 1)
    if source not in ("ioc", "frigate") or not 0 < len(event_id) <= 128:
        return None
    return source, event_id


def load_incident(conn, source: str, event_id: str) -> Incident | None:
    row = conn.execute(
        INCIDENT_SELECT + sql.SQL(" WHERE c.source = %s AND c.event_id = %s"),
        (source, event_id),
    ).fetchone()
    return incident_of(row) if row else None


# -- snapshots ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class SnapshotInfo:
    sha256: str
    content_type: str
    size: int
    device_id: str
    label: str | None
    time: dt.datetime


_SNAPSHOT_COLUMNS = sql.SQL("sha256, content_type, size, device_id, label, time")


def incident_snapshots(conn, inc: Incident) -> list[SnapshotInfo]:
    """The stored snapshots of an incident, newest first (the first is the one shown).

    Our JSON names its snapshot (`sha256:<hex>`); Frigate sends snapshots per camera and
    label on their own topic, so they are matched by camera, label and time.
    """
    if inc.snapshot_sha256:
        rows = conn.execute(
            sql.SQL("SELECT {} FROM camera_snapshots WHERE sha256 = %s").format(
                _SNAPSHOT_COLUMNS),
            (inc.snapshot_sha256,),
        ).fetchall()
    elif inc.source == "frigate":
        end = inc.ended_at or inc.last_update
        rows = conn.execute(
            sql.SQL(
                "SELECT {} FROM camera_snapshots WHERE device_id = %s AND label = %s "
                "AND content_type LIKE 'image/%%' "
                "AND time BETWEEN %s AND %s ORDER BY time DESC LIMIT %s"
            ).format(_SNAPSHOT_COLUMNS),
            (inc.device_id, inc.label, inc.started_at - SNAPSHOT_BEFORE, end + SNAPSHOT_AFTER,
             MAX_SNAPSHOTS),
        ).fetchall()
    else:
        rows = []
    # pictures fetched from Frigate's HTTP API for this incident (police.frigate_media)
    fetched = conn.execute(
        sql.SQL("SELECT {} FROM camera_snapshots WHERE sha256 IN (SELECT sha256 FROM "
                "incident_media WHERE source = %s AND event_id = %s AND kind = 'snapshot') "
                "ORDER BY time DESC").format(_SNAPSHOT_COLUMNS),
        (inc.source, inc.event_id),
    ).fetchall()
    fetched_shas = {r[0] for r in fetched}
    return [SnapshotInfo(*r) for r in [*fetched, *(r for r in rows if r[0] not in fetched_shas)]]


def incident_clips(conn, inc: Incident) -> list[SnapshotInfo]:
    """The video clips fetched for an incident (stored like snapshots, by their SHA-256)."""
    rows = conn.execute(
        sql.SQL("SELECT {} FROM camera_snapshots WHERE sha256 IN (SELECT sha256 FROM "
                "incident_media WHERE source = %s AND event_id = %s AND kind = 'clip') "
                "ORDER BY time DESC").format(_SNAPSHOT_COLUMNS),
        (inc.source, inc.event_id),
    ).fetchall()
    return [SnapshotInfo(*r) for r in rows]


@dataclass(frozen=True)
class SnapshotContent:
    sha256: str
    content: bytes
    content_type: str
    device_id: str
    label: str | None
    time: dt.datetime


def load_snapshot(conn, sha256: str) -> SnapshotContent | None:
    row = conn.execute(
        "SELECT sha256, content, content_type, device_id, label, time "
        "FROM camera_snapshots WHERE sha256 = %s",
        (sha256,),
    ).fetchone()
    if row is None:
        return None
    return SnapshotContent(row[0], bytes(row[1]), row[2], row[3], row[4], row[5])


# -- reviews, notes, custody -------------------------------------------------------------------
@dataclass(frozen=True)
class Review:
    decision: str
    reason: str
    actor: str
    at: dt.datetime


@dataclass(frozen=True)
class Note:
    note: str
    actor: str
    at: dt.datetime


@dataclass(frozen=True)
class CustodyEntry:
    id: int
    at: dt.datetime
    actor: str
    action: str
    ip: str | None
    details: Mapping[str, Any] = field(hash=False, compare=False)


def load_reviews(conn, source: str, event_id: str) -> list[Review]:
    rows = conn.execute(
        "SELECT decision, reason, actor, at FROM incident_reviews "
        "WHERE source = %s AND event_id = %s ORDER BY id",
        (source, event_id),
    ).fetchall()
    return [Review(*r) for r in rows]


def load_notes(conn, source: str, event_id: str) -> list[Note]:
    rows = conn.execute(
        "SELECT note, actor, at FROM incident_notes WHERE source = %s AND event_id = %s "
        "ORDER BY id",
        (source, event_id),
    ).fetchall()
    return [Note(*r) for r in rows]


def load_custody(conn, source: str, event_id: str) -> list[CustodyEntry]:
    rows = conn.execute(
        "SELECT id, at, actor, action, ip, details FROM evidence_custody "
        "WHERE source = %s AND event_id = %s ORDER BY id",
        (source, event_id),
    ).fetchall()
    return [CustodyEntry(*r) for r in rows]


def record_custody(
    conn,
    source: str,
    event_id: str,
    *,
    actor: str,
    action: str,
    ip: str | None = None,
    details: Mapping[str, Any] | None = None,
    audited: bool = True,
) -> int:
    """One custody entry and its audit entry (same transaction: both or neither).

    audited=False leaves the audit entry to the caller (an export audits its manifest hash,
    known only once the bundle is built)."""
    if action not in CUSTODY_ACTIONS:
        raise ValueError(f"unknown custody action {action!r}")
    (entry_id,) = conn.execute(
        "INSERT INTO evidence_custody (source, event_id, actor, action, ip, details) "
        "VALUES (%s, %s, %s, %s, %s, %s) RETURNING id",
        (source, event_id, actor, action, ip, Jsonb(dict(details or {}))),
    ).fetchone()
    if audited:
        audit.record(conn, actor, AUDIT_ACTION[action], f"incident:{source}:{event_id}",
                     dict(details or {}), ip)
    return entry_id


def add_review(conn, source: str, event_id: str, *, action: str, reason: str, actor: str,
               ip: str | None = None) -> None:
    """Verify or dismiss (action 'verify'/'dismiss') with a reason; checked by the caller."""
    reason = reason.strip()[:MAX_REASON]
    conn.execute(
        "INSERT INTO incident_reviews (source, event_id, decision, reason, actor) "
        "VALUES (%s, %s, %s, %s, %s)",
        (source, event_id, DECISIONS[action], reason, actor),
    )
    record_custody(conn, source, event_id, actor=actor, action=action, ip=ip,
                   details={"reason": reason})


def add_note(conn, source: str, event_id: str, *, note: str, actor: str,
             ip: str | None = None) -> None:
    note = note.strip()[:MAX_NOTE]
    conn.execute(
        "INSERT INTO incident_notes (source, event_id, note, actor) VALUES (%s, %s, %s, %s)",
        (source, event_id, note, actor),
    )
    record_custody(conn, source, event_id, actor=actor, action="note", ip=ip,
                   details={"note": note})


# -- exports -----------------------------------------------------------------------------------
@dataclass(frozen=True)
class ExportRecord:
    id: int
    bundle_id: str
    source: str
    event_id: str
    manifest_sha256: str
    bundle_sha256: str
    files: int
    size: int
    signed: bool
    actor: str
    at: dt.datetime
    ip: str | None = None
    key_id: str | None = None
    record_signature: str | None = None

    def signed_bytes(self) -> bytes:
        return export_record_bytes(
            bundle_id=self.bundle_id, source=self.source, event_id=self.event_id,
            manifest_sha256=self.manifest_sha256, bundle_sha256=self.bundle_sha256,
            files=self.files, size=self.size, signed=self.signed, actor=self.actor, ip=self.ip,
            key_id=self.key_id)

    def signature_problem(self, public_key) -> str | None:
        """Why this record is not one the web server signed with `public_key` (None: it is)."""
        where = f"evidence_exports row id {self.id} (bundle {self.bundle_id})"
        if not self.record_signature:
            return (f"{where}: not signed by the deployment's key (inserted by something "
                    "other than the web server's export, or exported without a key)")
        if public_key is None:
            return f"{where}: signed by {self.key_id}, but no public key to check it against"
        if self.key_id != public_key.key_id:
            return f"{where}: signed by another key {self.key_id}, not {public_key.key_id}"
        if not public_key.verify(self.record_signature, self.signed_bytes()):
            return f"{where}: signature does not match the record (forged or altered row)"
        return None


def export_record_bytes(**fields) -> bytes:
    """What the web server signs for one export record: its fields as canonical JSON."""
    return ("ioc-evidence-export/1\n" + json.dumps(
        fields, sort_keys=True, separators=(",", ":"), ensure_ascii=False)).encode("utf-8")


_EXPORT_COLUMNS = sql.SQL(
    "id, bundle_id::text, source, event_id, manifest_sha256, bundle_sha256, files, size, "
    "signed, actor, at, ip, key_id, record_signature")


def record_export(conn, source: str, event_id: str, *, bundle_id: str, manifest_sha256: str,
                  bundle_sha256: str, files: int, size: int, signed: bool, actor: str,
                  ip: str | None, signing_key=None) -> int:
    """The export record, signed with the deployment's key when there is one."""
    key_id = signing_key.public.key_id if signing_key else None
    signature = None
    if signing_key:
        signature = signing_key.sign(export_record_bytes(
            bundle_id=bundle_id, source=source, event_id=event_id,
            manifest_sha256=manifest_sha256, bundle_sha256=bundle_sha256, files=files,
            size=size, signed=signed, actor=actor, ip=ip, key_id=key_id))
    (export_id,) = conn.execute(
        "INSERT INTO evidence_exports (bundle_id, source, event_id, manifest_sha256, "
        "bundle_sha256, files, size, signed, actor, ip, key_id, record_signature) "
        "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s) RETURNING id",
        (bundle_id, source, event_id, manifest_sha256, bundle_sha256, files, size, signed,
         actor, ip, key_id, signature),
    ).fetchone()
    return export_id


def all_exports(conn) -> list[ExportRecord]:
    rows = conn.execute(
        sql.SQL("SELECT {} FROM evidence_exports ORDER BY id").format(_EXPORT_COLUMNS)
    ).fetchall()
    return [ExportRecord(*r) for r in rows]


def find_exports(conn, manifest_sha256: str) -> list[ExportRecord]:
    rows = conn.execute(
        sql.SQL("SELECT {} FROM evidence_exports WHERE manifest_sha256 = %s ORDER BY id").format(
            _EXPORT_COLUMNS),
        (manifest_sha256,),
    ).fetchall()
    return [ExportRecord(*r) for r in rows]
