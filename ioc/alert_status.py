"""The statuses of an alert, defined once for every package that reads or writes alerts.

SQL takes them as parameters (``status = ANY(%s)`` with ``list(ACTIVE)``); where PostgreSQL
needs them written out (the predicate of the partial unique index `alerts_one_open`, which an
``ON CONFLICT ... WHERE`` must repeat), `active_sql()` writes them from this tuple.
"""

from __future__ import annotations

from typing import Literal

from psycopg import sql

ACTIVE = ("open", "acknowledged", "assigned")  # an alert someone still has to deal with
CLOSED = ("resolved", "false_alarm")
STATUSES = ACTIVE + CLOSED

Status = Literal["open", "acknowledged", "assigned", "resolved", "false_alarm"]


def active_sql(column: str = "status") -> sql.Composed:
    """``status IN ('open', 'acknowledged', 'assigned')``, from ACTIVE."""
    return sql.SQL("{} IN ({})").format(sql.Identifier(*column.split(".")),
                                         sql.SQL(", ").join(map(sql.Literal, ACTIVE)))
