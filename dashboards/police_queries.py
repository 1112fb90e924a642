"""Queries and decisions behind the police review page (dashboards/pages/police.py).

The page's default view is the police queue (`police_queue`, 0016): incidents a queue rule
or a watchlist hit put there (police/rules.py), by priority, then newest first, then key
(stable between refreshes), a page at a time. The other view searches every detection
(ordinary people and vehicles too) by plate, camera, unit and time.

Every function that returns incidents takes the viewer's role and masks plates on the
server for roles that may not see them (evidence.privacy); the plate path across
cameras is not returned to them at all. Reads are indexed: the queue by
`police_queue_order`, recent incidents by `last_update`, one plate by
`camera_incidents_plate_key` (0006_police.sql).
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any
from urllib.parse import quote

import plotly.graph_objects as go
import psycopg
from psycopg import sql
from psycopg_pool import ConnectionPool

from dashboards.i18n import t
from dashboards.map_figure import BaseGeometry, MapBase, fit_view, map_style, ui_label
from dashboards.page_parts import fmt_time
from evidence import store
from evidence.privacy import may_see_sensitive, plate_for, plate_key
from evidence.store import Incident
from police.rules import QueueRules, load_rules, queued_types

log = logging.getLogger(__name__)

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
SAME_CAMERA_WINDOW = dt.timedelta(minutes=30)
PLATE_WINDOW = dt.timedelta(hours=12)
RELATED_LIMIT = 20
PLATE_PATH_LIMIT = 50


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


_QUEUE_COLUMNS = sql.SQL(
    "SELECT c.source, c.event_id, c.device_id, d.name, d.unit_id, d.lon, d.lat, {type}, "
    "c.label, c.phase, c.first_seen, c.started_at, c.last_update, c.ended_at, c.confidence, "
    "c.top_confidence, c.zones, c.plate, c.plate_confidence, c.snapshot_sha256, "
    "c.snapshot_url, c.false_positive, c.data, r.decision, r.actor, r.at, r.reason, "
    "q.priority, q.rule, w.reason"
).format(type=store.INCIDENT_TYPE)


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
        QueueItem(for_role(store.incident_of(r[:27]), role), r[27], r[28], r[29])
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
    return [WatchHit(store.incident_of(r[:27]), r[29]) for r in rows]


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


# -- one incident --------------------------------------------------------------------------------
@dataclass(frozen=True)
class IncidentDetail:
    incident: Incident
    snapshots: tuple[store.SnapshotInfo, ...]
    reviews: tuple[store.Review, ...]
    notes: tuple[store.Note, ...]
    custody: tuple[store.CustodyEntry, ...]
    same_camera: tuple[Incident, ...]
    plate_path: tuple[Incident, ...]  # every sighting of the plate in time order, this one too
    sensitive: bool  # whether the viewer sees unblurred images and whole plates
    queue: QueueEntry | None = None  # why it is in the police queue (None: not queued)
    clips: tuple[store.SnapshotInfo, ...] = ()


@dataclass(frozen=True)
class QueueEntry:
    priority: int
    rule: str
    watch_reason: str | None  # the live watchlist entry's reason (police and admin only)


def load_queue_entry(conn, source: str, event_id: str, role: str | None) -> QueueEntry | None:
    row = conn.execute(
        "SELECT q.priority, q.rule, w.reason FROM police_queue q "
        "LEFT JOIN police_watchlist w ON w.id = q.watchlist_id AND w.removed_at IS NULL "
        "AND (w.expires_at IS NULL OR w.expires_at > now()) "
        "WHERE q.source = %s AND q.event_id = %s",
        (source, event_id),
    ).fetchone()
    if row is None:
        return None
    return QueueEntry(row[0], row[1], row[2] if may_see_sensitive(role) else None)


def load_same_camera(conn, inc: Incident, role: str | None,
                     window: dt.timedelta = SAME_CAMERA_WINDOW) -> list[Incident]:
    """Other incidents of the same camera within `window` of this one's time span."""
    end = inc.ended_at or inc.last_update
    rows = conn.execute(
        store.INCIDENT_SELECT + sql.SQL(
            " WHERE c.device_id = %s AND NOT (c.source = %s AND c.event_id = %s) "
            "AND NOT c.false_positive AND c.last_update >= %s AND c.first_seen <= %s "
            "ORDER BY c.first_seen LIMIT %s"),
        (inc.device_id, inc.source, inc.event_id, inc.first_seen - window, end + window,
         RELATED_LIMIT),
    ).fetchall()
    return [for_role(store.incident_of(r), role) for r in rows]


