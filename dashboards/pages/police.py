"""Police review of camera incidents: the queue of what needs a decision (by priority, a
watchlist hit first, with its banner and an optional sound), a search over every detection,
the plate watchlist, the snapshot, place and context of one incident, verify or dismiss
with a reason, notes, related incidents (same camera, same plate on other cameras as a path
on the map) and the evidence export.

Police and admin only (dashboards/access.py); state-changing ids carry `-act-`. Images come
from /evidence/snapshot (dashboards/evidence.py), which logs every view.

This module owns the page's registration, its layout and every callback (Dash loads a page
module for every app; a helper module's callbacks would reach only the first one). The
components are dashboards/police_view.py's, the queue's data dashboards/police_queries.py's,
one incident's data, decisions and map dashboards/police_incident.py's, the watchlist panel
dashboards/police_watch.py's.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from dataclasses import replace

import dash
from dash import Input, Output, State, callback, ctx, dcc, html, no_update
from dash.exceptions import PreventUpdate

from dashboards import auth, police_view, police_watch
from dashboards import ops_queries as oq
from dashboards import police_incident as one
from dashboards import police_queries as q
from dashboards.base_map import map_base
from dashboards.context import context
from dashboards.i18n import pick_language, t
from dashboards.page_parts import fmt_time, page_header
from dashboards.table_sort import valid_sort_by
from police import watchlist

log = logging.getLogger(__name__)

dash.register_page(
    __name__, path="/police", name="Công an", title="IOC Lào Cai – Xác minh sự vụ camera",
    nav_order=50, nav_label_key="nav.police",
)

MAP_CONFIG = {"displaylogo": False, "scrollZoom": True, "displayModeBar": False}


def _lang(lang: str | None) -> str:
    return pick_language(lang, context().settings.web.language)


def layout(lang: str | None = None, incident: str | None = None, **_query) -> html.Div:
    lang = _lang(lang)
    c = context()
    selected = incident if q.store.split_key(incident) else None
    return html.Div(
        [
            page_header("police", "police.title", lang, "/police"),
            html.Div(t("police.privacy_note", lang), className="police-privacy"),
            html.Div(id="police-banner", className="police-banner-wrap"),
            html.Div(id="police-sound-slot"),
            police_watch.panel(lang),
            police_view.filters(lang),
            html.Div(
                [
                    html.Div(police_view.table(lang), className="feed-table-wrap"),
                    html.Section(
                        [html.Div(id="police-detail"),
                         html.Div(police_view.actions(lang), id="police-actions",
                                  className="hidden")],
                        className="ops-side-panel police-detail-panel",
                    ),
                    html.Aside(
                        [
                            html.H3(t("police.map", lang), className="panel-sub first"),
                            dcc.Graph(id="police-map", config=MAP_CONFIG,
                                      figure=one.path_figure(
                                          None, oq.geometry(c.pool), [], lang,
                                          c.settings.web.timezone,
                                          tile_url=map_base(c.settings)),
                                      className="police-map", style={"height": "300px"}),
                            html.H3(id="police-plate-title", className="panel-sub"),
                            dcc.RadioItems(id="police-plate-path", options=[],
                                           className="related-list"),
                            html.H3(id="police-same-title", className="panel-sub"),
                            dcc.RadioItems(id="police-same-camera", options=[],
                                           className="related-list"),
                            html.Div(id="police-context"),
                        ],
                        className="ops-side-panel police-context-panel",
                    ),
                ],
                className="police-body",
            ),
            dcc.Store(id="police-lang-store", data=lang),
            dcc.Store(id="police-selected", data=selected),
            dcc.Store(id="police-refresh", data=0),
            dcc.Store(id="police-heard", data=[]),
            dcc.Interval(id="police-tick", interval=max(c.settings.web.refresh_ms, 5000)),
        ],
        className="page page-police",
    )


# -- the queue ---------------------------------------------------------------------------------
@callback(
    Output("police-table", "data"),
    Output("police-count", "children"),
    Output("police-clock", "children"),
    Output("police-table", "style_data_conditional"),
    Output("police-table", "active_cell"),
    Output("police-table", "selected_cells"),
    Output("police-table", "page_count"),
    Input("police-tick", "n_intervals"),
    Input("police-view", "value"),
    Input("police-plate-search", "value"),
    Input("police-type", "value"),
    Input("police-camera", "value"),
    Input("police-unit", "value"),
    Input("police-state", "value"),
    Input("police-period", "value"),
    Input("police-table", "page_current"),
    Input("police-refresh", "data"),
    Input("police-selected", "data"),
    Input("police-table", "sort_by"),
    State("police-lang-store", "data"),
)
def refresh_queue(_n, view, plate, types, cameras, units, states, period, page, _refresh,
                  selected, sort_by, lang):
    lang = pick_language(lang)
    clock = fmt_time(time.time(), context().settings.web.timezone)
    styles = police_view.row_styles(selected if isinstance(selected, str) else None)
    view = view if view in q.VIEWS else q.DEFAULT_VIEW
    try:
        rows, count, pages = police_view.table_rows(
            q.QueueFilter.of(types, cameras, units, period, states, plate), view,
            page if isinstance(page, int) else 0, lang, valid_sort_by(sort_by, police_view.COLUMNS))
    except Exception:
        log.warning("police queue refresh failed", exc_info=True)
        return (no_update, html.Span(t("db_unavailable", lang), className="act-refused"), clock,
                styles, no_update, no_update, no_update)
    # the row on show is marked by `styles`; a stale active cell would mark the wrong one
    # once the queue re-sorts (a decided incident leaves it)
    return rows, count, clock, styles, None, [], pages


@callback(
    Output("police-table", "page_current"),
    Input("police-view", "value"),
    Input("police-plate-search", "value"),
    Input("police-type", "value"),
    Input("police-camera", "value"),
    Input("police-unit", "value"),
    Input("police-state", "value"),
    Input("police-period", "value"),
    prevent_initial_call=True,
)
def first_page(*_filters):
    """A changed filter starts again at the first page."""
    return 0


@callback(
    Output("police-detections", "children"),
    Input("police-tick", "n_intervals"),
    Input("police-plate-search", "value"),
    Input("police-type", "value"),
    Input("police-camera", "value"),
    Input("police-unit", "value"),
    Input("police-period", "value"),
    State("police-lang-store", "data"),
)
def count_detections(_n, plate, types, cameras, units, period, lang):
    """Ordinary detections are counted (and searchable), not queued."""
    lang = pick_language(lang)
    flt = q.QueueFilter.of(types, cameras, units, period, None, plate)
    try:
        with context().pool.connection() as conn:
            n = q.count_detections(conn, flt)
            queued = q.load_queue_page(conn, replace(flt, states=q.REVIEW_STATES),
                                       auth.current_role(), page_size=1).total
    except Exception:
        log.warning("police detection count failed", exc_info=True)
        return no_update
    return t("police.detections", lang, n=police_view.capped(n, lang),
             m=police_view.capped(max(0, n - queued), lang))


@callback(
    Output("police-banner", "children"),
    Output("police-sound-slot", "children"),
    Output("police-heard", "data"),
    Input("police-tick", "n_intervals"),
    Input("police-refresh", "data"),
    State("police-sound", "value"),
    State("police-heard", "data"),
    State("police-lang-store", "data"),
)
def watch_banner(_n, _refresh, sound, heard, lang):
    """A wanted plate seen in the last 24 hours and not yet decided: a banner above all,
    and (when the officer turned it on) a sound for a sighting not heard before."""
    lang = pick_language(lang)
    c = context()
    try:
        with c.pool.connection() as conn:
            hits = q.load_watch_hits(conn, auth.current_role())
    except Exception:
        log.warning("police watchlist banner failed", exc_info=True)
        return no_update, no_update, no_update
    if not hits:
        return None, None, heard or []
    keys = [h.incident.key for h in hits]
    new = [k for k in keys if k not in (heard or [])]
    play = bool(sound) and bool(new)
    return (police_watch.banner(hits, lang, c.settings.web.timezone),
            police_watch.sound() if play else no_update, sorted(set(heard or []) | set(keys)))


@callback(
    Output("police-selected", "data", allow_duplicate=True),
    Input("police-banner-open", "n_clicks"),
    State("police-banner-open", "title"),
    prevent_initial_call=True,
)
def open_from_banner(n, key):
    if not n or q.store.split_key(key) is None:
        raise PreventUpdate
    return key


@callback(
    Output("police-selected", "data"),
    Input("police-table", "active_cell"),
    prevent_initial_call=True,
)
def select_from_queue(cell):
    if not cell or not cell.get("row_id"):
        raise PreventUpdate
    return cell["row_id"]


@callback(
    Output("police-selected", "data", allow_duplicate=True),
    Input("police-plate-path", "value"),
    Input("police-same-camera", "value"),
    Input("police-map", "clickData"),
    State("police-selected", "data"),
    prevent_initial_call=True,
)
def select_related(on_path, same_camera, click, current):
    """A sighting of the plate, an incident of the same camera, or a marker on the map."""
    if ctx.triggered_id == "police-map":
        point = ((click or {}).get("points") or [{}])[0]
        key = point.get("customdata")
    else:
        key = on_path if ctx.triggered_id == "police-plate-path" else same_camera
    if not isinstance(key, str) or key == current or q.store.split_key(key) is None:
        raise PreventUpdate
    return key


# -- one incident --------------------------------------------------------------------------------
@callback(
    Output("police-detail", "children"),
    Output("police-plate-title", "children"),
    Output("police-plate-path", "options"),
    Output("police-plate-path", "value"),
    Output("police-same-title", "children"),
    Output("police-same-camera", "options"),
    Output("police-same-camera", "value"),
    Output("police-context", "children"),
    Output("police-map", "figure"),
    Output("police-actions", "className"),
    Input("police-selected", "data"),
    Input("police-refresh", "data"),
    State("police-lang-store", "data"),
)
def show_incident(key, _refresh, lang):
    lang = pick_language(lang)
    c = context()
    tz = c.settings.web.timezone
    role = auth.current_role()
    try:
        if key and ctx.triggered_id != "police-refresh":
            one.record_view(c.pool, key, actor=auth.current_actor(), ip=auth.client_ip())
        with c.pool.connection() as conn:
            detail = one.load_detail(conn, key, role) if key else None
            cameras = one.load_cameras(conn)
        geo = oq.geometry(c.pool)
    except Exception:
        log.warning("incident detail failed", exc_info=True)
        return ([html.Div(t("db_unavailable", lang), className="banner banner-error")],
                *([no_update] * 9))
    names = oq.unit_names(geo, lang)
    figure = one.path_figure(detail, geo, cameras, lang, tz, tile_url=map_base(c.settings))
    rel = one.related_lists(detail, lang, tz)
    if key and detail is None:
        body = [html.Div(t("police.act.not_found", lang), className="muted")]
    else:
        body = police_view.render_detail(detail, lang, tz, names)
    return (body, rel.plate_title, rel.plate_options, rel.plate_value, rel.same_title,
            rel.same_options, None, police_view.render_context(detail, lang, tz), figure,
            "police-actions" if detail is not None else "hidden")


# -- decisions (need the `act` permission) --------------------------------------------------------
@callback(
    Output("police-act-result", "children"),
    Output("police-refresh", "data"),
    Output("police-act-reason", "value"),
    Input("police-act-verify", "n_clicks"),
    Input("police-act-dismiss", "n_clicks"),
    State("police-selected", "data"),
    State("police-act-reason", "value"),
    State("police-refresh", "data"),
    State("police-lang-store", "data"),
    prevent_initial_call=True,
)
def decide(_verify, _dismiss, key, reason, refresh, lang):
    lang = pick_language(lang)
    action = {"police-act-verify": "verify", "police-act-dismiss": "dismiss"}.get(
        ctx.triggered_id)
    if action is None:
        raise PreventUpdate
    result = one.review(context().pool, key, action, reason, actor=auth.current_actor(),
                      ip=auth.client_ip())
    if not result.ok:
        return police_view.result_message(result, lang), no_update, no_update
    return police_view.result_message(result, lang), (refresh or 0) + 1, ""


@callback(
    Output("police-act-result", "children", allow_duplicate=True),
    Output("police-refresh", "data", allow_duplicate=True),
    Output("police-act-note-text", "value"),
    Input("police-act-note", "n_clicks"),
    State("police-selected", "data"),
    State("police-act-note-text", "value"),
    State("police-refresh", "data"),
    State("police-lang-store", "data"),
    prevent_initial_call=True,
)
def note(_n, key, text, refresh, lang):
    lang = pick_language(lang)
    result = one.add_note(context().pool, key, text, actor=auth.current_actor(),
                        ip=auth.client_ip())
    if not result.ok:
        return police_view.result_message(result, lang), no_update, no_update
    return police_view.result_message(result, lang), (refresh or 0) + 1, ""


# -- the watchlist (police_watch builds it; the callbacks live here, where Dash loads them
# with the page for every app) -----------------------------------------------------------
@callback(
    Output("police-watch-list", "children"),
    Output("police-watch-pick", "options"),
    Input("police-watch-result", "children"),
    Input("police-watch-summary", "n_clicks"),
    State("police-lang-store", "data"),
)
def show_list(_result, _open, lang):
    lang = pick_language(lang)
    c = context()
    try:
        with c.pool.connection() as conn:
            entries = watchlist.list_entries(conn)
    except Exception:
        log.warning("watchlist read failed", exc_info=True)
        return no_update, no_update
    now = dt.datetime.now(dt.UTC)
    tz = c.settings.web.timezone
    items = [html.Li(police_watch.entry_text(e, lang, tz), className="" if e.live(now) else "muted")
             for e in entries] or [html.Li(t("police.watch.empty", lang), className="muted")]
    return items, [{"label": e.plate, "value": e.plate} for e in entries]


@callback(
    Output("police-watch-result", "children"),
    Output("police-refresh", "data", allow_duplicate=True),
    Output("police-watch-plate", "value"),
    Output("police-watch-reason", "value"),
    Input("police-act-watch-add", "n_clicks"),
    State("police-watch-plate", "value"),
    State("police-watch-reason", "value"),
    State("police-watch-days", "value"),
    State("police-refresh", "data"),
    State("police-lang-store", "data"),
    prevent_initial_call=True,
)
def add_plate(_n, plate, reason, days, refresh, lang):
    lang = pick_language(lang)
    ok, text = police_watch.change("add", plate, reason, days)
    if not ok:
        return html.Div(text, className="act-refused"), no_update, no_update, no_update
    return (html.Div(t("police.watch.added", lang, plate=text), className="act-ok"),
            (refresh or 0) + 1, "", "")


@callback(
    Output("police-watch-result", "children", allow_duplicate=True),
    Output("police-refresh", "data", allow_duplicate=True),
    Input("police-act-watch-remove", "n_clicks"),
    State("police-watch-pick", "value"),
    State("police-refresh", "data"),
    State("police-lang-store", "data"),
    prevent_initial_call=True,
)
def remove_plate(_n, plate, refresh, lang):
    lang = pick_language(lang)
    ok, text = police_watch.change("remove", plate)
    if not ok:
        return html.Div(text, className="act-refused"), no_update
    return (html.Div(t("police.watch.removed", lang, plate=text), className="act-ok"),
            (refresh or 0) + 1)
