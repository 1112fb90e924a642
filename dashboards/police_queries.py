"""The police queue and the detection search behind the police review page
(dashboards/pages/police.py): filters, the queue a page at a time, the search, the detection
count, the banner's watchlist hits, the table rows and the filter options.

The page's default view is the police queue (`police_queue`, 0016): incidents a queue rule
or a watchlist hit put there (police/rules.py), by priority, then newest first, then key
(stable between refreshes), a page at a time. The other view searches every detection
(ordinary people and vehicles too) by plate, camera, unit and time. One incident, its
context, the decisions on it and the map are dashboards/police_incident.py's.

Every function that returns incidents takes the viewer's role and masks plates on the
server for roles that may not see them (evidence.privacy). Reads are indexed: the queue by
`police_queue_order`, recent incidents by `last_update`, one plate by
`camera_incidents_plate_key` (0006_police.sql).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from typing import Any

from psycopg import sql

from dashboards.i18n import t
from dashboards.map_geometry import ui_label
from dashboards.page_parts import fmt_time
from evidence import store
from evidence.incident import Incident
from evidence.privacy import may_see_sensitive, plate_for, plate_key
from police.rules import QueueRules, load_rules, queued_types

PERIODS: dict[str, dt.timedelta | None] = {
    "1h": dt.timedelta(hours=1),
    "6h": dt.timedelta(hours=6),
    "24h": dt.timedelta(hours=24),
    "7d": dt.timedelta(days=7),
    "30d": dt.timedelta(days=30),
    "all": None,
}
DEFAULT_PERIOD = "7d"
REVIEW_STATES = ("unreviewed", "verified", "dismissed")
QUEUE_LIMIT = 200  # the detection search's page
PAGE_SIZE = 50  # the queue's page
COUNT_CAP = 10_000  # counts above this are shown as "10 000+"
VIEWS = ("queue", "all")
DEFAULT_VIEW = "queue"


# -- the queue ---------------------------------------------------------------------------------
def _strings(values: Any, limit: int = 50) -> tuple[str, ...]:
    if isinstance(values, str):
        values = [values]
    if not isinstance(values, list | tuple):
        return ()
    return tuple(dict.fromkeys(v[:128] for v in values if isinstance(v, str) and v))[:limit]


@dataclass(frozen=True)
class QueueFilter:
    types: tuple[str, ...] = ()
    cameras: tuple[str, ...] = ()
    units: tuple[str, ...] = ()  # administrative units (devices.unit_id)
    period: str = DEFAULT_PERIOD
    states: tuple[str, ...] = ()  # empty: every state, unreviewed first
    plate: str | None = None  # plate key (letters and digits, upper case)

    @classmethod
    def of(cls, types=None, cameras=None, units=None, period=None, states=None,
           plate=None):
        """A filter from the page's raw dropdown values (anything odd is ignored)."""
        return cls(
            types=_strings(types),
            cameras=_strings(cameras),
            units=_strings(units),
            period=period if period in PERIODS else DEFAULT_PERIOD,
            states=tuple(s for s in _strings(states) if s in REVIEW_STATES),
            plate=plate_key(plate[:32]) if isinstance(plate, str) else None,
        )


def _where(flt: QueueFilter, now: dt.datetime, *,
           time_column: str = "c.last_update") -> tuple[sql.Composable, list[Any]]:
    parts: list[sql.Composable] = [sql.SQL("NOT c.false_positive")]
    params: list[Any] = []
    span = PERIODS[flt.period]
    if span is not None:
        parts.append(sql.SQL("{} >= %s").format(sql.SQL(time_column)))
        params.append(now - span)
    if flt.plate:
        parts.append(sql.SQL("c.plate IS NOT NULL AND {} = %s").format(store.PLATE_KEY))
        params.append(flt.plate)
    if flt.types:
        parts.append(sql.SQL("{} = ANY(%s)").format(store.INCIDENT_TYPE))
        params.append(list(flt.types))
    if flt.cameras:
        parts.append(sql.SQL("c.device_id = ANY(%s)"))
        params.append(list(flt.cameras))
    if flt.units:
        parts.append(sql.SQL("d.unit_id = ANY(%s)"))
        params.append(list(flt.units))
    if flt.states:
        states = []
        if "unreviewed" in flt.states:
            states.append(sql.SQL("r.decision IS NULL"))
        decided = [s for s in flt.states if s != "unreviewed"]
        if decided:
            states.append(sql.SQL("r.decision = ANY(%s)"))
            params.append(decided)
        parts.append(sql.SQL("(") + sql.SQL(" OR ").join(states) + sql.SQL(")"))
    return sql.SQL(" AND ").join(parts), params