def load_plate_path(conn, inc: Incident, role: str | None,
                    window: dt.timedelta = PLATE_WINDOW) -> list[Incident]:
    """Every incident with the same plate (any spelling) within `window`, oldest first.

    Where a vehicle went is personal data: roles that may not see plates get nothing.
    """
    key = plate_key(inc.plate)
    if key is None or not may_see_sensitive(role):
        return []
    rows = conn.execute(
        store.INCIDENT_SELECT + sql.SQL(
            " WHERE c.plate IS NOT NULL AND {} = %s AND c.first_seen BETWEEN %s AND %s "
            "ORDER BY c.first_seen, c.event_id LIMIT %s").format(store.PLATE_KEY),
        (key, inc.first_seen - window, inc.first_seen + window, PLATE_PATH_LIMIT),
    ).fetchall()
    return [store.incident_of(r) for r in rows]


def load_detail(conn, key: str | None, role: str | None) -> IncidentDetail | None:
    parts = store.split_key(key)
    if parts is None:
        return None
    inc = store.load_incident(conn, *parts)
    if inc is None:
        return None
    sensitive = may_see_sensitive(role)
    return IncidentDetail(
        incident=for_role(inc, role),
        snapshots=tuple(store.incident_snapshots(conn, inc)),
        reviews=tuple(store.load_reviews(conn, *parts)),
        notes=tuple(store.load_notes(conn, *parts)),
        custody=tuple(store.load_custody(conn, *parts)) if sensitive else (),
        same_camera=tuple(load_same_camera(conn, inc, role)),
        plate_path=tuple(load_plate_path(conn, inc, role)),
        sensitive=sensitive,
        queue=load_queue_entry(conn, *parts, role),
        clips=tuple(store.incident_clips(conn, inc)) if sensitive else (),
    )


# -- the related lists of the page's right column ---------------------------------------
def _option(inc: Incident, lang: str, tz: str, current: str) -> dict:
    here = " ◀" if inc.key == current else ""
    return {"label": f"{fmt_time(inc.first_seen, tz)} · {inc.camera_name or inc.device_id} · "
                     f"{type_text(inc.type, lang)}{here}",
            "value": inc.key}


@dataclass(frozen=True)
class Related:
    """The right column's lists: (title, options, value) for the plate path and the camera."""

    plate_title: str
    plate_options: list[dict]
    plate_value: str | None
    same_title: str
    same_options: list[dict]


def related_lists(detail: IncidentDetail | None, lang: str, tz: str) -> Related:
    if detail is None:
        return Related("", [], None, "", [])
    inc = detail.incident
    if inc.plate and detail.plate_path:
        cameras = len({i.device_id for i in detail.plate_path})
        plate_title = t("police.plate_path", lang, plate=inc.plate, n=len(detail.plate_path),
                        cameras=cameras)
    else:
        plate_title = t("police.plate_path_title", lang) + ": " + t("police.no_plate", lang)
    same_title = t("police.same_camera", lang)
    if not detail.same_camera:
        same_title += ": " + t("police.none", lang).lower()
    return Related(
        plate_title=plate_title,
        plate_options=[_option(i, lang, tz, inc.key) for i in detail.plate_path],
        plate_value=inc.key if detail.plate_path else None,
        same_title=same_title,
        same_options=[_option(i, lang, tz, inc.key) for i in detail.same_camera],
    )


