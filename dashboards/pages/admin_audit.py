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

TEXT = {
    "admin.audit.title": {"vi": "Nhật ký hoạt động", "en": "Audit log"},
    "admin.audit.actor": {"vi": "Người thực hiện", "en": "Actor"},
    "admin.audit.action": {"vi": "Hành động", "en": "Action"},
    "admin.audit.text": {"vi": "Tìm trong đối tượng, địa chỉ, chi tiết",
                         "en": "Search target, address, details"},
    "admin.audit.since": {"vi": "Từ ngày", "en": "From"},
    "admin.audit.until": {"vi": "Đến ngày", "en": "To"},
    "admin.audit.search": {"vi": "Tìm", "en": "Search"},
    "admin.audit.time": {"vi": "Thời gian", "en": "Time"},
    "admin.audit.target": {"vi": "Đối tượng", "en": "Target"},
    "admin.audit.ip": {"vi": "Địa chỉ", "en": "Address"},
    "admin.audit.details": {"vi": "Chi tiết", "en": "Details"},
    "admin.audit.count": {"vi": "{n} mục (mới nhất trước)", "en": "{n} entries (newest first)"},
    "admin.audit.bad_date": {"vi": "Ngày không hợp lệ: {value}", "en": "Not a date: {value}"},
    "admin.audit.empty": {"vi": "Không có mục nào khớp bộ lọc.",
                          "en": "No entry matches the filters."},
    # actions as people say them; the code stays beside it (it is what the filter matches)
    "audit.action.login.success": {"vi": "Đăng nhập", "en": "Logged in"},
    "audit.action.login.failure": {"vi": "Đăng nhập sai", "en": "Failed log-in"},
    "audit.action.login.limited": {"vi": "Bị chặn đăng nhập (quá nhiều lần sai)", "en": "Log-in blocked (too many failures)"},
    "audit.action.logout": {"vi": "Đăng xuất", "en": "Logged out"},
    "audit.action.access.denied": {"vi": "Bị từ chối truy cập", "en": "Access denied"},
    "audit.action.user.create": {"vi": "Tạo người dùng", "en": "User created"},
    "audit.action.user.role": {"vi": "Đổi vai trò", "en": "Role changed"},
    "audit.action.user.disable": {"vi": "Khoá người dùng", "en": "User disabled"},
    "audit.action.user.enable": {"vi": "Mở lại người dùng", "en": "User enabled"},
    "audit.action.user.unlock": {"vi": "Mở khoá đăng nhập", "en": "User unlocked"},
    "audit.action.user.password": {"vi": "Đổi mật khẩu", "en": "Password changed"},
    "audit.action.token.create": {"vi": "Tạo mã API", "en": "API token created"},
    "audit.action.token.revoke": {"vi": "Thu hồi mã API", "en": "API token revoked"},
    "audit.action.alert.acknowledged": {"vi": "Tiếp nhận cảnh báo", "en": "Alert acknowledged"},
    "audit.action.alert.assigned": {"vi": "Giao xử lý cảnh báo", "en": "Alert assigned"},
    "audit.action.alert.resolved": {"vi": "Kết thúc cảnh báo", "en": "Alert resolved"},
    "audit.action.alert.false_alarm": {"vi": "Báo động giả", "en": "False alarm"},
    "audit.action.alert.note": {"vi": "Ghi chú cảnh báo", "en": "Alert note"},
    "audit.action.alert_rule.save": {"vi": "Lưu quy tắc cảnh báo", "en": "Alert rule saved"},
    "audit.action.alert_rule.enable": {"vi": "Bật quy tắc cảnh báo", "en": "Alert rule enabled"},
    "audit.action.alert_rule.disable": {"vi": "Tắt quy tắc cảnh báo", "en": "Alert rule disabled"},
    "audit.action.alert_rule.delete": {"vi": "Xoá quy tắc cảnh báo", "en": "Alert rule deleted"},
    "audit.action.evidence.view": {"vi": "Xem bằng chứng", "en": "Evidence viewed"},
    "audit.action.evidence.export": {"vi": "Xuất bằng chứng", "en": "Evidence exported"},
    "audit.action.incident.verify": {"vi": "Xác nhận sự việc", "en": "Incident verified"},
    "audit.action.incident.dismiss": {"vi": "Bác bỏ sự việc", "en": "Incident dismissed"},
    "audit.action.incident.note": {"vi": "Ghi chú sự việc", "en": "Incident note"},
    "audit.action.incident.read": {"vi": "Xem sự việc", "en": "Incident read"},
    "audit.action.kpi.import": {"vi": "Nhập số liệu KPI", "en": "KPI figures imported"},
    "audit.action.layer.import": {"vi": "Nhập lớp bản đồ", "en": "Map layer imported"},
}
for _key, _value in TEXT.items():
    i18n.TEXT.setdefault(_key, _value)


def action_label(action: str, lang: str) -> str:
    """A human label for an audit action (the code itself when it has none)."""
    key = f"audit.action.{action}"
    return t(key, lang) if key in i18n.TEXT else action


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
