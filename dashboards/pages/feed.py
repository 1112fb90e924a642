"""Alert feed in the operators' order (most severe, unacknowledged, waiting longest first),
coloured by severity, filtered; acknowledge, assign, resolve or dismiss the selected alert with
a note, or acknowledge all of its station or area at once, without leaving the page. The
selection is the alert's id: the highlighted row follows it across refreshes.

This module owns the page's registration, its layout and every callback (Dash loads a page
module for every app; a helper module's callbacks would reach only the first one); the
components, the table's rows and the alert's detail panel are dashboards/feed_view.py's."""

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
    dcc,
    html,
    no_update,
)
from dash.exceptions import PreventUpdate

from alerts import queries as alert_queries
from dashboards import alert_actions, feed_view
from dashboards import assignees as who
from dashboards import ops_queries as q
from dashboards.access import may_act
from dashboards.auth import current_role
from dashboards.context import context
from dashboards.i18n import pick_language, t
from dashboards.page_parts import action_bar, action_message, fmt_int, fmt_time, page_header
from dashboards.table_sort import FEED_KEYS, sort_rows, valid_sort_by

log = logging.getLogger(__name__)

dash.register_page(
    __name__,
    path="/feed",
    name="Cảnh báo",
    title="IOC Lào Cai – Cảnh báo",
    nav_order=20,
    nav_label_key="nav.feed",
)


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
            feed_view.filters(lang),
            html.Div(
                [
                    html.Div(feed_view.table(lang), className="feed-table-wrap"),
                    html.Aside(
                        [
                            html.Div(id="feed-detail", className="feed-detail"),
                            html.Div(
                                [action_bar("feed", lang, assignees=picker),
                                 feed_view.bulk_bar(lang)]
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
            limit=feed_view.PAGE_SIZE,
        )
        people = who.assignees(conn, lang)
    names = q.unit_names(q.geometry(c.pool), lang)
    rows = feed_view.table_rows(alerts, lang, c.settings.web.timezone, names, people)
    if not rows:
        return rows, t("feed.empty", lang)
    hint = t("feed.order_hint", lang)
    if sort_by:
        rows = sort_rows(rows, sort_by, FEED_KEYS)
        hint = t("feed.sorted_hint", lang)
    count = t("feed.count", lang, n=fmt_int(len(rows), lang)) + " · " + hint
    if len(rows) == feed_view.PAGE_SIZE:
        count += " " + t("feed.first_only", lang, n=feed_view.PAGE_SIZE)
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
                            valid_sort_by(sort_by, feed_view.COLUMNS))
    except Exception:
        log.warning("feed refresh failed", exc_info=True)
        return (no_update, html.Span(t("db_unavailable", lang), className="act-refused"), clock,
                no_update, no_update)
    cell = feed_view.cell_of(rows, selected)
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
        return feed_view.detail(alert_id, lang)
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
                         valid_sort_by(sort_by, feed_view.COLUMNS))
    cell = feed_view.cell_of(rows, alert_id)
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
                         valid_sort_by(sort_by, feed_view.COLUMNS))
    return html.Div(t("act.bulk_done", lang, n=len(result.alert_ids)), className="act-ok"), rows
