"""Operator actions on an alert: acknowledge, assign, resolve, false alarm, note, escalate.

    open ──► acknowledged ──► assigned ──► resolved
      │            │             │  ▲
      └────────────┴─────────────┴──┴──► false_alarm      (assigned ──► assigned: reassign)

Each action checks the transition is allowed, updates the alert and writes one
`alert_events` row with who, when and the note; people's actions also go to the audit log.
An action on a storm parent is applied to its active children as well. The alert worker's
publisher then announces the change (Redis, MQTT, webhooks).

Each function runs in its own transaction block: it commits by itself, unless the caller
already has a transaction open on the connection; then it is a savepoint inside the caller's
transaction and the caller commits (or rolls back) both.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime

import psycopg

from alerts.store import ACTIVE, add_event

SYSTEM_ACTORS = frozenset({"system"})
TRANSITIONS: dict[str, frozenset[str]] = {
    "open": frozenset({"acknowledged", "assigned", "resolved", "false_alarm"}),
    "acknowledged": frozenset({"assigned", "resolved", "false_alarm"}),
    "assigned": frozenset({"assigned", "resolved", "false_alarm"}),
    "resolved": frozenset(),
    "false_alarm": frozenset(),
}


class LifecycleError(Exception):
    """An action that is not allowed; the message says why (shown to the operator)."""


class AlertNotFound(LifecycleError, LookupError):
    pass


class TransitionNotAllowed(LifecycleError):
    pass


@dataclass(frozen=True)
class AlertStatus:
    """An alert's state after an action."""

    alert_id: int
    status: str
    assigned_to: str | None
    acknowledged_at: datetime | None
    resolved_at: datetime | None
    event_id: int
    children: int = 0  # active children the action was applied to as well


def can_transition(status: str, target: str) -> bool:
    """Whether an alert in `status` may move to `target` (pure)."""
    return target in TRANSITIONS.get(status, frozenset())


def acknowledge(conn: psycopg.Connection, alert_id: int, actor: str,
                note: str | None = None) -> AlertStatus:
    """An operator has seen the alert and takes it on; stops its escalation."""
    return _transition(conn, alert_id, actor, "acknowledged", note)


def acknowledge_all(conn: psycopg.Connection, actor: str, *, device_id: str | None = None,
                    unit: str | None = None, note: str | None = None) -> list[int]:
    """Acknowledge every unacknowledged (`open`) top-level alert of one device (station) or
    of one administrative unit, in one transaction; returns the ids acknowledged, oldest
    first. Each gets its own history event and audit entry, as if acknowledged one by one."""
    if (device_id is None) == (unit is None):
        raise LifecycleError("acknowledge all: give either a device or a unit")
    column = "device_id" if device_id is not None else "unit_id"
    from psycopg import sql

    done = []
    with conn.transaction():
        ids = [row[0] for row in conn.execute(
            sql.SQL("SELECT id FROM alerts WHERE {} = %s AND status = 'open' "
                    "AND parent_id IS NULL ORDER BY opened_at, id").format(sql.Identifier(column)),
            (device_id if device_id is not None else unit,))]
        for alert_id in ids:
            try:  # someone else may have taken it on meanwhile: skip it, keep the others
                _transition(conn, alert_id, actor, "acknowledged", note)
            except TransitionNotAllowed:
                continue
            done.append(alert_id)
    return done


def assign(conn: psycopg.Connection, alert_id: int, actor: str, assignee: str,
           note: str | None = None) -> AlertStatus:
    """Hand the alert to `assignee` (a user or a unit); acknowledges it if it was not yet."""
    assignee = (assignee or "").strip()
    if not assignee:
        raise LifecycleError("assign: who to assign the alert to is missing")
    return _transition(conn, alert_id, actor, "assigned", note, assignee=assignee)


def resolve(conn: psycopg.Connection, alert_id: int, actor: str,
            note: str | None = None) -> AlertStatus:
    """The problem is dealt with. If the condition still holds, the rule re-opens this same
    alert (a `reopened` event; `alerts.store.open_or_update`), never a second one."""
    return _transition(conn, alert_id, actor, "resolved", note)


def mark_false_alarm(conn: psycopg.Connection, alert_id: int, actor: str,
                     note: str | None = None) -> AlertStatus:
    """There was no real problem (a faulty sensor, a misdetection); say why in `note`."""
    return _transition(conn, alert_id, actor, "false_alarm", note)


def add_note(conn: psycopg.Connection, alert_id: int, actor: str, note: str) -> int:
    """A remark in the alert's history without changing its status; returns the event id."""
    if not (note or "").strip():
        raise LifecycleError("note: empty")
    with conn.transaction():
        if conn.execute("SELECT 1 FROM alerts WHERE id = %s", (alert_id,)).fetchone() is None:
            raise AlertNotFound(f"alert {alert_id} does not exist")
        event_id = add_event(conn, alert_id, actor, "note", note=note)
        _audit(conn, actor, "alert.note", alert_id, {"note": note})
    return event_id