def for_role(inc: Incident, role: str | None) -> Incident:
    """The incident as `role` may see it (plate masked unless police or admin)."""
    if may_see_sensitive(role) or inc.plate is None:
        return inc
    return replace(inc, plate=plate_for(role, inc.plate))


def load_queue(conn, flt: QueueFilter, role: str | None, *, now: dt.datetime | None = None,
               limit: int = QUEUE_LIMIT) -> list[Incident]:
    """Every detection matching the filter (the search view): unreviewed first, then
    newest first, then key."""
    now = now or dt.datetime.now(dt.UTC)
    where, params = _where(flt, now)
    query = store.INCIDENT_SELECT + sql.SQL(
        " WHERE {} ORDER BY (r.decision IS NULL) DESC, c.last_update DESC, c.source, "
        "c.event_id LIMIT %s"
    ).format(where)
    rows = conn.execute(query, [*params, max(1, min(int(limit), 1000))]).fetchall()
    return [for_role(store.incident_of(r), role) for r in rows]


@dataclass(frozen=True)
class QueueItem:
    """One row of the police queue: the incident and why it is there."""

    incident: Incident
    priority: int
    rule: str  # the incident type of the rule that queued it, or "watchlist"
    watch_reason: str | None  # the watchlist entry's reason when the plate is wanted

    @property
    def hit(self) -> bool:
        return self.watch_reason is not None


@dataclass(frozen=True)
class QueuePage:
    items: tuple[QueueItem, ...]
    total: int  # matching queue rows (at most COUNT_CAP + 1)
    page: int
    pages: int

    @property
    def capped(self) -> bool:
        return self.total > COUNT_CAP


# an incident's columns (store.INCIDENT_COLUMNS), then why it is queued
_QUEUE_COLUMNS = sql.SQL("SELECT {}, q.priority, q.rule, w.reason").format(
    store.INCIDENT_COLUMNS)
_QUEUED = store.INCIDENT_WIDTH  # where a row's priority, rule, watch reason start


# police_queue.decision follows the newest review (a trigger of 0016_police_queue.sql)
_UNDECIDED = sql.SQL("q.decision IS NULL")
_LATEST_DECISION = sql.SQL("q.decision")


def _queue_where(flt: QueueFilter, now: dt.datetime) -> tuple[sql.Composable, list[Any]]:
    """Conditions on the queue rows themselves (`police_queue q`), so the page walks the
    index `police_queue_order` and stops after one page; filters on the incident or the
    camera are semi-joins. False positives never enter the queue."""
    parts: list[sql.Composable] = []
    params: list[Any] = []
    span = PERIODS[flt.period]
    if span is not None:
        parts.append(sql.SQL("q.first_seen >= %s"))
        params.append(now - span)
    if flt.cameras:
        parts.append(sql.SQL("q.device_id = ANY(%s)"))
        params.append(list(flt.cameras))
    if flt.units:
        parts.append(sql.SQL("q.device_id IN (SELECT device_id FROM devices "
                             "WHERE unit_id = ANY(%s))"))
        params.append(list(flt.units))
    if flt.types or flt.plate:
        on_incident: list[sql.Composable] = []
        if flt.types:
            on_incident.append(sql.SQL("{} = ANY(%s)").format(store.INCIDENT_TYPE))
            params.append(list(flt.types))
        if flt.plate:
            on_incident.append(sql.SQL("c.plate IS NOT NULL AND {} = %s").format(
                store.PLATE_KEY))
            params.append(flt.plate)
        parts.append(sql.SQL("EXISTS (SELECT 1 FROM camera_incidents c WHERE c.source = "
                             "q.source AND c.event_id = q.event_id AND {})").format(
            sql.SQL(" AND ").join(on_incident)))
    states = flt.states or ("unreviewed",)
    if set(states) != set(REVIEW_STATES):
        either: list[sql.Composable] = []
        if "unreviewed" in states:
            either.append(_UNDECIDED)
        decided = [s for s in states if s != "unreviewed"]
        if decided:
            either.append(sql.SQL("{} = ANY(%s)").format(_LATEST_DECISION))
            params.append(decided)
        parts.append(sql.SQL("(") + sql.SQL(" OR ").join(either) + sql.SQL(")"))
    if not parts:
        return sql.SQL("TRUE"), params
    return sql.SQL(" AND ").join(parts), params


