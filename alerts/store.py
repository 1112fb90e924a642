"""Alert rows: open-or-update one alert per (rule, subject), resolve, with an event history.

Every change a rule makes is one `alert_events` row written in the same transaction; that
table is also the outbox the publisher sends to Redis, MQTT and webhooks (alerts.outbound).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import psycopg

ACTIVE = ("open", "acknowledged", "assigned")
SEVERITY_RANK = {"info": 0, "minor": 1, "moderate": 2, "severe": 3, "extreme": 4}


@dataclass(frozen=True)
class AlertDraft:
    """What a rule wants open right now for one subject."""

    rule_id: str
    subject: str
    kind: str
    severity: str
    title: str
    family: str | None = None
    district: str | None = None
    device_id: str | None = None
    value: float | None = None
    details: dict[str, Any] = field(default_factory=dict)
    public: bool = False
    occurrences: int = 1  # how many occurrences this draft stands for (a batch's readings)
    peak: float | None = None  # the worst value among them (default: value)
    lower_is_worse: bool = False  # peak is the minimum (a "below" threshold)
    level: int | None = None


@dataclass(frozen=True)
class AlertChange:
    alert_id: int
    opened: bool
    severity_changed: bool
    old_severity: str | None = None


_UPSERT = """
INSERT INTO alerts (rule_id, subject, kind, severity, title, family, district, device_id,
                    first_value, last_value, peak_value, details, public, count)
VALUES (%(rule_id)s, %(subject)s, %(kind)s, %(severity)s, %(title)s, %(family)s,
        %(district)s, %(device_id)s, %(value)s, %(value)s, %(peak)s, %(details)s, %(public)s,
        %(occurrences)s)
ON CONFLICT (rule_id, subject) WHERE status IN ('open', 'acknowledged', 'assigned')
DO UPDATE SET count = alerts.count + EXCLUDED.count,
              last_value = EXCLUDED.last_value,
              peak_value = CASE WHEN %(lower_is_worse)s
                                THEN LEAST(alerts.peak_value, EXCLUDED.peak_value)
                                ELSE GREATEST(alerts.peak_value, EXCLUDED.peak_value) END,
              last_seen_at = now(),
              updated_at = now(),
              previous_severity = alerts.severity,
              severity = EXCLUDED.severity,
              title = EXCLUDED.title,
              details = alerts.details || EXCLUDED.details
RETURNING id, (xmax = 0) AS inserted, previous_severity
"""


def open_or_update(conn: psycopg.Connection, draft: AlertDraft, actor: str = "system") -> AlertChange:
    """One open alert per (rule, subject): insert it, or count another occurrence on it.

    The partial unique index `alerts_one_open` makes this safe with several workers: the
    second insert becomes an update of the first one's row. Opening and a change of severity
    are recorded in alert_events.
    """
    peak = draft.peak if draft.peak is not None else draft.value
    row = conn.execute(
        _UPSERT,
        {
            **draft.__dict__,
            "peak": peak,
            "details": json.dumps(draft.details, ensure_ascii=False, default=str),
        },
    ).fetchone()
    alert_id, inserted, old_severity = row
    changed = not inserted and old_severity != draft.severity
    if inserted or changed:
        data: dict[str, Any] = {"severity": draft.severity, "value": draft.value}
        if draft.level is not None:
            data["level"] = draft.level
        if changed:
            data["from"] = old_severity
        for key in ("reading_time", "threshold", "thresholds", "alarm_levels_version"):
            if key in draft.details:
                data[key] = draft.details[key]
        add_event(conn, alert_id, actor, "opened" if inserted else "severity_changed", data=data)
    return AlertChange(alert_id, bool(inserted), changed, None if inserted else old_severity)


def add_event(conn: psycopg.Connection, alert_id: int, actor: str, action: str, *,
              note: str | None = None, data: dict[str, Any] | None = None) -> int:
    """One step of an alert's history (also the outbox row that announces it)."""
    return conn.execute(
        "INSERT INTO alert_events (alert_id, actor, action, note, data) "
        "VALUES (%s, %s, %s, %s, %s) RETURNING id",
        (alert_id, actor, action, note, json.dumps(data or {}, ensure_ascii=False, default=str)),
    ).fetchone()[0]


def resolve(conn: psycopg.Connection, rule_id: str, subject: str, *, actor: str = "system",
            note: str | None = None, data: dict[str, Any] | None = None) -> int | None:
    """Resolve the active alert of (rule, subject) if there is one; returns its id."""
    row = conn.execute(
        """
        UPDATE alerts SET status = 'resolved', resolved_at = now(), resolved_by = %s,
                          updated_at = now()
        WHERE rule_id = %s AND subject = %s AND status IN ('open', 'acknowledged', 'assigned')
        RETURNING id
        """,
        (actor, rule_id, subject),
    ).fetchone()
    if row is None:
        return None
    add_event(conn, row[0], actor, "resolved", note=note, data=data)
    return row[0]


def active_subjects(conn: psycopg.Connection, rule_id: str) -> dict[str, str]:
    """subject -> severity of the rule's active alerts."""
    return dict(
        conn.execute(
            "SELECT subject, severity FROM alerts WHERE rule_id = %s "
            "AND status IN ('open', 'acknowledged', 'assigned')",
            (rule_id,),
        )
    )


def active_alerts(conn: psycopg.Connection) -> dict[tuple[str, str], tuple[int, str, int]]:
    """(rule_id, subject) -> (alert id, severity, level) of every active alert."""
    return {
        (rule_id, subject): (alert_id, severity, level)
        for alert_id, rule_id, subject, severity, level in conn.execute(
            "SELECT id, rule_id, subject, severity, "
            "COALESCE(CASE WHEN jsonb_typeof(details->'level') = 'number' "
            "THEN (details->>'level')::numeric::int END, 1) FROM alerts "
            "WHERE status IN ('open', 'acknowledged', 'assigned')"
        )
    }
