"""Merges camera events into one incident row per (source, event_id), in any order (pure).

The row is evidence.incident.IncidentRecord, the shape the police page reads back.
The same rules run in SQL (`store.py`, ON CONFLICT DO UPDATE) for rows already stored; here
they combine the events of one batch first, because one INSERT may not touch a row twice.
Applying an event twice gives the same row, so redelivery is harmless.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime

from evidence.incident import IncidentRecord
from evidence.privacy import plate_key
from ingest.records import CameraEvent, ReviewItem
from police.queue import Candidate
from police.rules import Detection, incident_type


def snapshot_fields(ref: str | None) -> tuple[str | None, str | None]:
    """(sha256 hex, url) from a snapshot reference `sha256:<hex>` or a URL."""
    if not ref:
        return None, None
    if ref.startswith("sha256:"):
        return ref[7:].lower(), None
    return None, ref


def _max(a, b):
    if a is None:
        return b
    if b is None:
        return a
    return a if a >= b else b


def incident_from_event(event: CameraEvent) -> IncidentRecord:
    sha, url = snapshot_fields(event.snapshot_ref)
    return IncidentRecord(
        source=event.source,
        event_id=event.event_id,
        device_id=event.device_id,
        label=event.label,
        phase=event.phase,
        first_seen=min(event.time, event.started_at),
        started_at=event.started_at,
        last_update=event.time,
        ended_at=event.time if event.ended_at is None and event.phase == "end" else event.ended_at,
        confidence=event.confidence,
        top_confidence=_max(event.top_confidence, event.confidence),
        zones=tuple(sorted(set(event.zones))),
        plate=event.plate,
        plate_confidence=event.plate_confidence,
        snapshot_sha256=sha,
        snapshot_url=url,
        false_positive=event.false_positive,
        data=dict(event.data),
    )


def merge_incident(old: IncidentRecord, new: IncidentRecord) -> IncidentRecord:
    """The incident after both rows' events; the same result whichever came first."""
    newer, older = (new, old) if new.last_update >= old.last_update else (old, new)
    ended = "end" in (old.phase, new.phase)
    return replace(
        newer,
        phase="end" if ended else newer.phase,
        first_seen=min(old.first_seen, new.first_seen),
        started_at=min(old.started_at, new.started_at),
        last_update=max(old.last_update, new.last_update),
        ended_at=_max(old.ended_at, new.ended_at),
        confidence=newer.confidence if newer.confidence is not None else older.confidence,
        top_confidence=_max(old.top_confidence, new.top_confidence),
        zones=tuple(sorted(set(old.zones) | set(new.zones))),
        plate=newer.plate or older.plate,
        plate_confidence=(
            newer.plate_confidence if newer.plate_confidence is not None else older.plate_confidence
        ),
        snapshot_sha256=newer.snapshot_sha256 or older.snapshot_sha256,
        snapshot_url=newer.snapshot_url or older.snapshot_url,
        data={**older.data, **newer.data},
    )


def queue_candidate(row: IncidentRecord) -> Candidate:
    """What the police queue's decision (police.rules.decide) needs of an incident."""
    return Candidate(row.source, row.event_id, row.device_id, row.first_seen, Detection(
        device_id=row.device_id, type=incident_type(row.label, row.data), zones=row.zones,
        confidence=row.top_confidence if row.top_confidence is not None else row.confidence,
        plate_key=plate_key(row.plate), false_positive=row.false_positive))


def merge_incidents(events: list[CameraEvent]) -> list[IncidentRecord]:
    """One row per incident from the events of one batch."""
    rows: dict[str, IncidentRecord] = {}
    for event in events:
        row = incident_from_event(event)
        prev = rows.get(row.key)
        rows[row.key] = row if prev is None else merge_incident(prev, row)
    return list(rows.values())


@dataclass(frozen=True, slots=True)
class ReviewRow:
    """What `frigate_reviews` holds for one review item."""

    review_id: str
    device_id: str
    phase: str
    severity: str
    event_ids: tuple[str, ...]
    first_seen: datetime
    last_update: datetime
    ended_at: datetime | None
    data: dict


def review_from_item(item: ReviewItem) -> ReviewRow:
    return ReviewRow(
        review_id=item.review_id,
        device_id=item.device_id,
        phase=item.phase,
        severity=item.severity,
        event_ids=tuple(sorted(set(item.event_ids))),
        first_seen=item.time,
        last_update=item.time,
        ended_at=item.time if item.phase == "end" else None,
        data=dict(item.data),
    )


def merge_review(old: ReviewRow, new: ReviewRow) -> ReviewRow:
    newer, older = (new, old) if new.last_update >= old.last_update else (old, new)
    ended = "end" in (old.phase, new.phase)
    return replace(
        newer,
        phase="end" if ended else newer.phase,
        event_ids=tuple(sorted(set(old.event_ids) | set(new.event_ids))),
        first_seen=min(old.first_seen, new.first_seen),
        last_update=max(old.last_update, new.last_update),
        ended_at=_max(old.ended_at, new.ended_at),
        data={**older.data, **newer.data},
    )


def merge_reviews(items: list[ReviewItem]) -> list[ReviewRow]:
    rows: dict[str, ReviewRow] = {}
    for item in items:
        row = review_from_item(item)
        prev = rows.get(row.review_id)
        rows[row.review_id] = row if prev is None else merge_review(prev, row)
    return list(rows.values())