_PAGE = sql.SQL(
    "WITH page AS (SELECT q.source, q.event_id, q.priority, q.rule, q.watchlist_id, "
    "q.first_seen FROM police_queue q WHERE {} "
    "ORDER BY q.priority DESC, q.first_seen DESC, q.source, q.event_id LIMIT %s OFFSET %s) "
)
_PAGE_JOINS = sql.SQL(
    " FROM page q JOIN camera_incidents c ON c.source = q.source AND c.event_id = q.event_id "
    "LEFT JOIN devices d ON d.device_id = c.device_id "
    "LEFT JOIN police_watchlist w ON w.id = q.watchlist_id "
    "AND w.removed_at IS NULL AND (w.expires_at IS NULL OR w.expires_at > now()) "
    "LEFT JOIN LATERAL (SELECT decision, actor, at, reason FROM incident_reviews ir "
    "  WHERE ir.source = c.source AND ir.event_id = c.event_id "
    "  ORDER BY ir.id DESC LIMIT 1) r ON true"
)
_PAGE_FROM = _PAGE_JOINS + sql.SQL(
    " ORDER BY q.priority DESC, q.first_seen DESC, q.source, q.event_id")
# the banner: live watchlist hits, newest first, by the partial index police_queue_hits
_HITS = sql.SQL(
    "WITH page AS (SELECT q.source, q.event_id, q.priority, q.rule, q.watchlist_id, "
    "q.first_seen FROM police_queue q JOIN police_watchlist lw ON lw.id = q.watchlist_id "
    "AND lw.removed_at IS NULL AND (lw.expires_at IS NULL OR lw.expires_at > now()) "
    "WHERE q.watchlist_id IS NOT NULL AND q.first_seen >= now() - %s AND {} "
    "ORDER BY q.first_seen DESC, q.source, q.event_id LIMIT %s) "
)