def escalate(conn: psycopg.Connection, alert_id: int, level: int, *, notify: str = "",
             raise_severity: bool = False, actor: str = "system") -> bool:
    """Record escalation step `level` of an alert still open (not acknowledged).

    Only the first caller for a step succeeds (several workers may try); returns whether
    this call escalated.
    """
    with conn.transaction():
        row = conn.execute(
            """
            UPDATE alerts SET escalation_level = %(level)s, escalated_at = now(),
                   updated_at = now(),
                   severity = CASE WHEN %(raise)s THEN (CASE severity
                       WHEN 'info' THEN 'minor' WHEN 'minor' THEN 'moderate'
                       WHEN 'moderate' THEN 'severe' ELSE 'extreme' END) ELSE severity END
            WHERE id = %(id)s AND status = 'open' AND escalation_level = %(level)s - 1
            RETURNING severity
            """,
            {"id": alert_id, "level": level, "raise": raise_severity},
        ).fetchone()
        if row is None:
            return False
        add_event(conn, alert_id, actor, "escalated",
                  data={"level": level, "notify": notify, "severity": row[0]})
    return True


# -- the common part ----------------------------------------------------------------------------
def _transition(conn: psycopg.Connection, alert_id: int, actor: str, target: str,
                note: str | None, *, assignee: str | None = None) -> AlertStatus:
    actor = (actor or "").strip()
    if not actor:
        raise LifecycleError("who does this is missing (actor)")
    with conn.transaction():
        row = conn.execute(
            "SELECT status, parent_id FROM alerts WHERE id = %s FOR UPDATE", (alert_id,)
        ).fetchone()
        if row is None:
            raise AlertNotFound(f"alert {alert_id} does not exist")
        status, _parent = row
        if not can_transition(status, target):
            raise TransitionNotAllowed(
                f"alert {alert_id} is {status}; it cannot become {target}"
                + (" (it is closed)" if status in ("resolved", "false_alarm") else "")
            )
        result, event_id = _apply(conn, alert_id, actor, status, target, note, assignee)
        children = conn.execute(
            "SELECT id, status FROM alerts WHERE parent_id = %s AND status = ANY(%s) "
            "ORDER BY id FOR UPDATE", (alert_id, list(ACTIVE))
        ).fetchall()
        applied = 0
        for child_id, child_status in children:
            if can_transition(child_status, target):
                _apply(conn, child_id, actor, child_status, target,
                       note if note else None, assignee, via=alert_id)
                applied += 1
        if actor not in SYSTEM_ACTORS:
            _audit(conn, actor, f"alert.{target}", alert_id,
                   {"from": status, "note": note, "assignee": assignee, "children": applied})
    return AlertStatus(alert_id, result[0], result[1], result[2], result[3], event_id, applied)


_SET = {
    "acknowledged": "status = 'acknowledged', acknowledged_at = COALESCE(acknowledged_at, now()),"
                    " acknowledged_by = COALESCE(acknowledged_by, %(actor)s)",
    "assigned": "status = 'assigned', assigned_to = %(assignee)s,"
                " acknowledged_at = COALESCE(acknowledged_at, now()),"
                " acknowledged_by = COALESCE(acknowledged_by, %(actor)s)",
    "resolved": "status = 'resolved', resolved_at = now(), resolved_by = %(actor)s",
    "false_alarm": "status = 'false_alarm', resolved_at = now(), resolved_by = %(actor)s",
}


def _apply(conn, alert_id, actor, status, target, note, assignee, via=None):
    from psycopg import sql

    query = sql.SQL(
        "UPDATE alerts SET {}, updated_at = now() WHERE id = %(id)s "
        "RETURNING status, assigned_to, acknowledged_at, resolved_at"
    ).format(sql.SQL(_SET[target]))
    result = conn.execute(query, {"id": alert_id, "actor": actor, "assignee": assignee}).fetchone()
    data = {"from": status, "to": target}
    if assignee:
        data["assignee"] = assignee
    if via is not None:
        data["via_parent"] = via
    event_id = add_event(conn, alert_id, actor, target, note=note, data=data)
    return result, event_id


def _audit(conn, actor: str, action: str, alert_id: int, details: dict) -> None:
    conn.execute(
        "INSERT INTO audit_log (actor, action, target, details) VALUES (%s, %s, %s, %s)",
        (actor, action, f"alert:{alert_id}", json.dumps(details, ensure_ascii=False,
                                                        default=str)),
    )
