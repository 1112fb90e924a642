"""Alert feed: newest first, coloured by severity, filtered; acknowledge, assign, resolve or
dismiss the selected alert with a note, without leaving the page."""

from __future__ import annotations

import logging
import time

import dash
from dash import Input, Output, State, callback, ctx, dash_table, dcc, html, no_update
from dash.exceptions import PreventUpdate

from alerts import queries as alert_queries
from alerts.queries import Alert
from dashboards import alert_actions
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
    dropdown = {"multi": True, "clearable": True, "className": "filter"}
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


def table_rows(alerts: list[Alert], lang: str, tz: str, names: dict[str, str]) -> list[dict]:
    """DataTable rows (one per alert; `id` is the alert id)."""
    return [
        {
            "id": a.id,
            "severity": a.severity,
            "severity_text": t(f"severity.{a.severity}", lang),
            "opened": fmt_time(a.opened_at, tz, with_date=False),
            "title": a.title + (f" (+{a.children})" if a.children else ""),
            "unit_name": names.get(a.unit_id or "", a.unit_id or "–"),
            "family_text": t(f"family.{a.family}", lang) if a.family else "–",
            "status": a.status,
            "status_text": t(f"alert_status.{a.status}", lang),
            "assigned_to": a.assigned_to or "",
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
        sort_action="none",
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


def layout(lang: str | None = None, alert: str | None = None, **_query) -> html.Div:
    c = context()
    lang = pick_language(lang, c.settings.web.language)
    selected = int(alert) if alert and alert.isdigit() else None
    can_act = may_act(current_role(), "feed")
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
                                action_bar("feed", lang) if can_act else None,
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
            dcc.Interval(id="feed-tick", interval=c.settings.web.refresh_ms),
        ],
        className="page page-feed",
    )


def _rows(family, unit_id, severity, status, lang: str) -> tuple[list[dict], str]:
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
    names = q.unit_names(q.geometry(c.pool), lang)
    rows = table_rows(alerts, lang, c.settings.web.timezone, names)
    count = t("feed.count", lang, n=fmt_int(len(rows), lang))
    if len(rows) == PAGE_SIZE:
        count += " " + t("feed.newest_only", lang, n=PAGE_SIZE)
    return rows, count


@callback(
    Output("feed-table", "data"),
    Output("feed-count", "children"),
    Output("feed-clock", "children"),
    Input("feed-tick", "n_intervals"),
    Input("feed-family", "value"),
    Input("feed-unit", "value"),
    Input("feed-severity", "value"),
    Input("feed-status", "value"),
    State("feed-lang-store", "data"),
)
def refresh_feed(_n, family, unit_id, severity, status, lang):
    lang = pick_language(lang)
    clock = fmt_time(time.time(), context().settings.web.timezone)
    try:
        rows, count = _rows(family, unit_id, severity, status, lang)
    except Exception:
        log.warning("feed refresh failed", exc_info=True)
        return no_update, html.Span(t("db_unavailable", lang), className="act-refused"), clock
    return rows, count, clock


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
        (t("feed.col.assigned_to", lang), alert.assigned_to or "–"),
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
                [html.Li([severity_pill(c.severity, lang), " ", c.title,
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
        html.H2(alert.title, className="panel-title"),
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
    prevent_initial_call=True,
)
def act_on_alert(
    _a, _b, _c, _d, alert_id, note, assignee, family, unit_id, severity, status, lang
):
    lang = pick_language(lang)
    action = {
        "feed-act-ack": "acknowledge",
        "feed-act-assign": "assign",
        "feed-act-resolve": "resolve",
        "feed-act-false": "false_alarm",
    }.get(ctx.triggered_id)
    if action is None:
        raise PreventUpdate
    result = alert_actions.act(
        context().pool,
        alert_id,
        action,
        actor=alert_actions.current_actor(),
        note=note,
        assignee=assignee,
    )
    message = action_message(result.ok, result.reason, result.alert_id, lang)
    if not result.ok:
        return message, no_update, no_update
    rows, _count = _rows(family, unit_id, severity, status, lang)
    return message, rows, ""
