"""Police review of camera incidents: the queue of what needs a decision (by priority, a
watchlist hit first, with its banner and an optional sound), a search over every detection,
the plate watchlist, the snapshot, place and context of one incident, verify or dismiss
with a reason, notes, related incidents (same camera, same plate on other cameras as a path
on the map) and the evidence export.

Police and admin only (dashboards/access.py); state-changing ids carry `-act-`. Images come
from /evidence/snapshot (dashboards/evidence.py), which logs every view.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from dataclasses import replace

import dash
from dash import Input, Output, State, callback, ctx, dash_table, dcc, html, no_update
from dash.exceptions import PreventUpdate

from dashboards import auth, police_watch
from dashboards import ops_queries as oq
from dashboards import police_queries as q
from dashboards.alert_texts import dropdown_labels
from dashboards.base_map import map_base
from dashboards.context import context
from dashboards.i18n import pick_language, t
from dashboards.page_parts import fmt_int, fmt_time, page_header
from dashboards.table_sort import POLICE_KEYS, sort_rows, valid_sort_by, vi_key
from evidence.store import Incident
from police import watchlist
from police.rules import load_rules

log = logging.getLogger(__name__)

dash.register_page(
    __name__, path="/police", name="Công an", title="IOC Lào Cai – Xác minh sự vụ camera",
    nav_order=50, nav_label_key="nav.police",
)

COLUMNS = ("priority_text", "state_text", "time", "type_text", "camera", "unit_id",
           "confidence", "plate")
COLUMN_TEXT = {"unit_id": "police.col.unit"}  # the column holds the camera's unit
PRIORITY_STYLES = {  # the row of a watchlist hit, of a fire or smoke, of other urgent work
    "hit": {"backgroundColor": "#5a1422", "color": "#ffffff", "fontWeight": "700"},
    "urgent": {"backgroundColor": "#3b2410"},
    "high": {"backgroundColor": "#2a2616"},
}
PRIORITY_COLOURS = {"hit": "#ff4d6d", "urgent": "#ff8c1a", "high": "#ffb020",
                    "normal": "#5d7a96", "none": "#5d7a96"}
STATE_COLOURS = {"unreviewed": "#ffb020", "verified": "#3ddc97", "dismissed": "#7d8fa1"}
MAP_CONFIG = {"displaylogo": False, "scrollZoom": True, "displayModeBar": False}


def _lang(lang: str | None) -> str:
    return pick_language(lang, context().settings.web.language)


def _dropdown(id_: str, options: list[dict], placeholder: str, **extra) -> dcc.Dropdown:
    return dcc.Dropdown(id=id_, options=options, placeholder=placeholder, multi=True,
                        clearable=True, className="filter", **extra)


def _filters(lang: str) -> html.Div:
    c = context()
    with c.pool.connection() as conn:
        opts = q.load_filter_options(conn, load_rules(c.settings.police.queue_rules_file))
    return html.Div(
        [
            dcc.RadioItems(id="police-view", className="police-view", inline=True,
                           options=[{"label": t(f"police.view.{v}", lang), "value": v}
                                    for v in q.VIEWS], value=q.DEFAULT_VIEW),
            dcc.Input(id="police-plate-search", type="search", debounce=True, maxLength=32,
                      placeholder=t("police.plate_search", lang),
                      className="filter police-plate-search"),
            _dropdown("police-type",
                      sorted(({"label": q.type_text(k, lang), "value": k} for k in opts.types),
                             key=lambda o: vi_key(o["label"])),
                      t("police.all_types", lang), labels=dropdown_labels(lang)),
            _dropdown("police-camera", [{"label": n, "value": d} for d, n in opts.cameras],
                      t("police.all_cameras", lang), labels=dropdown_labels(lang)),
            _dropdown("police-unit", oq.unit_options(oq.geometry(c.pool), lang),
                      t("police.all_units", lang), labels=dropdown_labels(lang)),
            _dropdown("police-state",
                      [{"label": t(f"police.state.{s}", lang), "value": s}
                       for s in q.REVIEW_STATES], t("police.state_placeholder", lang), labels=dropdown_labels(lang)),
            dcc.Dropdown(id="police-period", className="filter filter-period", clearable=False,
                         labels=dropdown_labels(lang),
                         options=[{"label": t(f"police.period.{p}", lang), "value": p}
                                  for p in q.PERIODS],
                         value=q.DEFAULT_PERIOD),
            police_watch.sound_toggle(lang),
            html.Div(id="police-count", className="feed-count"),
            html.Div(id="police-detections", className="muted police-detections"),
        ],
        className="feed-filters police-filters",
    )


def row_styles(selected: str | None) -> list[dict]:
    """Colours per review state, and the incident on show highlighted (whatever the sort)."""
    styles: list[dict] = [
        *[
            {"if": {"filter_query": f'{{priority}} = "{p}"'}, **style}
            for p, style in PRIORITY_STYLES.items()
        ],
        *[
            {"if": {"filter_query": f'{{priority}} = "{p}"', "column_id": "priority_text"},
             "borderLeft": f"8px solid {colour}", "fontWeight": "800"}
            for p, colour in PRIORITY_COLOURS.items()
        ],
        *[
            {"if": {"filter_query": f'{{state}} = "{s}"', "column_id": "state_text"},
             "color": colour}
            for s, colour in STATE_COLOURS.items()
        ],
        {"if": {"filter_query": '{state} = "dismissed"'}, "color": "#7d8fa1"},
        {"if": {"column_id": "plate"}, "fontFamily": "DejaVu Sans Mono, monospace"},
        {"if": {"state": "active"}, "backgroundColor": "#1d3552", "border": "none"},
        {"if": {"state": "selected"}, "backgroundColor": "#1d3552"},
    ]
    if selected and not set(selected) & set('"\\\''):
        styles.append({"if": {"filter_query": f'{{id}} = "{selected}"'},
                       "backgroundColor": "#1d3552"})
    return styles


def _table(lang: str) -> dash_table.DataTable:
    return dash_table.DataTable(
        id="police-table",
        columns=[{"name": t(COLUMN_TEXT.get(c, f"police.col.{c}"), lang), "id": c}
                 for c in COLUMNS],
        data=[],
        page_action="custom",
        page_current=0,
        page_size=q.PAGE_SIZE,
        page_count=1,
        # sorted on the server, Vietnamese order, the choice kept across live refreshes and
        # reloads; the queue's own order (priority, newest) decides which rows are on a page
        sort_action="custom",
        sort_mode="single",
        sort_by=[],
        persistence="police-sort",
        persisted_props=["sort_by"],
        persistence_type="session",
        cell_selectable=True,
        style_as_list_view=True,
        style_table={"overflowY": "auto", "overflowX": "hidden", "width": "100%",
                     "height": "calc(100vh - 240px)", "minHeight": "516px"},
        fixed_rows={"headers": True},
        style_header={"backgroundColor": "#17222e", "color": "#8da2b5", "fontWeight": "600",
                      "border": "none", "fontSize": "14px", "textTransform": "uppercase"},
        style_cell={"backgroundColor": "#131c26", "color": "#e6edf3", "border": "none",
                    "borderBottom": "1px solid #223142", "fontSize": "16px",
                    "padding": "9px 8px", "textAlign": "left",
                    "fontFamily": "Noto Sans, DejaVu Sans, Arial, sans-serif",
                    "whiteSpace": "normal", "height": "auto"},
        style_cell_conditional=[
            *[
                {"if": {"column_id": col}, "width": w, "minWidth": w, "maxWidth": w}
                for col, w in (("priority_text", "70px"), ("state_text", "100px"),
                               ("time", "84px"), ("type_text", "112px"), ("camera", "196px"),
                               ("unit_id", "112px"), ("confidence", "64px"),
                               ("plate", "118px"))
            ],
            {"if": {"column_id": "state_text"}, "fontWeight": "700"},
            {"if": {"column_id": "confidence"}, "textAlign": "right"},
        ],
        style_data_conditional=row_styles(None),
        css=[{"selector": ".dash-spreadsheet tr:hover td", "rule": "background-color: #1a2735;"},
             {"selector": "td.focused", "rule": "box-shadow: none !important;"}],
    )


def _actions(lang: str) -> html.Div:
    return html.Div(
        [
            html.H3(t("police.decision", lang), className="panel-sub"),
            dcc.Textarea(id="police-act-reason", placeholder=t("police.reason", lang),
                         className="act-note", maxLength=1000),
            html.Div(
                [html.Button(t("police.act.verify", lang), id="police-act-verify",
                             className="btn btn-verify", n_clicks=0),
                 html.Button(t("police.act.dismiss", lang), id="police-act-dismiss",
                             className="btn btn-false", n_clicks=0)],
                className="act-buttons",
            ),
            html.H3(t("police.notes", lang), className="panel-sub"),
            dcc.Textarea(id="police-act-note-text", placeholder=t("police.note_placeholder", lang),
                         className="act-note", maxLength=2000),
            html.Div(html.Button(t("police.act.add_note", lang), id="police-act-note",
                                 className="btn btn-ack", n_clicks=0), className="act-buttons"),
            html.Div(id="police-act-result", className="act-result", role="status"),
        ],
        className="act-bar",
    )


def _public_key_line(lang: str) -> html.Div:
    """Where the public key that checks the bundles is published, and its fingerprint."""
    from dashboards.evidence import PUBLIC_KEY_PATH
    from evidence.export import signing_key
    from evidence.signing import SigningKeyError

    try:
        key = signing_key(context().settings)
    except SigningKeyError:
        key = None
    if key is None:
        return html.Div(t("police.unsigned", lang), id="police-public-key",
                        className="muted police-export-hint")
    return html.Div(
        t("police.public_key", lang, path=PUBLIC_KEY_PATH, key_id=key.public.key_id),
        id="police-public-key", className="muted police-export-hint")


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
            _filters(lang),
            html.Div(
                [
                    html.Div(_table(lang), className="feed-table-wrap"),
                    html.Section(
                        [html.Div(id="police-detail"),
                         html.Div(_actions(lang), id="police-actions", className="hidden")],
                        className="ops-side-panel police-detail-panel",
                    ),
                    html.Aside(
                        [
                            html.H3(t("police.map", lang), className="panel-sub first"),
                            dcc.Graph(id="police-map", config=MAP_CONFIG,
                                      figure=q.path_figure(
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
def _capped(n: int, lang: str) -> str:
    return fmt_int(min(n, q.COUNT_CAP), lang) + ("+" if n > q.COUNT_CAP else "")


def _rows(flt: q.QueueFilter, view: str, page: int, lang: str,
          sort_by: list[dict] | None = None) -> tuple[list[dict], str, int]:
    """The table's rows, the count line and the number of pages; `sort_by` (the table's
    header clicks) orders the rows on show."""
    rows, count, pages = _queue_rows(flt, view, page, lang)
    if sort_by and rows:
        rows = sort_rows(rows, sort_by, POLICE_KEYS)
        count += " · " + t("police.sorted_hint", lang)
    return rows, count, pages


def _queue_rows(flt: q.QueueFilter, view: str, page: int,
                lang: str) -> tuple[list[dict], str, int]:
    c = context()
    role = auth.current_role()
    names = oq.unit_names(oq.geometry(c.pool), lang)
    tz = c.settings.web.timezone
    if view == "all":
        with c.pool.connection() as conn:
            incidents = q.load_queue(conn, flt, role)
        rows = q.queue_rows(incidents, lang, tz, names)
        count = t("police.search_count", lang, n=fmt_int(len(rows), lang))
        if len(rows) == q.QUEUE_LIMIT:
            count += " " + t("police.newest_only", lang, n=q.QUEUE_LIMIT)
        return rows, count, 1
    with c.pool.connection() as conn:
        result = q.load_queue_page(conn, flt, role, page=page)
    rows = q.queue_rows(result.items, lang, tz, names)
    key = "police.queue_count" if not flt.states or flt.states == ("unreviewed",) \
        else "police.queue_count_state"
    count = t(key, lang, n=_capped(result.total, lang))
    if result.pages > 1:
        count += " · " + t("police.page", lang, p=result.page + 1, pages=result.pages)
    return rows, count, result.pages


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
    styles = row_styles(selected if isinstance(selected, str) else None)
    view = view if view in q.VIEWS else q.DEFAULT_VIEW
    try:
        rows, count, pages = _rows(
            q.QueueFilter.of(types, cameras, units, period, states, plate), view,
            page if isinstance(page, int) else 0, lang, valid_sort_by(sort_by, COLUMNS))
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
    return t("police.detections", lang, n=_capped(n, lang), m=_capped(max(0, n - queued), lang))


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
def _fact_rows(facts: list[tuple[str, object]]) -> html.Dl:
    return html.Dl([x for k, v in facts for x in (html.Dt(k), html.Dd(v))], className="facts")


def _state_badge(inc: Incident, lang: str) -> html.Span:
    state = q.review_state(inc)
    return html.Span(t(f"police.state.{state}", lang), className=f"state-badge state-{state}",
                     id="police-state-badge")


def _snapshot_block(detail: q.IncidentDetail, lang: str) -> html.Div:
    inc = detail.incident
    if not detail.snapshots:
        lines = [html.Div(t("police.no_snapshot", lang), className="police-no-image-text")]
        if inc.snapshot_url:
            lines.append(html.Div(t("police.snapshot_elsewhere", lang, url=inc.snapshot_url),
                                  className="muted police-url"))
        return html.Div(lines, className="police-no-image", id="police-snapshot-missing")
    main, *more = detail.snapshots
    thumbs = [
        html.A(html.Img(src=q.snapshot_src(s.sha256, inc.key), className="police-thumb",
                        alt=t("police.snapshot", lang)),
               href=q.snapshot_src(s.sha256, inc.key), target="_blank", rel="noopener")
        for s in more
    ]
    return html.Div(
        [
            html.A(html.Img(src=q.snapshot_src(main.sha256, inc.key), id="police-snapshot",
                            className="police-snapshot", alt=t("police.snapshot", lang)),
                   href=q.snapshot_src(main.sha256, inc.key), target="_blank", rel="noopener"),
            html.Div(thumbs, className="police-thumbs") if thumbs else None,
            html.Div(f"SHA-256 {main.sha256}", className="police-hash", title=main.sha256),
        ],
        className="police-image",
    )


def render_detail(detail: q.IncidentDetail | None, lang: str, tz: str,
                  names: dict[str, str]) -> list:
    """The middle column for one incident (or the hint when none is picked)."""
    if detail is None:
        return [html.H2(t("police.pick", lang), className="panel-title"),
                html.Div(t("police.pick_hint", lang), className="hint")]
    inc = detail.incident
    span = fmt_time(inc.started_at, tz) + " → " + (
        fmt_time(inc.ended_at, tz) if inc.ended_at else t("police.ongoing", lang))
    confidence = q.fmt_confidence(inc.top_confidence or inc.confidence)
    facts: list[tuple[str, object]] = [
        (t("police.fact.camera", lang), f"{inc.camera_name or inc.device_id} ({inc.device_id})"),
        (t("police.fact.unit_id", lang), names.get(inc.unit_id or "", inc.unit_id or "–")),
        (t("police.fact.zones", lang), ", ".join(inc.zones) or "–"),
        (t("police.fact.label", lang), f"{q.type_text(inc.type, lang)} ({inc.label})"),
        (t("police.fact.confidence", lang), confidence),
        (t("police.fact.span", lang), span),
        (t("police.fact.source", lang), f"{inc.source} · {inc.event_id}"),
    ]
    if inc.plate:
        plate = inc.plate
        if inc.plate_confidence is not None:
            plate += f" ({q.fmt_confidence(inc.plate_confidence)})"
        facts.insert(4, (t("police.fact.plate", lang), html.Span(plate, id="police-plate",
                                                                 className="plate")))
    if detail.queue is not None and detail.queue.watch_reason:
        facts.insert(0, (t("police.fact.watch", lang),
                         html.Span(detail.queue.watch_reason, id="police-watch-reason-fact",
                                   className="police-watch-fact")))
    for clip in detail.clips:
        facts.append((t("police.media.clip", lang),
                      html.A(f"{clip.sha256[:16]}… ({fmt_int(clip.size // 1024, lang)} KiB)",
                             href=q.snapshot_src(clip.sha256, inc.key), target="_blank",
                             rel="noopener", className="police-clip")))
    if inc.review:
        facts.append((t("police.fact.review", lang), t(
            "police.reviewed_by", lang, state=t(f"police.state.{inc.review}", lang),
            actor=inc.reviewed_by or "?", time=fmt_time(inc.reviewed_at, tz),
            reason=inc.review_reason or "")))
    export = html.Form(
        [
            dcc.Input(type="hidden", name=auth.CSRF_FIELD, value=auth.csrf_token()),
            html.Button(t("police.export", lang), type="submit", id="police-export",
                        className="btn btn-export"),
            html.Div(t("police.export_hint", lang), className="muted police-export-hint"),
            _public_key_line(lang),
        ],
        method="POST", action=q.bundle_action(inc.key), className="police-export-form",
    )
    hit = detail.queue is not None and detail.queue.watch_reason is not None
    return [
        html.Div(t("police.hit", lang), className="police-hit-pill", id="police-hit-pill")
        if hit else None,
        html.Div([html.Span(q.type_text(inc.type, lang), className="type-pill"),
                  _state_badge(inc, lang),
                  html.Span(t("police.live", lang), className="live-pill")
                  if inc.phase != "end" else None],
                 className="police-head"),
        html.H2(f"{q.type_text(inc.type, lang)} – {inc.camera_name or inc.device_id}",
                className="panel-title", id="police-detail-title"),
        _snapshot_block(detail, lang),
        _fact_rows(facts),
        export,
    ]


def render_context(detail: q.IncidentDetail | None, lang: str, tz: str) -> list:
    """Below the related lists: review history, notes, custody log."""
    if detail is None:
        return []
    history = [
        html.Li([html.Span(fmt_time(r.at, tz), className="muted"), " ",
                 html.B(t(f"police.state.{r.decision}", lang)), f" · {r.actor}",
                 html.Div(r.reason, className="event-note")])
        for r in reversed(detail.reviews)
    ]
    notes = [
        html.Li([html.Span(fmt_time(n.at, tz), className="muted"), f" · {n.actor}",
                 html.Div(n.note, className="event-note")])
        for n in reversed(detail.notes)
    ]
    custody = [
        html.Li([html.Span(fmt_time(e.at, tz), className="muted"), " ",
                 html.B(e.actor), " · ", t(f"police.custody.{e.action}", lang)])
        for e in reversed(detail.custody[-30:])
    ]
    none = html.Div(t("police.none", lang), className="muted")
    return [
        html.H3(t("police.history", lang), className="panel-sub"),
        html.Ul(history, className="event-list", id="police-history") if history else none,
        html.H3(t("police.notes", lang), className="panel-sub"),
        html.Ul(notes, className="event-list", id="police-notes") if notes else none,
        html.H3(t("police.custody", lang), className="panel-sub"),
        html.Ul(custody, className="event-list custody-list", id="police-custody")
        if custody else none,
    ]


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
            q.record_view(c.pool, key, actor=auth.current_actor(), ip=auth.client_ip())
        with c.pool.connection() as conn:
            detail = q.load_detail(conn, key, role) if key else None
            cameras = q.load_cameras(conn)
        geo = oq.geometry(c.pool)
    except Exception:
        log.warning("incident detail failed", exc_info=True)
        return ([html.Div(t("db_unavailable", lang), className="banner banner-error")],
                *([no_update] * 9))
    names = oq.unit_names(geo, lang)
    figure = q.path_figure(detail, geo, cameras, lang, tz, tile_url=map_base(c.settings))
    rel = q.related_lists(detail, lang, tz)
    if key and detail is None:
        body = [html.Div(t("police.act.not_found", lang), className="muted")]
    else:
        body = render_detail(detail, lang, tz, names)
    return (body, rel.plate_title, rel.plate_options, rel.plate_value, rel.same_title,
            rel.same_options, None, render_context(detail, lang, tz), figure,
            "police-actions" if detail is not None else "hidden")


# -- decisions (need the `act` permission) --------------------------------------------------------
def _result(result: q.ActionResult, lang: str) -> html.Div:
    return html.Div(t(f"police.act.{result.reason}", lang),
                    className="act-ok" if result.ok else "act-refused")


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
    result = q.review(context().pool, key, action, reason, actor=auth.current_actor(),
                      ip=auth.client_ip())
    if not result.ok:
        return _result(result, lang), no_update, no_update
    return _result(result, lang), (refresh or 0) + 1, ""


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
    result = q.add_note(context().pool, key, text, actor=auth.current_actor(),
                        ip=auth.client_ip())
    if not result.ok:
        return _result(result, lang), no_update, no_update
    return _result(result, lang), (refresh or 0) + 1, ""


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
