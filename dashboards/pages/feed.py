"""Alert feed in the operators' order (most severe, unacknowledged, waiting longest first),
coloured by severity, filtered; acknowledge, assign, resolve or dismiss the selected alert with
a note, or acknowledge all of its station or area at once, without leaving the page. The
selection is the alert's id: the highlighted row follows it across refreshes."""

from __future__ import annotations

import logging
import time

import dash
from dash import (
    ClientsideFunction,
    Input,
    Output,
    State,
    callback,
    clientside_callback,
    ctx,
    dash_table,
    dcc,
    html,
    no_update,
)
from dash.exceptions import PreventUpdate

from alerts import queries as alert_queries
from alerts.queries import Alert, title_in
from dashboards import alert_actions, alert_texts
from dashboards import assignees as who
from dashboards import ops_queries as q
from dashboards.access import may_act
from dashboards.auth import current_role
from dashboards.classify import SEVERITIES, SEVERITY_COLOURS
from dashboards.context import context
from dashboards.i18n import pick_language, t
from dashboards.page_parts import (
    action_bar,
    action_message,
    fmt_int,
    fmt_time,
    page_header,
    severity_pill,
)
from dashboards.table_sort import FEED_KEYS, sort_rows, valid_sort_by

log = logging.getLogger(__name__)
MAX_CHILDREN_SHOWN = 20

dash.register_page(
    __name__,
    path="/feed",
    name="Cảnh báo",
    title="IOC Lào Cai – Cảnh báo",
    nav_order=20,
    nav_label_key="nav.feed",
)

PAGE_SIZE = 200


def _options(prefix: str, values, lang: str) -> list[dict]:
    return [{"label": t(f"{prefix}.{v}", lang), "value": v} for v in values]


def _filters(lang: str) -> html.Div:
    dropdown = {"multi": True, "clearable": True, "className": "filter",
                "labels": alert_texts.dropdown_labels(lang)}
    return html.Div(
        [
            dcc.Dropdown(
                id="feed-family",
                options=_options("family", q.FAMILIES, lang),
                placeholder=t("feed.all_families", lang),
                **dropdown,
            ),
            dcc.Dropdown(
                id="feed-unit",
                options=q.unit_options(q.geometry(context().pool), lang),
                placeholder=t("feed.all_units", lang),
                **dropdown,
            ),
            dcc.Dropdown(
                id="feed-severity",
                options=_options("severity", SEVERITIES, lang),
                placeholder=t("feed.all_severities", lang),
                **dropdown,
            ),
            dcc.Dropdown(
                id="feed-status",
                options=_options("alert_status", q.STATUSES, lang),
                value=list(q.ACTIVE),
                placeholder=t("feed.all_statuses", lang),
                **dropdown,
            ),
            html.Div(id="feed-count", className="feed-count"),
            dcc.Checklist(
                id="feed-sound",
                options=[{"label": t("feed.sound", lang), "value": "on"}],
                value=[],
                className="feed-sound",
                persistence=True,
                persistence_type="local",
            ),
        ],
        className="feed-filters",
    )


COLUMNS = (
    "severity_text",
    "opened",
    "title",
    "unit_name",
    "family_text",
    "status_text",
    "assigned_to",
    "count",
)


def table_rows(alerts: list[Alert], lang: str, tz: str, names: dict[str, str],
               people: list[who.Assignee] | None = None) -> list[dict]:
    """DataTable rows (one per alert; `id` is the alert id)."""
    return [
        {
            "id": a.id,
            "severity": a.severity,
            "severity_text": t(f"severity.{a.severity}", lang),
            "opened": fmt_time(a.opened_at, tz, with_date=False),
            "opened_ts": a.opened_at.timestamp(),
            "title": title_in(a, lang) + (f" (+{a.children})" if a.children else ""),
            "unit_name": names.get(a.unit_id or "", a.unit_id or "–"),
            "family_text": t(f"family.{a.family}", lang) if a.family else "–",
            "status": a.status,
            "status_text": t(f"alert_status.{a.status}", lang),
            "assigned_to": who.display_name(a.assigned_to, people or []),
            "count": a.count,
        }
        for a in alerts
    ]


