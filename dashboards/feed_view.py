"""The alert feed page's components (dashboards/pages/feed.py): the filters, the table with
its rows and severity colours, the bulk-acknowledge buttons, the cell that follows the
selected alert, and the detail panel of one alert (facts, the alerts grouped under a storm
parent, its history).

Builders only: the page module keeps its layout and every callback (Dash loads a page module
for every app; a helper module's callbacks would reach only the first one).
"""

from __future__ import annotations

from dash import dash_table, dcc, html

from alerts import queries as alert_queries
from alerts.queries import Alert, title_in
from dashboards import alert_texts
from dashboards import assignees as who
from dashboards import ops_queries as q
from dashboards.classify import SEVERITIES, SEVERITY_COLOURS
from dashboards.context import context
from dashboards.i18n import t
from dashboards.page_parts import fmt_time, severity_pill

MAX_CHILDREN_SHOWN = 20  # of a storm parent's grouped alerts
PAGE_SIZE = 200  # rows in the table


def _options(prefix: str, values, lang: str) -> list[dict]:
    return [{"label": t(f"{prefix}.{v}", lang), "value": v} for v in values]


def filters(lang: str) -> html.Div:
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


def table(lang: str) -> dash_table.DataTable:
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


def bulk_bar(lang: str) -> html.Div:
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
