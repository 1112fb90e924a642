"""Read-only queries over alerts, their history and the unit disaster levels.

For the dashboards and the HTTP API: typed rows, explicit parameterised SQL.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any

import psycopg
from psycopg import sql

from alerts.decisions import format_title
from alerts.store import SEVERITY_RANK
from ioc import alert_status
from ioc import alert_titles as titles
from ioc.alert_status import ACTIVE, CLOSED, active_sql

STATUSES = alert_status.STATUSES
ORDERS = ("newest", "triage")


@dataclass(frozen=True)
class Alert:
    id: int
    rule_id: str
    subject: str
    kind: str
    family: str | None
    severity: str
    status: str
    title: str
    unit_id: str | None
    device_id: str | None
    parent_id: int | None
    count: int
    first_value: float | None
    last_value: float | None
    peak_value: float | None
    opened_at: datetime
    last_seen_at: datetime
    acknowledged_at: datetime | None
    acknowledged_by: str | None
    assigned_to: str | None
    resolved_at: datetime | None
    resolved_by: str | None
    escalated_at: datetime | None
    escalation_level: int
    public: bool
    updated_at: datetime
    details: dict[str, Any]
    children: int = 0  # active children (storm parents)
    lon: float | None = None  # where its device is (read with `located=True`)
    lat: float | None = None

    @property
    def active(self) -> bool:
        return self.status in ACTIVE

    def to_json(self) -> dict[str, Any]:
        out = {}
        for f in fields(self):
            value = getattr(self, f.name)
            out[f.name] = value.isoformat() if isinstance(value, datetime) else value
        return out


_ALERT_COLUMNS = [f.name for f in fields(Alert) if f.name not in ("children", "lon", "lat")]


def _alert_select(located: bool = False) -> sql.Composable:
    """SELECT of every Alert field (with the device's place when `located`) FROM alerts a."""
    cols = sql.SQL(", ").join(sql.SQL("a.{}").format(sql.Identifier(c)) for c in _ALERT_COLUMNS)
    query = sql.SQL(
        "SELECT {cols}, (SELECT count(*) FROM alerts c WHERE c.parent_id = a.id "
        "AND {active}) AS children"
    ).format(cols=cols, active=active_sql("c.status"))
    if located:
        return query + sql.SQL(
            ", dv.lon, dv.lat FROM alerts a LEFT JOIN devices dv ON dv.device_id = a.device_id"
        )
    return query + sql.SQL(" FROM alerts a")


@dataclass(frozen=True)
class AlertEvent:
    id: int
    alert_id: int
    at: datetime
    actor: str
    action: str
    note: str | None
    data: dict[str, Any]


def title_in(alert: Alert, lang: str) -> str:
    """The alert's title in the reader's language: its rule's template for `lang`, or its
    built-in template (`ioc.alert_titles`), filled with the fields stored when it was written
    (`details.title_i18n`); the stored (Vietnamese) title for older alerts, or when the rule
    has no template in that language."""
    i18n = alert.details.get("title_i18n") if isinstance(alert.details, dict) else None
    if not isinstance(i18n, dict):
        return alert.title
    params = i18n.get("params")
    if not isinstance(params, dict):
        return alert.title
    template_id = i18n.get("template_id")
    try:
        if isinstance(template_id, str):
            return titles.render(template_id, params, lang)
        template = (i18n.get("templates") or {}).get(lang)
        if not isinstance(template, str):
            return alert.title
        return format_title(template, params, lang)
    except (ValueError, TypeError, KeyError, IndexError, AttributeError):
        return alert.title


def triage_key(alert: Alert) -> tuple:
    """Sort key of the operators' order: active before closed; then the most severe; then
    the unacknowledged (`open`) before those someone has taken on; then the oldest first (it
    has waited longest, and a new alert joins the end of its group instead of pushing rows
    down under the cursor); closed ones newest first; the id breaks ties, so the order is
    the same at every refresh."""
    closed = alert.status not in ACTIVE
    opened = alert.opened_at.timestamp()
    return (
        closed,
        -SEVERITY_RANK.get(alert.severity, 0),
        alert.status != "open",
        -opened if closed else opened,
        -alert.id if closed else alert.id,
    )


def triage_order(alerts: Iterable[Alert]) -> list[Alert]:
    """Alerts in the operators' order (see `triage_key`)."""
    return sorted(alerts, key=triage_key)


# The same order in SQL, so that a LIMIT keeps the rows that come first (tested against
# triage_key).
_TRIAGE_SQL = sql.SQL(
    " ORDER BY (NOT {active}),"
    " CASE a.severity WHEN 'extreme' THEN 4 WHEN 'severe' THEN 3 WHEN 'moderate' THEN 2"
    " WHEN 'minor' THEN 1 ELSE 0 END DESC,"
    " (a.status <> 'open'),"
    " CASE WHEN {active} THEN a.opened_at END ASC,"
    " CASE WHEN {active} THEN a.id END ASC,"
    " a.opened_at DESC, a.id DESC"
).format(active=active_sql("a.status"))


def _as_list(value: str | Sequence[str] | None) -> list[str] | None:
    if value is None:
        return None
    if isinstance(value, str):
        return [value]
    return list(value)


def list_alerts(
    conn: psycopg.Connection,
    *,
    status: str | Sequence[str] | None = "active",
    severity: str | Sequence[str] | None = None,
    family: str | Sequence[str] | None = None,
    unit_id: str | Sequence[str] | None = None,
    kind: str | Sequence[str] | None = None,
    rule_id: str | Sequence[str] | None = None,
    since: datetime | None = None,
    parent_id: int | None = None,
    top_level: bool = True,
    public: bool | None = None,
    limit: int = 100,
    order: str = "newest",
) -> list[Alert]:
    """Alerts, newest first (`order="triage"`: the operators' order, see `triage_key`).

    status: "active" (open, acknowledged, assigned; the default), "closed", one status or a
    list; None = any. severity/family/unit_id/kind/rule_id: one value or a list. since: opened
    at or after. top_level: hide storm children (they are reached through their parent);
    parent_id: only the children of that parent (implies top_level=False).
    """
    where: list[sql.Composable] = []
    params: dict[str, Any] = {}
    if status == "active":
        statuses: list[str] | None = list(ACTIVE)
    elif status == "closed":
        statuses = list(CLOSED)
    else:
        statuses = _as_list(status)
    if statuses is not None:
        unknown = set(statuses) - set(STATUSES)
        if unknown:
            raise ValueError(f"unknown status {sorted(unknown)}; known: {', '.join(STATUSES)}")
        where.append(sql.SQL("a.status = ANY(%(statuses)s)"))
        params["statuses"] = statuses
    for name, value in (("severity", severity), ("family", family), ("unit_id", unit_id),
                        ("kind", kind), ("rule_id", rule_id)):
        values = _as_list(value)
        if values is not None:
            where.append(sql.SQL("a.{} = ANY(%({})s)").format(sql.Identifier(name),
                                                             sql.SQL(name)))
            params[name] = values
    if since is not None:
        where.append(sql.SQL("a.opened_at >= %(since)s"))
        params["since"] = since
    if public is not None:
        where.append(sql.SQL("a.public = %(public)s"))
        params["public"] = public
    if parent_id is not None:
        where.append(sql.SQL("a.parent_id = %(parent_id)s"))
        params["parent_id"] = parent_id
    elif top_level:
        where.append(sql.SQL("a.parent_id IS NULL"))
    query = _alert_select()
    if where:
        query += sql.SQL(" WHERE ") + sql.SQL(" AND ").join(where)
    if order not in ORDERS:
        raise ValueError(f"unknown order {order!r}; known: {', '.join(ORDERS)}")
    if order == "triage":
        query += _TRIAGE_SQL
    else:
        query += sql.SQL(" ORDER BY a.opened_at DESC, a.id DESC")
    query += sql.SQL(" LIMIT %(limit)s")
    params["limit"] = max(1, min(int(limit), 10_000))
    return [Alert(*row) for row in conn.execute(query, params)]


def get_alert(conn: psycopg.Connection, alert_id: int) -> Alert | None:
    row = conn.execute(_alert_select() + sql.SQL(" WHERE a.id = %s"), (alert_id,)).fetchone()
    return Alert(*row) if row else None


# -- for the HTTP API: filters as its parameters say, keyset pages, the device's place ----------
def _any(column: str, values: Sequence[Any] | None, where: list, params: list) -> None:
    if values:
        where.append(sql.SQL("{} = ANY(%s)").format(sql.Identifier("a", column)))
        params.append(list(values))


def api_conditions(
    *,
    status: Sequence[str] | None = None,
    severity: Sequence[str] | None = None,
    family: Sequence[str] | None = None,
    unit_id: Sequence[str] | None = None,
    device_id: Sequence[str] | None = None,
    rule_id: Sequence[str] | None = None,
    kind: Sequence[str] | None = None,
    ids: Sequence[int] | None = None,
    top_level: bool | None = None,
    start: datetime | None = None,
    end: datetime | None = None,
    include_camera: bool,
) -> tuple[list[sql.Composable], list[Any]]:
    """WHERE conditions (AND-ed) and their parameters: each filter one value or a list (None:
    any); status "active" stands for the active statuses; `start`/`end`: active at some time
    in [start, end); camera alerts (fights, wanted plates) only with `include_camera`."""
    where: list[sql.Composable] = []
    params: list[Any] = []
    statuses = list(status or ())
    if "active" in statuses:
        statuses = sorted({s for s in statuses if s != "active"} | set(ACTIVE))
    for column, values in (("status", statuses), ("severity", severity), ("family", family),
                           ("unit_id", unit_id), ("device_id", device_id),
                           ("rule_id", rule_id), ("kind", kind), ("id", ids)):
        _any(column, values, where, params)
    if top_level is not None:
        where.append(sql.SQL("a.parent_id IS NULL" if top_level else "a.parent_id IS NOT NULL"))
    if start is not None:
        where.append(sql.SQL("(a.resolved_at IS NULL OR a.resolved_at >= %s)"))
        params.append(start)
    if end is not None:
        where.append(sql.SQL("a.opened_at < %s"))
        params.append(end)
    if not include_camera:
        where.append(sql.SQL("a.family IS DISTINCT FROM 'camera'"))
    return where, params


def _where(where: list[sql.Composable]) -> sql.Composable:
    return sql.SQL(" WHERE ") + sql.SQL(" AND ").join(where) if where else sql.SQL("")


def alerts_page(conn: psycopg.Connection, conditions: tuple[list, list],
                after: Sequence | None, limit: int) -> list[Alert]:
    """Alerts matching `conditions` (api_conditions), newest opened first, with their place;
    `after`: the (opened_at, id) of the previous page's last row; limit+1 rows at most (the
    caller tells from the extra one that there is a next page)."""
    where, params = list(conditions[0]), list(conditions[1])
    if after is not None:
        where.append(sql.SQL("(a.opened_at, a.id) < (%s, %s)"))
        params += list(after)
    query = _alert_select(located=True) + _where(where) + sql.SQL(
        " ORDER BY a.opened_at DESC, a.id DESC LIMIT %s")
    return [Alert(*row) for row in conn.execute(query, [*params, limit + 1])]


def alerts_by_id(conn: psycopg.Connection, conditions: tuple[list, list], limit: int,
                 offset: int) -> list[Alert]:
    """Alerts matching `conditions` in id order, with their place (offset paging)."""
    where, params = conditions
    query = _alert_select(located=True) + _where(where) + sql.SQL(
        " ORDER BY a.id LIMIT %s OFFSET %s")
    return [Alert(*row) for row in conn.execute(query, [*params, limit, offset])]


def count_alerts(conn: psycopg.Connection, conditions: tuple[list, list]) -> int:
    where, params = conditions
    query = sql.SQL("SELECT count(*) FROM alerts a") + _where(where)
    return int(conn.execute(query, params).fetchone()[0])


def get_located_alert(conn: psycopg.Connection, alert_id: int, *,
                      include_camera: bool) -> Alert | None:
    """One alert with its device's place (None when missing, or a camera alert and not
    `include_camera`)."""
    found = alerts_by_id(conn, api_conditions(ids=[alert_id], include_camera=include_camera),
                         1, 0)
    return found[0] if found else None


def alert_history(conn: psycopg.Connection, alert_id: int) -> list[AlertEvent]:
    """Every step of an alert, oldest first: who did what, when, with which note."""
    return [
        AlertEvent(*row)
        for row in conn.execute(
            "SELECT id, alert_id, at, actor, action, note, data FROM alert_events "
            "WHERE alert_id = %s ORDER BY at, id", (alert_id,))
    ]


def escalated_to(conn: psycopg.Connection, alert_ids: Sequence[int]) -> dict[int, str]:
    """alert id -> whom its latest escalation step notified (the rule's `notify`), for the
    alerts among `alert_ids` that have escalated."""
    if not alert_ids:
        return {}
    return dict(conn.execute(
        "SELECT DISTINCT ON (alert_id) alert_id, coalesce(data->>'notify', '') "
        "FROM alert_events WHERE alert_id = ANY(%s) AND action = 'escalated' "
        "ORDER BY alert_id, at DESC, id DESC", (list(alert_ids),)))


def count_active(conn: psycopg.Connection, *, top_level: bool = True) -> dict[str, int]:
    """severity -> number of active alerts (storm children left out by default)."""
    return dict(conn.execute(
        "SELECT severity, count(*) FROM alerts WHERE status = ANY(%s) "
        "AND (NOT %s OR parent_id IS NULL) GROUP BY severity", (list(ACTIVE), top_level)))


@dataclass(frozen=True)
class UnitHazard:
    unit_id: str
    level: int
    base_level: int
    uplift: int
    colour: str
    label: str
    hazards: dict[str, int]
    basis: dict[str, Any]
    changed_at: datetime
    updated_at: datetime


def unit_hazard_levels(conn: psycopg.Connection,
                           max_age_s: float | None = None) -> list[UnitHazard]:
    """The disaster risk level (0..5, Decision 18/2021 colours) of every unit computed;
    with `max_age_s`, only levels the alerts worker refreshed that recently (a stopped worker
    must not leave yesterday's level looking current)."""
    return [
        UnitHazard(*row)
        for row in conn.execute(
            "SELECT unit_id, level, base_level, uplift, colour, label, hazards, basis, "
            "changed_at, updated_at FROM unit_hazard_levels "
            "WHERE %(age)s::float8 IS NULL "
            "   OR updated_at > now() - make_interval(secs => %(age)s::float8) "
            "ORDER BY level DESC, unit_id", {"age": max_age_s})
    ]


@dataclass(frozen=True)
class StationAqi:
    device_id: str
    standard: str
    aqi: int
    category: int
    dominant: str
    sub_indices: dict[str, int]
    computed_at: datetime


def air_quality_indices(conn: psycopg.Connection, standard: str = "vn_aqi",
                        max_age_s: float | None = None) -> list[StationAqi]:
    """The latest index of every air-quality station on one scale (vn_aqi or us_epa); with
    `max_age_s`, only indices computed that recently."""
    return [
        StationAqi(*row)
        for row in conn.execute(
            "SELECT device_id, standard, aqi, category, dominant, sub_indices, computed_at "
            "FROM air_quality_index WHERE standard = %(standard)s AND (%(age)s::float8 IS NULL "
            "   OR computed_at > now() - make_interval(secs => %(age)s::float8)) "
            "ORDER BY aqi DESC", {"standard": standard, "age": max_age_s})
    ]
