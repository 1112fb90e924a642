"""All SQL of the alert rules: alert rows, pending conditions, the stored readings the
scheduled rules read, indices and unit levels they write, storm parents.

Alert rows: open-or-update one alert per (rule, subject), resolve, with an event history.
Every change a rule makes is one `alert_events` row written in the same transaction; that
table is also the outbox the publisher sends to Redis, MQTT and webhooks (alerts.outbound).
The engine (routing), the scheduled work and storm control call these functions; none of
them writes SQL of its own.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import psycopg
from psycopg import sql
from psycopg.types.json import Jsonb

from alerts.decisions import Device, should_reopen
from ioc.alert_status import ACTIVE, active_sql

__all__ = ["ACTIVE"]  # re-exported: the one definition is ioc.alert_status
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


# ON CONFLICT repeats the predicate of the partial unique index `alerts_one_open`.
_UPSERT = sql.SQL("""
INSERT INTO alerts (rule_id, subject, kind, severity, title, family, unit_id, device_id,
                    first_value, last_value, peak_value, details, public, count)
VALUES (%(rule_id)s, %(subject)s, %(kind)s, %(severity)s, %(title)s, %(family)s,
        %(unit_id)s, %(device_id)s, %(value)s, %(value)s, %(peak)s, %(details)s, %(public)s,
        %(occurrences)s)
ON CONFLICT (rule_id, subject) WHERE {active}
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
""").format(active=active_sql())


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
        WHERE rule_id = %s AND subject = %s AND status = ANY(%s)
        RETURNING id
        """,
        (actor, rule_id, subject, list(ACTIVE)),
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
            "WHERE status = ANY(%s)", (list(ACTIVE),)
        )
    }


# -- devices and units ---------------------------------------------------------------------------
def load_devices(conn: psycopg.Connection) -> list[Device]:
    """Every enabled device of the registry."""
    return [
        Device(device_id, family, kind, name, unit_id, lon, lat, interval, metadata or {})
        for device_id, family, kind, name, unit_id, lon, lat, interval, metadata in conn.execute(
            "SELECT device_id, family, kind, name, unit_id, lon, lat, expected_interval_s, "
            "metadata FROM devices WHERE enabled ORDER BY device_id")
    ]


def load_unit_names(conn: psycopg.Connection) -> dict[str, str]:
    return dict(conn.execute(
        "SELECT feature_id, COALESCE(name, feature_id) FROM layer_features "
        "WHERE layer = 'units'"))


# -- conditions that must hold for `for_s` (alert_pending) ---------------------------------------
Key = tuple[str, str]  # (rule_id, subject)


def pending_conditions(conn: psycopg.Connection) -> dict[Key, float]:
    """(rule, subject) -> since when (Unix seconds) its condition holds."""
    return {(rule_id, subject): since.timestamp() for rule_id, subject, since in conn.execute(
        "SELECT rule_id, subject, since FROM alert_pending")}


def set_pending(conn: psycopg.Connection, key: Key, since: float, level: int,
                value: float) -> float:
    """Record that the condition holds (the first `since` stays); returns the stored since."""
    row = conn.execute(
        "INSERT INTO alert_pending (rule_id, subject, since, level, last_value) "
        "VALUES (%s, %s, to_timestamp(%s), %s, %s) ON CONFLICT (rule_id, subject) "
        "DO UPDATE SET level = EXCLUDED.level, last_value = EXCLUDED.last_value, "
        "updated_at = now() RETURNING extract(epoch FROM since)",
        (*key, since, level, value)).fetchone()
    return float(row[0])


def clear_pending(conn: psycopg.Connection, key: Key) -> None:
    conn.execute("DELETE FROM alert_pending WHERE rule_id = %s AND subject = %s", key)


# -- what the scheduled work reads --------------------------------------------------------------
def try_task_lock(conn: psycopg.Connection, task: str) -> bool:
    """A transaction-level advisory lock for one time-based task (per schema), so that of
    several workers only one does it at a time; False when another holds it."""
    return conn.execute(
        "SELECT pg_try_advisory_xact_lock(hashtext(current_schema() || %s))",
        (f":ioc-alerts:{task}",)).fetchone()[0]


def unacknowledged_top_level(conn: psycopg.Connection) -> list[tuple[int, str, float, int]]:
    """(id, rule_id, opened_at as Unix seconds, escalation_level) of open top-level alerts."""
    return conn.execute(
        "SELECT id, rule_id, extract(epoch FROM opened_at), escalation_level FROM alerts "
        "WHERE status = 'open' AND parent_id IS NULL").fetchall()


