"""Acknowledge, assign, resolve or dismiss an alert from a page, with a note.

The lifecycle (allowed transitions, the alert_events row, the audit entry, storm children)
belongs to `alerts.lifecycle`; this module adds who is asking and turns a refusal into the
reason shown to the operator.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import psycopg
from psycopg_pool import ConnectionPool

from alerts import lifecycle

log = logging.getLogger(__name__)

ACTIONS = ("acknowledge", "assign", "resolve", "false_alarm")
NOTE_REQUIRED = frozenset({"resolve", "false_alarm"})
MAX_NOTE = 1000


@dataclass(frozen=True)
class ActionResult:
    ok: bool
    reason: str  # i18n key suffix `act.<reason>`: done, not_active, not_found, note_required...
    alert_id: int | None = None


def current_actor() -> str:
    """The logged-in user's name, as the audit log names them."""
    from dashboards.auth import current_actor as actor

    return actor()


def check(action: str, note: str | None, assignee: str | None) -> str | None:
    """Why the request cannot be carried out as given, or None (pure).

    Closing an alert (resolve, false alarm) needs a note: the next shift reads why.
    """
    if action not in ACTIONS:
        return "unknown_action"
    if action in NOTE_REQUIRED and not (note or "").strip():
        return "note_required"
    if action == "assign" and not (assignee or "").strip():
        return "assignee_required"
    return None


def act(
    pool: ConnectionPool,
    alert_id: int | None,
    action: str,
    *,
    actor: str,
    note: str | None = None,
    assignee: str | None = None,
) -> ActionResult:
    """Carry out one action on one alert; refused (ok=False) with a reason, never half-done."""
    if alert_id is None:
        return ActionResult(False, "no_selection")
    problem = check(action, note, assignee)
    if problem:
        return ActionResult(False, problem, alert_id)
    note = (note or "").strip()[:MAX_NOTE] or None
    assignee = (assignee or "").strip()[:100] or None
    try:
        with pool.connection() as conn:
            if action == "acknowledge":
                lifecycle.acknowledge(conn, alert_id, actor, note)
            elif action == "assign":
                lifecycle.assign(conn, alert_id, actor, assignee, note)
            elif action == "resolve":
                lifecycle.resolve(conn, alert_id, actor, note)
            else:
                lifecycle.mark_false_alarm(conn, alert_id, actor, note)
    except lifecycle.AlertNotFound:
        return ActionResult(False, "not_found", alert_id)
    except lifecycle.TransitionNotAllowed:
        return ActionResult(False, "not_active", alert_id)
    except psycopg.OperationalError as err:  # the database went away: say so, not a 500
        log.warning("alert %s: %s failed, database unavailable: %s", alert_id, action, err)
        return ActionResult(False, "unavailable", alert_id)
    log.info("alert %s: %s by %s", alert_id, action, actor)
    return ActionResult(True, "done", alert_id)
