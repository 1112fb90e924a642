"""The append-only audit log: `record` a sensitive action, `search` the record.

Other packages call `record(conn, actor, action, ...)` inside the same transaction as the
change they audit, so the change and its record are committed (or rolled back) together.
Action names are dotted, `<object>.<what happened>`; every one ioc writes is in ACTIONS.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from psycopg import sql

# Every action ioc writes; the admin page offers them as filters. Others are allowed (the
# log must never refuse), but a module that writes a new one adds it here and to
# docs/security.md (tests/integration/test_security_store.py checks the writers' names).
ACTIONS: tuple[str, ...] = (
    # log-in and access (ioc.security.users, dashboards.auth, dashboards.api)
    "login.success",
    "login.failure",
    "login.limited",
    "logout",
    "access.denied",
    # people and API tokens (ioc.security.users, ioc.security.tokens)
    "user.create",
    "user.role",
    "user.disable",
    "user.enable",
    "user.unlock",
    "user.password",
    "token.create",
    "token.revoke",
    # alert actions (alerts.lifecycle: `alert.<status reached>`, and notes)
    "alert.acknowledged",
    "alert.assigned",
    "alert.resolved",
    "alert.false_alarm",
    "alert.note",
    # alert rules in the alert_rules table (alerts.rules.store, `ioc alerts rules`)
    "alert_rule.save",
    "alert_rule.enable",
    "alert_rule.disable",
    "alert_rule.delete",
    # camera evidence and police review (evidence, dashboards.evidence, the API)
    "evidence.view",
    "evidence.export",
    "incident.verify",
    "incident.dismiss",
    "incident.note",
    "incident.read",
    # plate watchlists (police.watchlist, `ioc police watchlist`, the police page)
    "watchlist.add",
    "watchlist.remove",
    # data loaded by an administrator (layers.store, kpi.importer)
    "layer.import",
    "kpi.import",
    # ingest workers joining and retiring (ingest.members_store, `ioc ingest --retire`)
    "ingest.join",
    "ingest.retire",
    # targets per plan period (kpi.targets, `ioc kpi targets`)
    "kpi.target.set",
    "kpi.target.remove",
    # the device registry (ioc.devices: `ioc devices`, the registry page)
    "device.import",
    "device.edit",
    "device.alarm_levels",
    "device.retire",
    "device.restore",
    "device.credential_create",
    "device.credential_rotate",
    "device.credential_revoke",
)

MAX_TEXT = 500  # actor/action/target longer than this are cut (the log must never refuse)


@dataclass(frozen=True)
class AuditEntry:
    id: int
    at: dt.datetime
    actor: str
    action: str
    target: str | None
    ip: str | None
    details: dict[str, Any]


def record(
    conn,
    actor: str,
    action: str,
    target: str | None = None,
    details: dict[str, Any] | None = None,
    ip: str | None = None,
) -> int:
    """Append one entry; returns its id. Does not commit: the caller's transaction does."""
    row = conn.execute(
        "INSERT INTO audit_log (actor, action, target, ip, details) "
        "VALUES (%s, %s, %s, %s, %s::jsonb) RETURNING id",
        (
            (actor or "?")[:MAX_TEXT],
            action[:MAX_TEXT],
            None if target is None else str(target)[:MAX_TEXT],
            None if ip is None else ip[:100],
            json.dumps(details or {}, ensure_ascii=False, default=str),
        ),
    ).fetchone()
    return row[0]


def _like(text: str) -> str:
    """A LIKE pattern matching `text` literally anywhere."""
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def search(
    conn,
    *,
    actor: str | None = None,
    action: str | None = None,
    text: str | None = None,
    since: dt.datetime | None = None,
    until: dt.datetime | None = None,
    limit: int = 200,
    before_id: int | None = None,
) -> list[AuditEntry]:
    """Newest first. `action` matches exactly or as a prefix ending in '.' (e.g. 'login.');
    `text` matches target, actor, address or details, case-insensitively."""
    where: list[sql.Composable] = []
    params: list[Any] = []
    if actor:
        where.append(sql.SQL("actor = %s"))
        params.append(actor)
    if action:
        if action.endswith("."):
            where.append(sql.SQL("action LIKE %s"))
            params.append(_like(action)[1:])  # prefix match: drop the leading %
        else:
            where.append(sql.SQL("action = %s"))
            params.append(action)
    if text:
        where.append(
            sql.SQL(
                "(coalesce(target, '') ILIKE %s OR actor ILIKE %s OR coalesce(ip, '') ILIKE %s "
                "OR details::text ILIKE %s)"
            )
        )
        params.extend([_like(text)] * 4)
    if since is not None:
        where.append(sql.SQL("at >= %s"))
        params.append(since)
    if until is not None:
        where.append(sql.SQL("at < %s"))
        params.append(until)
    if before_id is not None:
        where.append(sql.SQL("id < %s"))
        params.append(before_id)
    query = sql.SQL(
        "SELECT id, at, actor, action, target, ip, details FROM audit_log {} "
        "ORDER BY at DESC, id DESC LIMIT %s"
    ).format(sql.SQL("WHERE ") + sql.SQL(" AND ").join(where) if where else sql.SQL(""))
    params.append(max(1, min(int(limit), 5000)))
    return [AuditEntry(*row) for row in conn.execute(query, params).fetchall()]


@dataclass(frozen=True)
class SearchFilters:
    actor: str | None = None
    action: str | None = None
    text: str | None = None
    since: dt.datetime | None = None
    until: dt.datetime | None = None


class FilterError(ValueError):
    """A search filter that cannot be used; the message is the offending value."""


def _date(value, tz: str, *, end: bool) -> dt.datetime | None:
    if value in (None, ""):
        return None
    try:
        day = dt.date.fromisoformat(str(value)[:10])
    except ValueError:
        raise FilterError(str(value)[:40]) from None
    start = dt.datetime.combine(day, dt.time(), tzinfo=ZoneInfo(tz))
    return start + dt.timedelta(days=1) if end else start


def _text(value, limit: int = 200) -> str | None:
    if not isinstance(value, str):
        return None
    value = value.strip()
    return value[:limit] or None


def parse_filters(actor, action, text, since, until, tz: str) -> SearchFilters:
    """Typed filters from a search form's raw values (pure; FilterError on a bad date).

    Dates are whole days in `tz`; 'until' includes that day.
    """
    return SearchFilters(
        actor=_text(actor),
        action=_text(action, 100),
        text=_text(text),
        since=_date(since, tz, end=False),
        until=_date(until, tz, end=True),
    )