def _table(lang: str) -> dash_table.DataTable:
    return dash_table.DataTable(
        id="feed-table",
        columns=[{"name": t(f"feed.col.{c}", lang), "id": c} for c in COLUMNS],
        data=[],
        page_size=PAGE_SIZE,
        # sorted on the server (Vietnamese order, by time rather than its text), so a live
        # refresh keeps the order and the highlight stays on its alert; the choice survives
        # a reload of the page
        sort_action="custom",
        sort_mode="single",
        sort_by=[],
        persistence="feed-sort",
        persisted_props=["sort_by"],
        persistence_type="session",
        cell_selectable=True,
        style_as_list_view=True,
        style_table={"overflowY": "auto", "maxHeight": "calc(100vh - 230px)"},
        style_header={
            "backgroundColor": "#17222e",
            "color": "#8da2b5",
            "fontWeight": "600",
            "border": "none",
            "fontSize": "15px",
            "textTransform": "uppercase",
        },
        style_cell={
            "backgroundColor": "#131c26",
            "color": "#e6edf3",
            "border": "none",
            "borderBottom": "1px solid #223142",
            "fontSize": "17px",
            "padding": "10px 12px",
            "textAlign": "left",
            "fontFamily": "Noto Sans, DejaVu Sans, Arial, sans-serif",
            "whiteSpace": "normal",
            "height": "auto",
        },
        style_cell_conditional=[
            {"if": {"column_id": "severity_text"}, "width": "170px", "fontWeight": "700"},
            {"if": {"column_id": "opened"}, "width": "110px"},
            {"if": {"column_id": "unit_name"}, "width": "170px"},
            {"if": {"column_id": "family_text"}, "width": "110px"},
            {"if": {"column_id": "status_text"}, "width": "140px"},
            {"if": {"column_id": "assigned_to"}, "width": "130px"},
            {"if": {"column_id": "count"}, "width": "60px", "textAlign": "right"},
        ],
        style_data_conditional=[
            *[
                {
                    "if": {"filter_query": f'{{severity}} = "{s}"', "column_id": "severity_text"},
                    "color": SEVERITY_COLOURS[s],
                    "borderLeft": f"6px solid {SEVERITY_COLOURS[s]}",
                }
                for s in SEVERITIES
            ],
            {
                "if": {"filter_query": '{severity} = "extreme" && {status} = "open"'},
                "backgroundColor": "#3a1416",
            },
            {
                "if": {"filter_query": '{severity} = "severe" && {status} = "open"'},
                "backgroundColor": "#33220f",
            },
            {
                "if": {"filter_query": '{status} = "resolved" || {status} = "false_alarm"'},
                "color": "#7d8fa1",
            },
            {
                "if": {"state": "active"},
                "backgroundColor": "#1d3552",
                "border": "1px solid #4aa8ff",
            },
            {"if": {"state": "selected"}, "backgroundColor": "#1d3552"},
        ],
        css=[
            {"selector": ".dash-spreadsheet tr:hover td", "rule": "background-color: #1a2735;"},
            {"selector": "th", "rule": "position: sticky; top: 0; z-index: 2;"},
        ],
    )


def _bulk_bar(lang: str) -> html.Div:
    return html.Div(
        [
            html.Button(t("act.ack_device", lang), id="feed-act-ack-device",
                        className="btn btn-ack-all", n_clicks=0),
            html.Button(t("act.ack_unit", lang), id="feed-act-ack-unit",
                        className="btn btn-ack-all", n_clicks=0),
        ],
        className="act-bulk",
    )


def cell_of(rows: list[dict], alert_id: int | None) -> dict | None:
    """The table cell that stands for alert `alert_id` in `rows` (its title), or None when
    the alert is not shown: the highlight follows the alert, never a row position."""
    if alert_id is None:
        return None
    for i, row in enumerate(rows):
        if row["id"] == alert_id:
            return {"row": i, "column": COLUMNS.index("title"), "row_id": alert_id,
                    "column_id": "title"}
    return None


