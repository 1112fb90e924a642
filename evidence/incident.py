"""The camera incident's shape, defined once (pure).

`IncidentRecord` is what one `camera_incidents` row holds: ingest merges camera events into
it and writes it (ingest/incidents.py, ingest/store.py). `Incident` is the same record as the
police page, the evidence bundles and the API read it back (evidence/store.py): with its
camera's name and place, its type and its current review. `RECORD_COLUMNS` names the table's
columns in the record's order, for the statements that write or read them.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields
from typing import Any


@dataclass(frozen=True, slots=True)
class IncidentRecord:
    """What `camera_incidents` holds for one incident (0002, 0006)."""

    source: str
    event_id: str
    device_id: str
    label: str
    phase: str
    first_seen: dt.datetime
    started_at: dt.datetime
    last_update: dt.datetime
    ended_at: dt.datetime | None
    confidence: float | None
    top_confidence: float | None
    zones: tuple[str, ...]
    plate: str | None
    plate_confidence: float | None
    snapshot_sha256: str | None
    snapshot_url: str | None
    false_positive: bool
    data: Mapping[str, Any]

    @property
    def key(self) -> str:
        """'<source>:<event_id>': how pages and audit entries name the incident."""
        return f"{self.source}:{self.event_id}"


# the columns of `camera_incidents`, in the order of IncidentRecord's fields
RECORD_COLUMNS: tuple[str, ...] = tuple(f.name for f in fields(IncidentRecord))


@dataclass(frozen=True)
class Incident(IncidentRecord):
    """One camera incident with its camera's place and its current review state."""

    # what the camera saw besides the record's fields; not part of the incident's identity
    data: Mapping[str, Any] = field(hash=False, compare=False)
    camera_name: str | None
    unit_id: str | None
    lon: float | None
    lat: float | None
    type: str
    review: str | None = None  # verified | dismissed | None (not reviewed)
    reviewed_by: str | None = None
    reviewed_at: dt.datetime | None = None
    review_reason: str | None = None

    def document(self) -> dict[str, Any]:
        """Everything about the incident, for a bundle's manifest (nothing masked)."""
        out = asdict(self)
        out["zones"] = list(self.zones)
        out["data"] = dict(self.data or {})
        return out