def quiet_subjects(conn: psycopg.Connection, rule_id: str, quiet_s: float) -> list[str]:
    """Subjects of the rule's active alerts without a new occurrence for `quiet_s`."""
    return [s for (s,) in conn.execute(
        "SELECT subject FROM alerts WHERE rule_id = %s AND status = ANY(%s) "
        "AND last_seen_at < now() - make_interval(secs => %s)",
        (rule_id, list(ACTIVE), quiet_s)).fetchall()]


def expired_cap_subjects(conn: psycopg.Connection, rule_id: str) -> list[str]:
    """Subjects of the rule's active CAP warnings past their `expires`."""
    return [s for (s,) in conn.execute(
        "SELECT subject FROM alerts WHERE rule_id = %s AND status = ANY(%s) "
        "AND (details->>'expires')::timestamptz < now()", (rule_id, list(ACTIVE))).fetchall()]


def cap_chain(conn: psycopg.Connection, rule_id: str,
              keys: Sequence[str]) -> tuple[str, list[str]] | None:
    """(subject, every CAP key of its chain) of the rule's active warning that holds one of
    `keys`, or None."""
    row = conn.execute(
        "SELECT subject, details->'cap_keys' FROM alerts WHERE rule_id = %s "
        "AND status = ANY(%s) AND (details->'cap_keys') ?| %s ORDER BY id LIMIT 1",
        (rule_id, list(ACTIVE), list(keys))).fetchone()
    return (row[0], list(row[1] or [])) if row else None


def rain_totals(conn: psycopg.Connection, metric: str, device_ids: list[str],
                windows: Iterable[int],
                antecedent_h: int) -> dict[str, tuple[dict[int, float], float]]:
    """device -> ({window hours: mm}, mm in the `antecedent_h` before the longest window)."""
    windows = sorted(set(windows))
    if not device_ids or not windows:
        return {}
    longest = windows[-1]
    cols = [
        sql.SQL("COALESCE(sum(value) FILTER (WHERE time > now() - make_interval(hours => {})),"
                " 0)").format(sql.Literal(w))
        for w in windows
    ]
    cols.append(sql.SQL(
        "COALESCE(sum(value) FILTER (WHERE time <= now() - make_interval(hours => {})), 0)"
    ).format(sql.Literal(longest)))
    query = sql.SQL(
        "SELECT device_id, {} FROM readings WHERE metric = %s AND device_id = ANY(%s) "
        "AND time > now() - make_interval(hours => %s) AND time <= now() + interval '5 min' "
        "GROUP BY device_id").format(sql.SQL(", ").join(cols))
    out = {}
    for row in conn.execute(query, (metric, device_ids, longest + antecedent_h)):
        out[row[0]] = ({w: float(v) for w, v in zip(windows, row[1:-1], strict=True)},
                       float(row[-1]))
    return out


def hourly_means(conn: psycopg.Connection, metrics: Sequence[str],
                 device_ids: list[str]) -> dict[str, dict[str, list[float | None]]]:
    """device -> metric -> 12 hourly means, the hour ending now first."""
    out: dict[str, dict[str, list[float | None]]] = {}
    if not device_ids:
        return out
    for device_id, metric, hour, mean in conn.execute(
            "SELECT device_id, metric, floor(extract(epoch FROM now() - time) / 3600)::int, "
            "avg(value) FROM readings WHERE metric = ANY(%s) AND device_id = ANY(%s) "
            "AND time > now() - interval '12 hours' AND time <= now() + interval '5 min' "
            "GROUP BY 1, 2, 3", (list(metrics), device_ids)):
        series = out.setdefault(device_id, {}).setdefault(metric, [None] * 12)
        series[max(0, min(11, hour))] = float(mean)
    return out


def save_air_quality_index(conn: psycopg.Connection, device_id: str, standard: str, aqi: int,
                           category: int, dominant: str | None, sub_indices: dict) -> None:
    conn.execute(
        "INSERT INTO air_quality_index (device_id, standard, aqi, category, dominant,"
        " sub_indices) VALUES (%s, %s, %s, %s, %s, %s) ON CONFLICT (device_id, "
        "standard) DO UPDATE SET aqi = EXCLUDED.aqi, category = EXCLUDED.category, "
        "dominant = EXCLUDED.dominant, sub_indices = EXCLUDED.sub_indices, "
        "computed_at = now()",
        (device_id, standard, aqi, category, dominant, Jsonb(sub_indices)))