def layout(lang: str | None = None, alert: str | None = None, **_query) -> html.Div:
    c = context()
    lang = pick_language(lang, c.settings.web.language)
    selected = int(alert) if alert and alert.isdigit() else None
    can_act = may_act(current_role(), "feed")
    if can_act:
        with c.pool.connection() as conn:
            picker = who.options(who.assignees(conn, lang), lang)
    return html.Div(
        [
            page_header("feed", "feed.title", lang, "/feed"),
            _filters(lang),
            html.Div(
                [
                    html.Div(_table(lang), className="feed-table-wrap"),
                    html.Aside(
                        [
                            html.Div(id="feed-detail", className="feed-detail"),
                            html.Div(
                                [action_bar("feed", lang, assignees=picker), _bulk_bar(lang)]
                                if can_act
                                else None,
                                id="feed-actions",
                                className="feed-actions hidden",
                            ),
                        ],
                        className="ops-side-panel feed-side",
                    ),
                ],
                className="feed-body",
            ),
            dcc.Store(id="feed-lang-store", data=lang),
            dcc.Store(id="feed-selected", data=selected),
            dcc.Store(id="feed-chimed"),
            dcc.Interval(id="feed-tick", interval=c.settings.web.refresh_ms),
        ],
        className="page page-feed",
    )


def _rows(family, unit_id, severity, status, lang: str,
          sort_by: list[dict] | None = None) -> tuple[list[dict], str]:
    c = context()
    with c.pool.connection() as conn:
        alerts = q.feed_alerts(
            conn,
            families=family,
            units=unit_id,
            severities=severity,
            statuses=status or [],
            limit=PAGE_SIZE,
        )
        people = who.assignees(conn, lang)
    names = q.unit_names(q.geometry(c.pool), lang)
    rows = table_rows(alerts, lang, c.settings.web.timezone, names, people)
    if not rows:
        return rows, t("feed.empty", lang)
    hint = t("feed.order_hint", lang)
    if sort_by:
        rows = sort_rows(rows, sort_by, FEED_KEYS)
        hint = t("feed.sorted_hint", lang)
    count = t("feed.count", lang, n=fmt_int(len(rows), lang)) + " · " + hint
    if len(rows) == PAGE_SIZE:
        count += " " + t("feed.first_only", lang, n=PAGE_SIZE)
    me = alert_actions.current_actor()
    mine = sum(a.assigned_to == me and a.status == "assigned" for a in alerts)
    if mine:  # the assignee learns it here, at every refresh (and other systems by MQTT/webhook)
        return rows, [count, " · ", html.B(t("feed.assigned_to_you", lang, n=mine),
                                           className="feed-mine", id="feed-mine")]
    return rows, count


@callback(
    Output("feed-table", "data"),
    Output("feed-count", "children"),
    Output("feed-clock", "children"),
    Output("feed-table", "active_cell"),
    Output("feed-table", "selected_cells"),
    Input("feed-tick", "n_intervals"),
    Input("feed-family", "value"),
    Input("feed-unit", "value"),
    Input("feed-severity", "value"),
    Input("feed-status", "value"),
    Input("feed-table", "sort_by"),
    State("feed-lang-store", "data"),
    State("feed-selected", "data"),
)
def refresh_feed(_n, family, unit_id, severity, status, sort_by, lang, selected):
    lang = pick_language(lang)
    clock = fmt_time(time.time(), context().settings.web.timezone)
    try:
        rows, count = _rows(family, unit_id, severity, status, lang,
                            valid_sort_by(sort_by, COLUMNS))
    except Exception:
        log.warning("feed refresh failed", exc_info=True)
        return (no_update, html.Span(t("db_unavailable", lang), className="act-refused"), clock,
                no_update, no_update)
    cell = cell_of(rows, selected)
    return rows, count, clock, cell, [cell] if cell else []