def snapshot_src(sha256: str, incident_key: str) -> str:
    """The image URL of a snapshot viewed for an incident (the route logs the view)."""
    return f"/evidence/snapshot/{sha256}?incident={quote(incident_key, safe='')}"


def bundle_action(incident_key: str) -> str:
    source, event_id = incident_key.split(":", 1)
    return f"/evidence/bundle/{quote(source, safe='')}/{quote(event_id, safe='')}"


# -- decisions ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class ActionResult:
    ok: bool
    reason: str  # i18n key suffix police.act.<reason>


def check_review(action: str, reason: str | None) -> str | None:
    """Why a verify/dismiss cannot be carried out as asked, or None (pure)."""
    if action not in store.DECISIONS:
        return "unknown_action"
    if not (reason or "").strip():
        return "reason_required"
    return None


def review(pool: ConnectionPool, key: str | None, action: str, reason: str | None, *,
           actor: str, ip: str | None) -> ActionResult:
    """Verify or dismiss an incident with a reason: review row + custody + audit, one unit."""
    parts = store.split_key(key)
    if parts is None:
        return ActionResult(False, "no_selection")
    problem = check_review(action, reason)
    if problem:
        return ActionResult(False, problem)
    try:
        with pool.connection() as conn, conn.transaction():
            if store.load_incident(conn, *parts) is None:
                return ActionResult(False, "not_found")
            store.add_review(conn, *parts, action=action, reason=reason or "", actor=actor,
                             ip=ip)
    except psycopg.OperationalError as err:  # the database went away: say so, not a 500
        log.warning("incident %s: %s failed, database unavailable: %s", key, action, err)
        return ActionResult(False, "unavailable")
    log.info("incident %s: %s by %s", key, action, actor)
    return ActionResult(True, "verified" if action == "verify" else "dismissed")


def add_note(pool: ConnectionPool, key: str | None, note: str | None, *, actor: str,
             ip: str | None) -> ActionResult:
    parts = store.split_key(key)
    if parts is None:
        return ActionResult(False, "no_selection")
    if not (note or "").strip():
        return ActionResult(False, "note_required")
    try:
        with pool.connection() as conn, conn.transaction():
            if store.load_incident(conn, *parts) is None:
                return ActionResult(False, "not_found")
            store.add_note(conn, *parts, note=note or "", actor=actor, ip=ip)
    except psycopg.OperationalError as err:
        log.warning("incident %s: note failed, database unavailable: %s", key, err)
        return ActionResult(False, "unavailable")
    return ActionResult(True, "noted")


def record_view(pool: ConnectionPool, key: str | None, *, actor: str, ip: str | None) -> None:
    """An officer opened the incident (its plate, place and history): custody + audit."""
    parts = store.split_key(key)
    if parts is None:
        return
    with pool.connection() as conn, conn.transaction():
        if store.load_incident(conn, *parts) is not None:
            store.record_custody(conn, *parts, actor=actor, action="view", ip=ip)


# -- the map -----------------------------------------------------------------------------------
PATH_COLOUR = "#4aa8ff"
SIGHTING_COLOUR = "#ffb020"
CURRENT_COLOUR = "#ff2d55"
CAMERA_COLOUR = "#5d7a96"


def _bbox(points: Sequence[tuple[float, float]], pad: float = 0.03):
    xs = [p[0] for p in points]
    ys = [p[1] for p in points]
    return (min(xs) - pad, min(ys) - pad, max(xs) + pad, max(ys) + pad)