# -- unit disaster levels -----------------------------------------------------------------------
def unit_hazards(conn: psycopg.Connection) -> dict[str, dict]:
    """unit -> the hazards (type -> level) stored with its current level."""
    return {d: h for d, h in conn.execute("SELECT unit_id, hazards FROM unit_hazard_levels")}


def unit_levels_stored(conn: psycopg.Connection) -> dict[str, int]:
    return {d: lv for d, lv in conn.execute("SELECT unit_id, level FROM unit_hazard_levels")}


def save_unit_level(conn: psycopg.Connection, unit_id: str, *, level: int, base_level: int,
                    uplift: int, colour: str, label: str, hazards: dict, basis: dict,
                    changed: bool) -> None:
    """Store a unit's level (and a history row when it `changed`)."""
    conn.execute(
        "INSERT INTO unit_hazard_levels (unit_id, level, base_level, uplift, colour,"
        " label, hazards, basis) VALUES (%s, %s, %s, %s, %s, %s, %s, %s) "
        "ON CONFLICT (unit_id) DO UPDATE SET level = EXCLUDED.level, "
        "base_level = EXCLUDED.base_level, uplift = EXCLUDED.uplift, "
        "colour = EXCLUDED.colour, label = EXCLUDED.label, hazards = EXCLUDED.hazards, "
        "basis = EXCLUDED.basis, updated_at = now(), changed_at = CASE WHEN "
        "unit_hazard_levels.level <> EXCLUDED.level THEN now() "
        "ELSE unit_hazard_levels.changed_at END",
        (unit_id, level, base_level, uplift, colour, label, Jsonb(hazards), Jsonb(basis)))
    if changed:
        conn.execute(
            "INSERT INTO unit_hazard_history (unit_id, at, level, hazards) "
            "VALUES (%s, clock_timestamp(), %s, %s)", (unit_id, level, Jsonb(hazards)))


# -- storm parents --------------------------------------------------------------------------------
def active_alert_id(conn: psycopg.Connection, rule_id: str, subject: str) -> int | None:
    row = conn.execute(
        "SELECT id FROM alerts WHERE rule_id = %s AND subject = %s AND status = ANY(%s)",
        (rule_id, subject, list(ACTIVE))).fetchone()
    return row[0] if row else None


def recent_top_level(conn: psycopg.Connection, kind: str, unit_id: str | None,
                     except_rule: str, window_s: float) -> list[tuple[int, str]]:
    """(id, severity) of active top-level alerts of a kind and unit opened within the window."""
    return conn.execute(
        "SELECT id, severity FROM alerts WHERE kind = %s AND unit_id IS NOT DISTINCT FROM %s"
        " AND parent_id IS NULL AND rule_id <> %s AND status = ANY(%s)"
        " AND opened_at > now() - make_interval(secs => %s) ORDER BY id",
        (kind, unit_id, except_rule, list(ACTIVE), window_s)).fetchall()


def child_count(conn: psycopg.Connection, parent_id: int) -> int:
    return conn.execute("SELECT count(*) FROM alerts WHERE parent_id = %s",
                        (parent_id,)).fetchone()[0]


def severity_of(conn: psycopg.Connection, alert_id: int) -> str:
    return conn.execute("SELECT severity FROM alerts WHERE id = %s", (alert_id,)).fetchone()[0]


def attach_children(conn: psycopg.Connection, parent_id: int, child_ids: list[int]) -> list[int]:
    """Make top-level alerts children of `parent_id` (its count follows); returns those
    attached, each with a `grouped` event."""
    attached = [r[0] for r in conn.execute(
        "UPDATE alerts SET parent_id = %s, updated_at = now() WHERE id = ANY(%s) "
        "AND parent_id IS NULL RETURNING id", (parent_id, child_ids)).fetchall()]
    for child_id in attached:
        add_event(conn, child_id, "system", "grouped", data={"parent_id": parent_id})
    if attached:
        conn.execute("UPDATE alerts SET count = (SELECT count(*) FROM alerts c "
                     "WHERE c.parent_id = %s) WHERE id = %s", (parent_id, parent_id))
    return attached


def parents_without_active_children(conn: psycopg.Connection, rule_id: str) -> list[str]:
    """Subjects of the rule's active parents none of whose children is active any more."""
    return [s for (s,) in conn.execute(
        "SELECT p.subject FROM alerts p WHERE p.rule_id = %s AND p.status = ANY(%s) "
        "AND NOT EXISTS (SELECT 1 FROM alerts c WHERE c.parent_id = p.id "
        "AND c.status = ANY(%s))", (rule_id, list(ACTIVE), list(ACTIVE))).fetchall()]