# A desk console may chime for each new extreme alert (browser side, assets/alert_sound.js).
clientside_callback(
    ClientsideFunction(namespace="iocAlerts", function_name="chime"),
    Output("feed-chimed", "data"),
    Input("feed-table", "data"),
    Input("feed-sound", "value"),
)


@callback(
    Output("feed-selected", "data"),
    Input("feed-table", "active_cell"),
    prevent_initial_call=True,
)
def select_alert(cell):
    if not cell or cell.get("row_id") is None:
        raise PreventUpdate
    return int(cell["row_id"])


def detail(alert_id: int | None, lang: str) -> tuple[list, str]:
    """(detail panel children, class of the action bar) for one alert."""
    if alert_id is None:
        return [
            html.H2(t("feed.pick", lang), className="panel-title"),
            html.Div(t("feed.pick_hint", lang), className="hint"),
        ], "feed-actions hidden"
    c = context()
    tz = c.settings.web.timezone
    with c.pool.connection() as conn:
        alert = alert_queries.get_alert(conn, alert_id)
        events = list(reversed(alert_queries.alert_history(conn, alert_id))) if alert else []
        # a storm parent: the alerts grouped under it, so the operator sees what it stands for
        children = (alert_queries.list_alerts(conn, parent_id=alert_id, status=None,
                                              limit=MAX_CHILDREN_SHOWN + 1)
                    if alert else [])
        people = who.assignees(conn, lang)
    if alert is None:
        return [
            html.Div(t("act.not_found", lang, id=alert_id), className="muted")
        ], "feed-actions hidden"
    names = q.unit_names(q.geometry(c.pool), lang)
    facts = [
        (t("feed.col.status_text", lang), t(f"alert_status.{alert.status}", lang)),
        (t("feed.col.unit_name", lang), names.get(alert.unit_id or "", alert.unit_id or "–")),
        (t("feed.opened", lang), fmt_time(alert.opened_at, tz)),
        (t("feed.last_seen", lang), fmt_time(alert.last_seen_at, tz)),
        (t("feed.col.count", lang), str(alert.count)),
        (t("feed.col.assigned_to", lang), who.display_name(alert.assigned_to, people) or "–"),
    ]
    if alert.device_id:
        facts.append(
            (
                t("feed.device", lang),
                dcc.Link(
                    alert.device_id,
                    href=f"/ops?device={alert.device_id}&lang={lang}",
                    id="feed-device-link",
                ),
            )
        )
    history = [
        html.Li(
            [
                html.Span(fmt_time(e.at, tz), className="muted"),
                " ",
                html.B(t(f"event.{e.action}", lang)),
                (" " + t("event.assigned_to", lang,
                         who=who.display_name(e.data.get("assignee"), people))
                 if e.data.get("assignee") else ""),
                f" · {e.actor}",
                html.Div(e.note, className="event-note") if e.note else None,
            ]
        )
        for e in events
    ]
    grouped = []
    if children:
        shown = children[:MAX_CHILDREN_SHOWN]
        grouped = [
            html.H3(t("feed.grouped", lang, n=alert.children), className="panel-sub"),
            html.Ul(
                [html.Li([severity_pill(c.severity, lang), " ", title_in(c, lang),
                          html.Span(f" · {fmt_time(c.opened_at, tz)} · "
                                    f"{t(f'alert_status.{c.status}', lang)}", className="muted")])
                 for c in shown]
                + ([html.Li(t("feed.grouped_more", lang), className="muted")]
                   if len(children) > MAX_CHILDREN_SHOWN else []),
                className="event-list", id="feed-children",
            ),
        ]
    active = alert.status in q.ACTIVE
    return [
        html.Div(
            [severity_pill(alert.severity, lang), html.Span(f" #{alert.id}", className="muted")]
        ),
        html.H2(title_in(alert, lang), className="panel-title"),
        html.Dl([x for k, v in facts for x in (html.Dt(k), html.Dd(v))], className="facts"),
        *grouped,
        html.H3(t("feed.history", lang), className="panel-sub"),
        html.Ul(history, className="event-list"),
    ], "feed-actions" if active else "feed-actions hidden"


