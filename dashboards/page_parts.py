"""Pieces shared by the operations pages: header, numbers and ages, severity pills, badges,
and the alert action bar. Every id is built from the caller's page prefix."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from dash import dcc, html

from dashboards.classify import SEVERITY_COLOURS
from dashboards.i18n import t


def other_language(lang: str) -> str:
    return "en" if lang == "vi" else "vi"


def page_header(prefix: str, title_key: str, lang: str, path: str, *extra) -> html.Header:
    """Title, province, a live clock slot and the language switch (keeps the page)."""
    return html.Header(
        [
            html.Div(
                [html.H1(t(title_key, lang)), html.Div(t("province", lang), className="subtitle")]
            ),
            html.Div(
                [
                    *extra,
                    html.Div(id=f"{prefix}-clock", className="ops-clock"),
                    dcc.Link(
                        t("lang.switch", lang),
                        href=f"{path}?lang={other_language(lang)}",
                        className="lang-switch",
                        id=f"{prefix}-lang",
                    ),
                ],
                className="ops-header-right",
            ),
        ],
        className="topbar ops-topbar",
    )


def fmt_int(n: float | None, lang: str) -> str:
    if n is None:
        return "–"
    return f"{round(n):,}".replace(",", "." if lang == "vi" else ",")


def fmt_age(seconds: float | None, lang: str) -> str:
    """'45 giây', '12 phút', '3 giờ', '2 ngày' (and English)."""
    if seconds is None:
        return t("none_yet", lang)
    s = max(0, int(seconds))
    if s < 90:
        return t("age.seconds", lang, n=s)
    if s < 90 * 60:
        return t("age.minutes", lang, n=round(s / 60))
    if s < 36 * 3600:
        return t("age.hours", lang, n=round(s / 3600))
    return t("age.days", lang, n=round(s / 86400))


def fmt_time(value: dt.datetime | float | None, tz: str, with_date: bool = True) -> str:
    if value is None:
        return "–"
    zone = ZoneInfo(tz)
    stamp = (
        dt.datetime.fromtimestamp(value, zone)
        if isinstance(value, int | float)
        else value.astimezone(zone)
    )
    return stamp.strftime("%H:%M:%S %d/%m" if with_date else "%H:%M:%S")


def severity_pill(severity: str, lang: str) -> html.Span:
    return html.Span(
        t(f"severity.{severity}", lang),
        className=f"pill sev-{severity}",
        style={"--sev": SEVERITY_COLOURS.get(severity, "#888")},
    )


def stale_badge(badge_id: str, stale: bool, lang: str) -> html.Span:
    return html.Span(
        t("stale", lang), id=badge_id, className="stale-badge" + ("" if stale else " hidden")
    )


def action_bar(prefix: str, lang: str, *, assign: bool = True,
               assignees: list[dict] | None = None) -> html.Div:
    """Note, assignee and the buttons that change an alert; ids carry `-act-` (needs `act`).
    With `assignees` (dropdown options), the assignee is picked from that list."""
    buttons = [
        html.Button(
            t("act.acknowledge", lang), id=f"{prefix}-act-ack", className="btn btn-ack", n_clicks=0
        ),
    ]
    if assign:
        buttons.append(
            html.Button(
                t("act.assign", lang),
                id=f"{prefix}-act-assign",
                className="btn btn-assign",
                n_clicks=0,
            )
        )
    buttons += [
        html.Button(
            t("act.resolve", lang),
            id=f"{prefix}-act-resolve",
            className="btn btn-resolve",
            n_clicks=0,
        ),
        html.Button(
            t("act.false_alarm", lang),
            id=f"{prefix}-act-false",
            className="btn btn-false",
            n_clicks=0,
        ),
    ]
    fields = [
        dcc.Textarea(
            id=f"{prefix}-act-note",
            placeholder=t("act.note", lang),
            className="act-note",
            maxLength=1000,
        )
    ]
    from dashboards.alert_texts import dropdown_labels

    if assign and assignees is not None:
        fields.append(
            dcc.Dropdown(
                id=f"{prefix}-act-assignee",
                options=assignees,
                placeholder=t("act.assignee", lang),
                className="act-assignee",
                searchable=True,
                clearable=True,
                labels=dropdown_labels(lang),
            )
        )
    elif assign:
        fields.append(
            dcc.Input(
                id=f"{prefix}-act-assignee",
                type="text",
                placeholder=t("act.assignee", lang),
                className="act-assignee",
                maxLength=100,
                debounce=False,
            )
        )
    return html.Div(
        [
            *fields,
            html.Div(buttons, className="act-buttons"),
            html.Div(id=f"{prefix}-act-result", className="act-result", role="status"),
        ],
        className="act-bar",
    )


def action_message(ok: bool, reason: str, alert_id: int | None, lang: str) -> html.Div:
    text = t(f"act.{reason}", lang, id=alert_id if alert_id is not None else "")
    return html.Div(text, className="act-ok" if ok else "act-refused")
