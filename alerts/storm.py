"""Storm control: many alerts of one kind in one unit become children of one parent.

The parent is itself an alert (rule_id "storm", subject "<kind>:<unit_id>"), so the unique
index keeps it single across workers and the operator acknowledges, assigns or resolves it
once (alerts.lifecycle applies the action to its children). Children keep their own history;
the parent's count is the number of alerts it groups and its severity is the worst of them.
It resolves by itself when none of its children is active any more.
"""

from __future__ import annotations

import psycopg

from alerts import store
from alerts.decisions import RenderedTitle, builtin_title, storm_due, storm_subject, worst
from alerts.rules import StormConfig
from alerts.store import AlertDraft, open_or_update, resolve
from ioc.alert_titles import WHOLE_PROVINCE, note

STORM_RULE = "storm"


def storm_title(kind: str, unit_name: str, count: int) -> RenderedTitle:
    """"<count> alerts of <kind> in <unit>", stored as a template id and its parameters."""
    return builtin_title("storm", count=count, kind=kind, unit_name=unit_name)


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
        parent = store.active_alert_id(conn, STORM_RULE, subject)
        candidates = store.recent_top_level(conn, kind, unit_id, STORM_RULE, config.window_s)
        if not candidates or not storm_due(config, kind, len(candidates), parent is not None):
            continue
        total = store.child_count(conn, parent) if parent is not None else 0
        severity = worst([sev for _, sev in candidates])
        if parent is not None:
            severity = worst([severity, store.severity_of(conn, parent)])
        draft = AlertDraft(
            rule_id=STORM_RULE, subject=subject, kind=kind, severity=severity,
            title=storm_title(kind, names.get(unit_id or "", unit_id or WHOLE_PROVINCE["vi"]),
                              total + len(candidates)),
            family=family, unit_id=unit_id, value=float(total + len(candidates)),
            details={"storm": True, "window_s": config.window_s}, occurrences=0,
        )
        change = open_or_update(conn, draft, reopen_s=0)  # a parent is never re-opened
        if store.attach_children(conn, change.alert_id, [c[0] for c in candidates]):
            parents.append(change.alert_id)
    return parents


def resolve_finished_storms(conn: psycopg.Connection) -> list[int]:
    """Resolve parents none of whose children is active any more."""
    out = []
    for subject in store.parents_without_active_children(conn, STORM_RULE):
        alert_id = resolve(conn, STORM_RULE, subject, note=note("storm_over"))
        if alert_id is not None:
            out.append(alert_id)
    return out
