"""Which roles may see each page and call its callbacks: the one table the server enforces.

Component ids start with their page's prefix (`feed-table`, `ops-map`, ...), so the server
can check every Dash callback request against this table before running it
(dashboards/auth.py). Conventions the check relies on:

- a string id's page is the text before its first '-' (`feed-ack-button` -> `feed`);
  a pattern-matching (dict) id's page is that of its `type` value
  (`{"type": "feed-act-ack", "index": 3}` -> `feed`);
- a component that changes state (acknowledge, verify, import, save, ...) has `act` as the
  second part of its id: `feed-act-ack`, `admin-act-user-save`. A callback with such an
  input, output or state needs `may_act` on that id's page, not only `may_view`;
- a page's own prefix is its module name up to the first '_' (`admin_users` -> `admin`),
  or the `access` keyword given to `dash.register_page`.

Unknown pages are refused to everyone: a new page is added to the tables below.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass

from ioc.security.roles import ROLES

__all__ = [
    "ACT_ROLES",
    "PUBLIC_PREFIXES",
    "ROLES",
    "VIEW_ROLES",
    "CallbackDecision",
    "check_callback",
    "is_action",
    "may_act",
    "may_view",
    "page_of",
    "page_of_module",
]

# page prefix -> roles that may view the page and run its read-only callbacks
VIEW_ROLES: dict[str, frozenset[str]] = {
    "status": frozenset(ROLES),
    "ops": frozenset({"operator", "leadership", "admin"}),
    "feed": frozenset({"operator", "leadership", "admin"}),
    "devices": frozenset({"operator", "leadership", "admin"}),
    "wall": frozenset({"operator", "leadership", "admin"}),
    "police": frozenset({"police", "admin"}),
    "kpi": frozenset({"leadership", "operator", "admin"}),
    "admin": frozenset({"admin"}),
}

# page prefix -> roles that may change state from it (acknowledge, verify, import, ...)
ACT_ROLES: dict[str, frozenset[str]] = {
    "feed": frozenset({"operator", "admin"}),
    "ops": frozenset({"operator", "admin"}),
    "police": frozenset({"police", "admin"}),
    "kpi": frozenset({"leadership", "admin"}),  # targets per plan period
    "admin": frozenset({"admin"}),
    "devices": frozenset({"admin"}),  # the device registry: edit, retire, MQTT passwords
}

# Prefixes anyone may use, logged in or not: the log-in page, the app shell (navigation
# bar) and Dash's own page router (`_pages_location`, ...). None of them changes state.
PUBLIC_PREFIXES = frozenset({"login", "app", "_pages"})


def _plain_id(component_id):
    """A pattern-matching id is a dict, or its JSON text in Dash's callback map: use its type."""
    if isinstance(component_id, str) and component_id.startswith("{"):
        try:
            component_id = json.loads(component_id)
        except ValueError:
            return component_id
    if isinstance(component_id, dict):
        return component_id.get("type")
    return component_id


def page_of(component_id) -> str:
    """The page prefix of a component id (`feed-ack-button` -> `feed`); '' when it has none."""
    component_id = _plain_id(component_id)
    if not isinstance(component_id, str) or not component_id:
        return ""
    if component_id.startswith("_pages"):
        return "_pages"
    return component_id.split("-", 1)[0]


def is_action(component_id) -> bool:
    """Whether the id marks a state-changing component (`<page>-act-...`)."""
    component_id = _plain_id(component_id)
    if not isinstance(component_id, str):
        return False
    parts = component_id.split("-", 2)
    return len(parts) >= 2 and parts[1] == "act"


def page_of_module(module: str, explicit: str | None = None) -> str:
    """The access prefix of a page module (`dashboards.pages.admin_users` -> `admin`)."""
    if explicit:
        return explicit
    return module.rsplit(".", 1)[-1].split("_", 1)[0]


def may_view(role: str | None, page: str) -> bool:
    if page in PUBLIC_PREFIXES:
        return True
    return role is not None and role in VIEW_ROLES.get(page, frozenset())


def may_act(role: str | None, page: str) -> bool:
    return role is not None and role in ACT_ROLES.get(page, frozenset())


@dataclass(frozen=True)
class CallbackDecision:
    allowed: bool
    reason: str = ""  # which id was refused and why, for the log and the audit entry


def check_callback(role: str | None, component_ids: Iterable) -> CallbackDecision:
    """May `role` run a callback touching these ids (every output, input and state)?

    Pure: the web app passes the ids the server registered for the callback, not the ones
    the request claims.
    """
    ids = list(component_ids)
    if not ids:
        return CallbackDecision(False, "callback has no component ids")
    who = role or "anonymous"
    for cid in ids:
        page = page_of(cid)
        if not page:
            return CallbackDecision(False, f"id {cid!r} has no page prefix")
        if not may_view(role, page):
            return CallbackDecision(False, f"{who} may not view {page!r}")
        if is_action(cid) and not may_act(role, page):
            return CallbackDecision(False, f"{who} may not act on {page!r} ({cid!r})")
    return CallbackDecision(True)
