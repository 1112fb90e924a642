"""The four roles of the operations centre and what each is for."""

from __future__ import annotations

OPERATOR = "operator"
POLICE = "police"
LEADERSHIP = "leadership"
ADMIN = "admin"

# Same order as the CHECK constraint on users.role (0001_core.sql).
ROLES: tuple[str, ...] = (OPERATOR, POLICE, LEADERSHIP, ADMIN)

ROLE_PURPOSE: dict[str, str] = {
    OPERATOR: "operations map, alert feed and alert actions",
    POLICE: "camera incidents and evidence",
    LEADERSHIP: "KPIs and read-only operations",
    ADMIN: "users, rules, layers and the audit log",
}


def check_role(role: str) -> str:
    """`role` if it is one of ROLES, else ValueError naming the allowed ones."""
    if role not in ROLES:
        raise ValueError(f"unknown role {role!r}; one of: {', '.join(ROLES)}")
    return role