def load_queue_page(conn, flt: QueueFilter, role: str | None, *, page: int = 0,
                    page_size: int = PAGE_SIZE,
                    now: dt.datetime | None = None) -> QueuePage:
    """One page of the police queue: by priority, then newest first, then key.

    The review-state filter defaults to "unreviewed" (what still needs a decision)."""
    now = now or dt.datetime.now(dt.UTC)
    page_size = max(1, min(int(page_size), 500))
    where, params = _queue_where(flt, now)
    (total,) = conn.execute(
        sql.SQL("SELECT count(*) FROM (SELECT 1 FROM police_queue q WHERE {} LIMIT %s) n"
                ).format(where),
        [*params, COUNT_CAP + 1],
    ).fetchone()
    pages = max(1, -(-min(total, COUNT_CAP) // page_size))
    page = max(0, min(int(page or 0), pages - 1))
    rows = conn.execute(
        _PAGE.format(where) + _QUEUE_COLUMNS + _PAGE_FROM,
        [*params, page_size, page * page_size],
    ).fetchall()
    items = tuple(
        QueueItem(for_role(store.incident_of(r), role), *r[_QUEUED:])
        for r in rows
    )
    return QueuePage(items, total, page, pages)


def count_detections(conn, flt: QueueFilter, *, now: dt.datetime | None = None) -> int:
    """Detections of the period matching the filter, queued or not (at most COUNT_CAP+1)."""
    now = now or dt.datetime.now(dt.UTC)
    where, params = _where(replace(flt, states=()), now)
    (n,) = conn.execute(
        sql.SQL("SELECT count(*) FROM (SELECT 1 FROM camera_incidents c {} WHERE {} "
                "LIMIT %s) n").format(
            sql.SQL("LEFT JOIN devices d ON d.device_id = c.device_id") if flt.units
            else sql.SQL(""), where),
        [*params, COUNT_CAP + 1],
    ).fetchone()
    return n


@dataclass(frozen=True)
class WatchHit:
    incident: Incident
    reason: str


def load_watch_hits(conn, role: str | None, *, since: dt.timedelta = dt.timedelta(hours=24),
                    limit: int = 5) -> list[WatchHit]:
    """Undecided watchlist hits of the last `since`, newest first (the page's banner).

    Only police and admin see them: a hit names a wanted vehicle."""
    if not may_see_sensitive(role):
        return []
    rows = conn.execute(
        _HITS.format(_UNDECIDED) + _QUEUE_COLUMNS + _PAGE_JOINS
        + sql.SQL(" ORDER BY q.first_seen DESC, q.source, q.event_id"),
        (since, limit),
    ).fetchall()
    return [WatchHit(store.incident_of(r), r[_QUEUED + 2]) for r in rows]


def review_state(inc: Incident) -> str:
    return inc.review or "unreviewed"


def type_text(kind: str, lang: str) -> str:
    return ui_label("police.type", kind, lang)


def fmt_confidence(value: float | None) -> str:
    return "–" if value is None else f"{round(value * 100)} %"


def priority_class(item: QueueItem | None) -> str:
    """How a row is marked: a watchlist hit, urgent (fire, smoke), high, or normal."""
    if item is None:
        return "none"
    if item.hit:
        return "hit"
    if item.priority >= 80:
        return "urgent"
    if item.priority >= 50:
        return "high"
    return "normal"


def queue_rows(incidents: Iterable[Incident | QueueItem], lang: str, tz: str,
               names: Mapping[str, str]) -> list[dict]:
    """DataTable rows (`id` is the incident key). Plates arrive already masked by role."""
    rows = []
    for entry in incidents:
        item = entry if isinstance(entry, QueueItem) else None
        i = entry.incident if isinstance(entry, QueueItem) else entry
        row = _row(i, lang, tz, names)
        row["priority"] = priority_class(item)
        row["priority_text"] = (t("police.hit", lang) if item is not None and item.hit
                                else str(item.priority) if item is not None else "")
        # what a column sorts by (a watchlist hit above every priority)
        row["priority_value"] = (1000 if item.hit else item.priority) if item is not None else -1
        rows.append(row)
    return rows


def _row(i: Incident, lang: str, tz: str, names: Mapping[str, str]) -> dict:
    return {
            "id": i.key,
            "state": review_state(i),
            "state_text": t(f"police.state.{review_state(i)}", lang),
            "time": fmt_time(i.first_seen, tz),
            "time_ts": i.first_seen.timestamp(),
            "type": i.type,
            "type_text": type_text(i.type, lang),
            "camera": i.camera_name or i.device_id,
            "unit_id": names.get(i.unit_id or "", i.unit_id or "–"),
            "confidence": fmt_confidence(i.top_confidence or i.confidence),
            "confidence_value": i.top_confidence or i.confidence or 0.0,
            "plate": i.plate or "",
        }


@dataclass(frozen=True)
class FilterOptions:
    types: tuple[str, ...]
    cameras: tuple[tuple[str, str], ...]  # (device id, name)


ORDINARY_TYPES = ("person", "car", "motorcycle", "truck", "bus", "bicycle")


def load_filter_options(conn, rules: QueueRules | None = None) -> FilterOptions:
    """The types the queue rules name and the ordinary detections (no scan of the incidents:
    with 2,000 cameras a month holds tens of millions), and every registered camera."""
    types = sorted({*queued_types(rules or load_rules()), *ORDINARY_TYPES})
    cameras = conn.execute(
        "SELECT device_id, name FROM devices WHERE family = 'camera' ORDER BY name, device_id"
    ).fetchall()
    return FilterOptions(tuple(types), tuple((d, n or d) for d, n in cameras))
