"""Alert rows: open-or-update one alert per (rule, subject), resolve, with an event history.

Every change a rule makes is one `alert_events` row written in the same transaction; that
table is also the outbox the publisher sends to Redis, MQTT and webhooks (alerts.outbound).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import psycopg

from alerts.decisions import should_reopen
from alerts.statuses import ACTIVE  # noqa: F401 - where the alerts package reads it

REOPEN_S = 3600.0  # a person's "resolved" this recent is re-opened while the condition holds
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
    unit_id: str | None = None
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
    reopened: bool = False  # a person had resolved it while its condition still held


# The alert a person resolved recently for the same rule and subject: while the condition
# still holds, the rule's next occurrence re-opens it instead of starting a second alert.
_LAST_RESOLVED = """
SELECT id, severity, resolved_by, extract(epoch FROM resolved_at), extract(epoch FROM now())
FROM alerts
WHERE rule_id = %(rule_id)s AND subject = %(subject)s AND id <> %(new_id)s
  AND status = 'resolved' AND parent_id IS NULL
ORDER BY resolved_at DESC, id DESC LIMIT 1
FOR UPDATE
"""

_REOPEN = """
UPDATE alerts SET
    status = CASE WHEN assigned_to IS NOT NULL THEN 'assigned'
                  WHEN acknowledged_at IS NOT NULL THEN 'acknowledged' ELSE 'open' END,
    resolved_at = NULL, resolved_by = NULL,
    count = count + %(occurrences)s, last_value = %(value)s,
    peak_value = CASE WHEN %(lower_is_worse)s THEN LEAST(peak_value, %(peak)s)
                      ELSE GREATEST(peak_value, %(peak)s) END,
    last_seen_at = now(), updated_at = now(), previous_severity = severity,
    severity = %(severity)s, title = %(title)s, details = details || %(details)s
WHERE id = %(id)s
RETURNING status
"""


_UPSERT = """
INSERT INTO alerts (rule_id, subject, kind, severity, title, family, unit_id, device_id,
                    first_value, last_value, peak_value, details, public, count)
VALUES (%(rule_id)s, %(subject)s, %(kind)s, %(severity)s, %(title)s, %(family)s,
        %(unit_id)s, %(device_id)s, %(value)s, %(value)s, %(peak)s, %(details)s, %(public)s,
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


def open_or_update(conn: psycopg.Connection, draft: AlertDraft, actor: str = "system", *,
                   reopen_s: float = REOPEN_S) -> AlertChange:
    """One open alert per (rule, subject): insert it, or count another occurrence on it.

    The partial unique index `alerts_one_open` makes this safe with several workers: the
    second insert becomes an update of the first one's row. Opening and a change of severity
    are recorded in alert_events.

    A condition that still holds is never a second alert: when a person resolved this rule's
    alert for the subject less than `reopen_s` seconds ago (0: never), that alert is re-opened
    (status back to where it was before, a `reopened` event in its history) instead. Call it
    inside a transaction (the engine does): the new row is replaced within it.
    """
    peak = draft.peak if draft.peak is not None else draft.value
    details = draft.details
    i18n = getattr(draft.title, "i18n", None)  # a RenderedTitle: its templates and fields
    if i18n:
        details = {**details, "title_i18n": i18n}
    params = {
        **draft.__dict__,
        "title": str(draft.title),
        "peak": peak,
        "details": json.dumps(details, ensure_ascii=False, default=str),
    }
    row = conn.execute(_UPSERT, params).fetchone()
    alert_id, inserted, old_severity = row
    if inserted and reopen_s > 0:
        earlier = conn.execute(_LAST_RESOLVED, {
            "rule_id": draft.rule_id, "subject": draft.subject, "new_id": alert_id}).fetchone()
        if earlier is not None and should_reopen(
                earlier[2], float(earlier[3]), float(earlier[4]), reopen_s):
            # nothing refers to the row inserted a moment ago in this transaction yet
            conn.execute("DELETE FROM alerts WHERE id = %s", (alert_id,))
            earlier_id, earlier_severity = earlier[0], earlier[1]
            (status,) = conn.execute(_REOPEN, {**params, "id": earlier_id}).fetchone()
            data: dict[str, Any] = {"from": "resolved", "to": status,
                                    "severity": draft.severity, "value": draft.value,
                                    "reason": "condition_still_holds"}
            if draft.level is not None:
                data["level"] = draft.level
            add_event(conn, earlier_id, actor, "reopened", data=data)
            return AlertChange(earlier_id, False, earlier_severity != draft.severity,
                               earlier_severity, reopened=True)
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
