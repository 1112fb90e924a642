"""Storm control: many alerts of one kind in one unit become children of one parent.

The parent is itself an alert (rule_id "storm", subject "<kind>:<unit_id>"), so the unique
index keeps it single across workers and the operator acknowledges, assigns or resolves it
once (alerts.lifecycle applies the action to its children). Children keep their own history;
the parent's count is the number of alerts it groups and its severity is the worst of them.
It resolves by itself when none of its children is active any more.
"""

from __future__ import annotations

import psycopg

from alerts.decisions import storm_due, storm_subject, worst
from alerts.rules import StormConfig
from alerts.store import ACTIVE, AlertDraft, add_event, open_or_update, resolve

STORM_RULE = "storm"
KIND_LABELS_VI = {
    "camera_incident": "sự việc camera",
    "device_silent": "thiết bị mất tín hiệu",
    "water_level": "mực nước vượt báo động",
    "heavy_rain": "mưa lớn",
    "air_quality": "chất lượng không khí",
    "crowding": "quá tải điểm du lịch",
    "landslide": "cảnh báo sạt lở",
    "cap_warning": "bản tin cảnh báo",
    "disaster_level": "rủi ro thiên tai",
}


def storm_title(kind: str, unit_name: str, count: int) -> str:
    return f"{count} cảnh báo {KIND_LABELS_VI.get(kind, kind)} tại {unit_name}"


def group_new_alerts(conn: psycopg.Connection, config: StormConfig,
                     opened: list[tuple[int, str, str | None, str | None]],
                     unit_names: dict[str, str] | None = None) -> list[int]:
    """Apply storm control after alerts opened: `opened` holds (id, kind, unit_id, family)
    of each. Returns the ids of the parents that gained children. Call it inside the
    transaction that opened the alerts, so a child never shows as top-level."""
    if not config.enabled or not opened:
        return []
    names = unit_names or {}
    parents = []
    seen: set[tuple[str, str | None]] = set()
    for _alert_id, kind, unit_id, family in opened:
        if (kind, unit_id) in seen or not config.applies_to(kind):
            continue
        seen.add((kind, unit_id))
        subject = storm_subject(kind, unit_id)
        parent = conn.execute(
            "SELECT id FROM alerts WHERE rule_id = %s AND subject = %s AND status = ANY(%s)",
            (STORM_RULE, subject, list(ACTIVE))).fetchone()
        candidates = conn.execute(
            "SELECT id, severity FROM alerts WHERE kind = %s AND unit_id IS NOT DISTINCT FROM %s"
            " AND parent_id IS NULL AND rule_id <> %s AND status = ANY(%s)"
            " AND opened_at > now() - make_interval(secs => %s) ORDER BY id",
            (kind, unit_id, STORM_RULE, list(ACTIVE), config.window_s)).fetchall()
        if not candidates or not storm_due(config, kind, len(candidates), parent is not None):
            continue
        total = conn.execute(
            "SELECT count(*) FROM alerts WHERE parent_id = %s", (parent[0],)
        ).fetchone()[0] if parent else 0
        severity = worst([sev for _, sev in candidates])
        if parent is not None:
            current = conn.execute("SELECT severity FROM alerts WHERE id = %s",
                                   (parent[0],)).fetchone()[0]
            severity = worst([severity, current])
        draft = AlertDraft(
            rule_id=STORM_RULE, subject=subject, kind=kind, severity=severity,
            title=storm_title(kind, names.get(unit_id or "", unit_id or "toàn tỉnh"),
                              total + len(candidates)),
            family=family, unit_id=unit_id, value=float(total + len(candidates)),
            details={"storm": True, "window_s": config.window_s}, occurrences=0,
        )
        change = open_or_update(conn, draft, reopen_s=0)  # a parent is never re-opened
        parent_id = change.alert_id
        attached = conn.execute(
            "UPDATE alerts SET parent_id = %s, updated_at = now() WHERE id = ANY(%s) "
            "AND parent_id IS NULL RETURNING id",
            (parent_id, [c[0] for c in candidates])).fetchall()
        for (child_id,) in attached:
            add_event(conn, child_id, "system", "grouped", data={"parent_id": parent_id})
        if attached:
            conn.execute("UPDATE alerts SET count = (SELECT count(*) FROM alerts c "
                         "WHERE c.parent_id = %s) WHERE id = %s", (parent_id, parent_id))
            parents.append(parent_id)
    return parents


def resolve_finished_storms(conn: psycopg.Connection) -> list[int]:
    """Resolve parents none of whose children is active any more."""
    rows = conn.execute(
        "SELECT p.subject FROM alerts p WHERE p.rule_id = %s AND p.status = ANY(%s) "
        "AND NOT EXISTS (SELECT 1 FROM alerts c WHERE c.parent_id = p.id "
        "AND c.status = ANY(%s))", (STORM_RULE, list(ACTIVE), list(ACTIVE))).fetchall()
    out = []
    for (subject,) in rows:
        alert_id = resolve(conn, STORM_RULE, subject, note="mọi cảnh báo của nhóm đã đóng")
        if alert_id is not None:
            out.append(alert_id)
    return out
