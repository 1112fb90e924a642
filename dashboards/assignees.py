"""Whom an alert can be assigned to: the duty units and the people who may act on alerts.

The feed's assignee picker lists them; the server refuses anyone else. A duty unit is a code
(`truc_ban`) with a name in each language (`duty.<code>` in dashboards.alert_texts); a person
is their username. What is stored in `alerts.assigned_to` is that code or username.
"""

from __future__ import annotations

from dataclasses import dataclass

from dashboards.alert_texts import duty_name
from dashboards.i18n import t
from ioc.security import users

# Duty units of a provincial operations centre; the escalation steps of the rules notify the
# same codes (alerts/rules/default.yaml `notify`).
DUTY_UNITS = ("truc_ban", "lanh_dao", "cuu_ho", "pccc", "y_te", "cong_an")
# Roles whose people take on alerts (see dashboards.access: they have the `act` right).
ASSIGNABLE_ROLES = ("operator", "admin")


@dataclass(frozen=True)
class Assignee:
    value: str  # what alerts.assigned_to stores
    kind: str  # "unit" or "person"
    name: str  # shown to the reader


def assignees(conn, lang: str) -> list[Assignee]:
    """Duty units first, then the enabled people who act on alerts, by name."""
    units = [Assignee(code, "unit", duty_name(code, lang)) for code in DUTY_UNITS]
    people = sorted(
        (Assignee(u.username, "person", u.display_name or u.username)
         for u in users.list_users(conn) if not u.disabled and u.role in ASSIGNABLE_ROLES),
        key=lambda a: a.name.lower(),
    )
    return units + people


def options(choices: list[Assignee], lang: str) -> list[dict]:
    """Dropdown options: "Đơn vị: Trực ban", "Người: Nguyễn Lan (op.lan)"."""
    return [
        {"label": t(f"assignee.{a.kind}", lang, name=a.name
                    + (f" ({a.value})" if a.kind == "person" and a.name != a.value else "")),
         "value": a.value}
        for a in choices
    ]


def display_name(value: str | None, choices: list[Assignee]) -> str:
    """The name of whoever `assigned_to` holds (as it is written when unknown)."""
    if not value:
        return ""
    return next((a.name for a in choices if a.value == value), value)