def path_figure(detail: IncidentDetail | None, geo: BaseGeometry,
                cameras: Sequence[tuple[str, str, float, float]], lang: str, tz: str,
                size_px: tuple[float, float] = (440, 300),
                tile_url: str | MapBase | None = None) -> go.Figure:
    """Units, every camera, this incident's camera and the plate's path in time order.

    Offline: an inline background style (map_figure.map_style; raster tiles only when the
    deployment configures `web.map_tile_url`), circle markers, no text mode.
    """
    unit_ids = [str(f["properties"]["id"]) for f in geo.units.get("features", [])]
    unit_text = [
        (f["properties"].get("name_en") if lang == "en" else None) or f["properties"].get("name")
        or str(f["properties"]["id"])
        for f in geo.units.get("features", [])
    ]
    traces: list[Any] = [
        go.Choroplethmap(
            name="units", geojson=dict(geo.units), featureidkey="properties.id",
            locations=unit_ids, z=[0] * len(unit_ids), zmin=0, zmax=1,
            colorscale=[[0, "rgba(74,168,255,0.05)"], [1, "rgba(74,168,255,0.05)"]],
            showscale=False, hovertext=unit_text, hoverinfo="text",
            marker={"line": {"color": "#5b7189", "width": 1}},
        ),
        go.Scattermap(
            name="cameras", lon=[c[2] for c in cameras], lat=[c[3] for c in cameras],
            hovertext=[c[1] for c in cameras], hoverinfo="text", mode="markers",
            marker={"size": 7, "color": CAMERA_COLOUR, "opacity": 0.8},
        ),
    ]
    points: list[tuple[float, float]] = []
    if detail is not None:
        current = detail.incident
        seen = [i for i in detail.plate_path if i.lon is not None and i.lat is not None]
        if len(seen) >= 2:
            traces.append(go.Scattermap(
                name="path", lon=[i.lon for i in seen], lat=[i.lat for i in seen],
                mode="lines", hoverinfo="skip", line={"color": PATH_COLOUR, "width": 4},
            ))
        others = [i for i in seen if i.key != current.key]
        traces.append(go.Scattermap(
            name="sightings", lon=[i.lon for i in others], lat=[i.lat for i in others],
            mode="markers", hoverinfo="text",
            hovertext=[f"{fmt_time(i.first_seen, tz)} · {i.camera_name or i.device_id}"
                       for i in others],
            customdata=[i.key for i in others],
            marker={"size": 15, "color": SIGHTING_COLOUR},
        ))
        if current.lon is not None and current.lat is not None:
            traces.append(go.Scattermap(
                name="current", lon=[current.lon], lat=[current.lat], mode="markers",
                hoverinfo="text",
                hovertext=[f"{fmt_time(current.first_seen, tz)} · "
                           f"{current.camera_name or current.device_id}"],
                marker={"size": 19, "color": CURRENT_COLOUR},
            ))
            points.append((current.lon, current.lat))
        points += [(i.lon, i.lat) for i in seen]
    bbox = _bbox(points) if points else geo.bbox()
    if points and len(points) == 1:
        bbox = _bbox(points, pad=0.12)
    centre, zoom = fit_view(bbox, *size_px)
    fig = go.Figure(traces)
    fig.update_layout(
        map={"style": map_style(tile_url), "center": centre, "zoom": min(zoom, 13)},
        margin={"l": 0, "r": 0, "t": 0, "b": 0},
        paper_bgcolor="#0d151e",
        showlegend=False,
        height=size_px[1],
        hoverlabel={"font": {"size": 14}, "bgcolor": "#131c26", "bordercolor": "#4aa8ff"},
        uirevision=detail.incident.key if detail else "none",
    )
    return fig


def load_cameras(conn) -> list[tuple[str, str, float, float]]:
    """(device id, name, lon, lat) of every placed camera."""
    return [
        (d, n or d, float(lon), float(lat))
        for d, n, lon, lat in conn.execute(
            "SELECT device_id, name, lon, lat FROM devices WHERE family = 'camera' "
            "AND lon IS NOT NULL AND lat IS NOT NULL ORDER BY device_id"
        ).fetchall()
    ]
