"""The statuses of an alert, written once: which are active (someone must act) and which closed.

SQL takes them as parameters (`status = ANY(%s)` with `list(ACTIVE)`); the partial unique
index on active alerts (migrations, `ON CONFLICT ... WHERE status IN (...)`) has to spell them
out, and says so.
"""

from __future__ import annotations

from typing import Literal

ACTIVE: tuple[str, ...] = ("open", "acknowledged", "assigned")
CLOSED: tuple[str, ...] = ("resolved", "false_alarm")
STATUSES: tuple[str, ...] = ACTIVE + CLOSED

Status = Literal["open", "acknowledged", "assigned", "resolved", "false_alarm"]
