"""Admin: search the audit log (who did what, when, from where). Read-only."""

from __future__ import annotations

import json
from zoneinfo import ZoneInfo

import dash
from dash import Input, Output, State, callback, dcc, html

from dashboards import i18n
from dashboards.alert_texts import dropdown_labels
from dashboards.context import context
from dashboards.i18n import pick_language, t
from ioc.security import audit
from ioc.security.audit import FilterError, SearchFilters, parse_filters

dash.register_page(
    __name__, path="/admin/audit", name="Audit log", title="IOC — audit log",
    nav_order=91, nav_label_key="nav.admin_audit",
)

PAGE_SIZE = 200


def action_label(action: str, lang: str) -> str:
    """A human label for an audit action (the code itself when it has none)."""
    key = f"audit.action.{action}"
    return t(key, lang) if i18n.has(key) else action


def entries_table(entries: list[audit.AuditEntry], lang: str, tz: str) -> html.Div:
    zone = ZoneInfo(tz)
    head = html.Tr([html.Th(t(k, lang)) for k in (
        "admin.audit.time", "admin.audit.actor", "admin.audit.action", "admin.audit.target",
        "admin.audit.ip", "admin.audit.details")])
    rows = [
        html.Tr([
            html.Td(e.at.astimezone(zone).strftime("%Y-%m-%d %H:%M:%S")),
            html.Td(e.actor),
            html.Td([action_label(e.action, lang), " ", html.Code(e.action, className="muted")]),
            html.Td(e.target or ""), html.Td(e.ip or ""),
            html.Td(json.dumps(e.details, ensure_ascii=False) if e.details else "",
                    className="details"),
        ])
        for e in entries
    ]
    if not entries:
        return html.Div(html.P(t("admin.audit.empty", lang), id="admin-audit-count",
                               className="empty-state"))
    return html.Div([
        html.P(t("admin.audit.count", lang, n=len(entries)), id="admin-audit-count"),
        html.Table([html.Thead(head), html.Tbody(rows)], className="admin-table"),
    ])


def run_search(filters: SearchFilters, lang: str):
    settings = context().settings
    with context().pool.connection() as conn:
        entries = audit.search(
            conn, actor=filters.actor, action=filters.action, text=filters.text,
            since=filters.since, until=filters.until, limit=PAGE_SIZE,
        )
    return entries_table(entries, lang, settings.web.timezone)


def layout(lang: str | None = None, **_query) -> html.Div:
    lang = pick_language(lang, context().settings.web.language)
    actions = [{"label": f"{action_label(a, lang)} ({a})", "value": a} for a in audit.ACTIONS]
    prefixes = sorted({a.split(".")[0] + "." for a in audit.ACTIONS if "." in a})
    actions = [{"label": p + "*", "value": p} for p in prefixes] + actions
    return html.Div(
        [
            html.H1(t("admin.audit.title", lang)),
            html.Div(
                [
                    dcc.Input(id="admin-audit-actor", placeholder=t("admin.audit.actor", lang),
                              className="admin-input"),
                    dcc.Dropdown(id="admin-audit-action", options=actions,
                                 placeholder=t("admin.audit.action", lang),
                                 labels=dropdown_labels(lang),
                                 className="admin-dropdown"),
                    dcc.Input(id="admin-audit-text", placeholder=t("admin.audit.text", lang),
                              className="admin-input", style={"minWidth": "280px"}),
                    html.Label([t("admin.audit.since", lang) + " ",
                                dcc.Input(id="admin-audit-since", type="date",
                                          className="admin-input")]),
                    html.Label([t("admin.audit.until", lang) + " ",
                                dcc.Input(id="admin-audit-until", type="date",
                                          className="admin-input")]),
                    html.Button(t("admin.audit.search", lang), id="admin-audit-search",
                                className="admin-button"),
                ],
                className="admin-row admin-section",
            ),
            html.Div(id="admin-audit-message", className="admin-message error"),
            html.Div(run_search(SearchFilters(), lang), id="admin-audit-table"),
            dcc.Store(id="admin-audit-lang", data=lang),
        ],
        className="page page-admin",
    )


@callback(
    Output("admin-audit-table", "children"),
    Output("admin-audit-message", "children"),
    Input("admin-audit-search", "n_clicks"),
    Input("admin-audit-action", "value"),
    State("admin-audit-actor", "value"),
    State("admin-audit-text", "value"),
    State("admin-audit-since", "value"),
    State("admin-audit-until", "value"),
    State("admin-audit-lang", "data"),
    prevent_initial_call=True,
)
def search(_n, action, actor, text, since, until, lang):
    lang = pick_language(lang)
    try:
        filters = parse_filters(actor, action, text, since, until, context().settings.web.timezone)
    except FilterError as err:
        return dash.no_update, t("admin.audit.bad_date", lang, value=str(err))
    return run_search(filters, lang), ""
