"""The police review page's components (dashboards/pages/police.py): the filters, the queue
table with its rows and row colours, the decision bar, the incident panel (snapshot, facts,
evidence export and the public key that checks it) and its context (review history, notes,
custody log), and the line that reports a decision.

Builders only: the page module keeps its layout and every callback (Dash loads a page module
for every app; a helper module's callbacks would reach only the first one). The data comes
from dashboards/police_queries.py (the queue) and dashboards/police_incident.py (one
incident).
"""

from __future__ import annotations

from dash import dash_table, dcc, html

from dashboards import auth, police_watch
from dashboards import ops_queries as oq
from dashboards import police_incident as one
from dashboards import police_queries as q
from dashboards.alert_texts import dropdown_labels
from dashboards.context import context
from dashboards.i18n import t
from dashboards.page_parts import fmt_int, fmt_time
from dashboards.table_sort import POLICE_KEYS, sort_rows, vi_key
from evidence.incident import Incident
from police.rules import load_rules

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


def _dropdown(id_: str, options: list[dict], placeholder: str, **extra) -> dcc.Dropdown:
    return dcc.Dropdown(id=id_, options=options, placeholder=placeholder, multi=True,
                        clearable=True, className="filter", **extra)


def filters(lang: str) -> html.Div:
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


def table(lang: str) -> dash_table.DataTable:
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


def actions(lang: str) -> html.Div:
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


def public_key_line(lang: str) -> html.Div:
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


# -- the queue's rows --------------------------------------------------------------------------
def capped(n: int, lang: str) -> str:
    """A count as shown: "10 000+" above COUNT_CAP."""
    return fmt_int(min(n, q.COUNT_CAP), lang) + ("+" if n > q.COUNT_CAP else "")


def table_rows(flt: q.QueueFilter, view: str, page: int, lang: str,
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
    count = t(key, lang, n=capped(result.total, lang))
    if result.pages > 1:
        count += " · " + t("police.page", lang, p=result.page + 1, pages=result.pages)
    return rows, count, result.pages


# -- one incident --------------------------------------------------------------------------------
def _fact_rows(facts: list[tuple[str, object]]) -> html.Dl:
    return html.Dl([x for k, v in facts for x in (html.Dt(k), html.Dd(v))], className="facts")


def _state_badge(inc: Incident, lang: str) -> html.Span:
    state = q.review_state(inc)
    return html.Span(t(f"police.state.{state}", lang), className=f"state-badge state-{state}",
                     id="police-state-badge")


def _snapshot_block(detail: one.IncidentDetail, lang: str) -> html.Div:
    inc = detail.incident
    if not detail.snapshots:
        lines = [html.Div(t("police.no_snapshot", lang), className="police-no-image-text")]
        if inc.snapshot_url:
            lines.append(html.Div(t("police.snapshot_elsewhere", lang, url=inc.snapshot_url),
                                  className="muted police-url"))
        return html.Div(lines, className="police-no-image", id="police-snapshot-missing")
    main, *more = detail.snapshots
    thumbs = [
        html.A(html.Img(src=one.snapshot_src(s.sha256, inc.key), className="police-thumb",
                        alt=t("police.snapshot", lang)),
               href=one.snapshot_src(s.sha256, inc.key), target="_blank", rel="noopener")
        for s in more
    ]
    return html.Div(
        [
            html.A(html.Img(src=one.snapshot_src(main.sha256, inc.key), id="police-snapshot",
                            className="police-snapshot", alt=t("police.snapshot", lang)),
                   href=one.snapshot_src(main.sha256, inc.key), target="_blank", rel="noopener"),
            html.Div(thumbs, className="police-thumbs") if thumbs else None,
            html.Div(f"SHA-256 {main.sha256}", className="police-hash", title=main.sha256),
        ],
        className="police-image",
    )


def render_detail(detail: one.IncidentDetail | None, lang: str, tz: str,
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
                             href=one.snapshot_src(clip.sha256, inc.key), target="_blank",
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
            public_key_line(lang),
        ],
        method="POST", action=one.bundle_action(inc.key), className="police-export-form",
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


def render_context(detail: one.IncidentDetail | None, lang: str, tz: str) -> list:
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


# -- decisions -------------------------------------------------------------------------------
def result_message(result: one.ActionResult, lang: str) -> html.Div:
    """The line under the decision bar: what was done, or why it was refused."""
    return html.Div(t(f"police.act.{result.reason}", lang),
                    className="act-ok" if result.ok else "act-refused")
