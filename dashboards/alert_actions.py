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


def check(action: str, note: str | None, assignee: str | None,
          allowed_assignees: frozenset[str] | None = None) -> str | None:
    """Why the request cannot be carried out as given, or None (pure).

    Closing an alert (resolve, false alarm) needs a note: the next shift reads why. With
    `allowed_assignees`, an alert is assigned only to one of them (a person or duty unit).
    """
    if action not in ACTIONS:
        return "unknown_action"
    if action in NOTE_REQUIRED and not (note or "").strip():
        return "note_required"
    if action == "assign" and not (assignee or "").strip():
        return "assignee_required"
    if (action == "assign" and allowed_assignees is not None
            and assignee.strip() not in allowed_assignees):
        return "assignee_unknown"
    return None


# What a page's action buttons stand for: `<page>-act-ack` acknowledges, and so on.
BUTTONS = {"act-ack": "acknowledge", "act-assign": "assign", "act-resolve": "resolve",
           "act-false": "false_alarm"}


def action_of(button_id: object, page: str) -> str | None:
    """The action of one of `page`'s buttons (`feed-act-ack` -> "acknowledge"), else None."""
    if not isinstance(button_id, str) or not button_id.startswith(page + "-"):
        return None
    return BUTTONS.get(button_id.removeprefix(page + "-"))


def act_from_button(page: str, button_id: object, alert_id: int | None, note: str | None,
                    lang: str, assignee: str | None = None) -> ActionResult | None:
    """What the alert-action callbacks of the pages share: the action the clicked button
    stands for, carried out by the logged-in user on the selected alert (an assignment only
    to a person or duty unit of the list). None when the button is not an action button."""
    from dashboards import assignees as who
    from dashboards.context import context

    action = action_of(button_id, page)
    if action is None:
        return None
    pool = context().pool
    allowed = None
    if action == "assign":
        with pool.connection() as conn:
            allowed = frozenset(a.value for a in who.assignees(conn, lang))
    return act(pool, alert_id, action, actor=current_actor(), note=note, assignee=assignee,
               allowed_assignees=allowed)


def act(
    pool: ConnectionPool,
    alert_id: int | None,
    action: str,
    *,
    actor: str,
    note: str | None = None,
    assignee: str | None = None,
    allowed_assignees: frozenset[str] | None = None,
) -> ActionResult:
    """Carry out one action on one alert; refused (ok=False) with a reason, never half-done."""
    if alert_id is None:
        return ActionResult(False, "no_selection")
    problem = check(action, note, assignee, allowed_assignees)
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


@dataclass(frozen=True)
class BulkResult:
    ok: bool
    reason: str  # `act.<reason>`: bulk_done, no_selection
    alert_ids: tuple[int, ...] = ()


def acknowledge_all(pool: ConnectionPool, *, actor: str, device_id: str | None = None,
                    unit: str | None = None, note: str | None = None) -> BulkResult:
    """Acknowledge every unacknowledged alert of one station (device) or one unit at once."""
    if not device_id and not unit:
        return BulkResult(False, "no_selection")
    note = (note or "").strip()[:MAX_NOTE] or None
    with pool.connection() as conn:
        ids = lifecycle.acknowledge_all(conn, actor, device_id=device_id or None,
                                        unit=None if device_id else unit, note=note)
    log.info("acknowledged %d alerts of %s by %s", len(ids), device_id or unit, actor)
    return BulkResult(True, "bulk_done", tuple(ids))
