"""One incident on the police review page (dashboards/pages/police.py): its record with
its context (snapshots, clips, reviews, notes, custody log, the same camera around the same
time, the plate's path across cameras), the related lists of the page's right column, the
decisions on it (verify, dismiss, note, the view logged as custody) and the map figure.

The queue and the search that lead to an incident are dashboards/police_queries.py's. Plates
are masked on the server for roles that may not see them (evidence.privacy), and the plate
path is not returned to them at all; one plate's sightings are read by the index
`camera_incidents_plate_key` (0006_police.sql).
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import plotly.graph_objects as go
import psycopg
from psycopg import sql
from psycopg_pool import ConnectionPool

from dashboards.i18n import t
from dashboards.map_geometry import BaseGeometry
from dashboards.map_style import MapBase, fit_view, map_style
from dashboards.page_parts import fmt_time
from dashboards.police_queries import for_role, type_text
from evidence import store
from evidence.incident import Incident
from evidence.privacy import may_see_sensitive, plate_key

log = logging.getLogger(__name__)

SAME_CAMERA_WINDOW = dt.timedelta(minutes=30)
PLATE_WINDOW = dt.timedelta(hours=12)
RELATED_LIMIT = 20
PLATE_PATH_LIMIT = 50


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

    Offline: an inline background style (map_style.map_style; raster tiles only when the
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