@callback(
    Output("feed-detail", "children"),
    Output("feed-actions", "className"),
    Input("feed-selected", "data"),
    Input("feed-tick", "n_intervals"),
    State("feed-lang-store", "data"),
)
def refresh_detail(alert_id, _n, lang):
    lang = pick_language(lang)
    try:
        return detail(alert_id, lang)
    except Exception:
        log.warning("alert detail failed", exc_info=True)
        return [html.Div(t("db_unavailable", lang), className="banner banner-error")], no_update


# -- acting on the selected alert (needs the `act` permission) ---------------------------------------
@callback(
    Output("feed-act-result", "children"),
    Output("feed-table", "data", allow_duplicate=True),
    Output("feed-act-note", "value"),
    Output("feed-table", "active_cell", allow_duplicate=True),
    Output("feed-table", "selected_cells", allow_duplicate=True),
    Input("feed-act-ack", "n_clicks"),
    Input("feed-act-assign", "n_clicks"),
    Input("feed-act-resolve", "n_clicks"),
    Input("feed-act-false", "n_clicks"),
    State("feed-selected", "data"),
    State("feed-act-note", "value"),
    State("feed-act-assignee", "value"),
    State("feed-family", "value"),
    State("feed-unit", "value"),
    State("feed-severity", "value"),
    State("feed-status", "value"),
    State("feed-lang-store", "data"),
    State("feed-table", "sort_by"),
    prevent_initial_call=True,
)
def act_on_alert(
    _a, _b, _c, _d, alert_id, note, assignee, family, unit_id, severity, status, lang,
    sort_by=None,
):
    lang = pick_language(lang)
    result = alert_actions.act_from_button("feed", ctx.triggered_id, alert_id, note, lang,
                                           assignee)
    if result is None:
        raise PreventUpdate
    message = action_message(result.ok, result.reason, result.alert_id, lang)
    if not result.ok:
        return message, no_update, no_update, no_update, no_update
    rows, _count = _rows(family, unit_id, severity, status, lang,
                         valid_sort_by(sort_by, COLUMNS))
    cell = cell_of(rows, alert_id)
    return message, rows, "", cell, [cell] if cell else []


@callback(
    Output("feed-act-result", "children", allow_duplicate=True),
    Output("feed-table", "data", allow_duplicate=True),
    Input("feed-act-ack-device", "n_clicks"),
    Input("feed-act-ack-unit", "n_clicks"),
    State("feed-selected", "data"),
    State("feed-act-note", "value"),
    State("feed-family", "value"),
    State("feed-unit", "value"),
    State("feed-severity", "value"),
    State("feed-status", "value"),
    State("feed-lang-store", "data"),
    State("feed-table", "sort_by"),
    prevent_initial_call=True,
)
def acknowledge_all(_a, _b, alert_id, note, family, unit_id, severity, status, lang,
                    sort_by=None):
    """Acknowledge every unacknowledged alert of the selected alert's station or area."""
    lang = pick_language(lang)
    if ctx.triggered_id not in ("feed-act-ack-device", "feed-act-ack-unit") or not (_a or _b):
        raise PreventUpdate
    if alert_id is None:
        return action_message(False, "no_selection", None, lang), no_update
    with context().pool.connection() as conn:
        alert = alert_queries.get_alert(conn, alert_id)
    if alert is None:
        return action_message(False, "not_found", alert_id, lang), no_update
    by_device = ctx.triggered_id == "feed-act-ack-device"
    result = alert_actions.acknowledge_all(
        context().pool,
        actor=alert_actions.current_actor(),
        device_id=alert.device_id if by_device else None,
        unit=None if by_device else alert.unit_id,
        note=note,
    )
    if not result.ok:
        return action_message(False, result.reason, alert_id, lang), no_update
    rows, _count = _rows(family, unit_id, severity, status, lang,
                         valid_sort_by(sort_by, COLUMNS))
    return html.Div(t("act.bulk_done", lang, n=len(result.alert_ids)), className="act-ok"), rows
