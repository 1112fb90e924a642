"""The database maintenance jobs table of the status page (what `ioc maintain` recorded)."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from dash import html

from dashboards.i18n import t


def render_jobs(states: list | None, lang: str, tz: str) -> list:
    """The maintenance jobs table (ioc.maintain.JobState rows; None: not readable)."""
    if states is None:
        return []
    zone = ZoneInfo(tz)

    def when(value):
        return value.astimezone(zone).strftime("%H:%M:%S %d/%m") if value else "–"

    title = html.H2(t("jobs.title", lang), className="section-title")
    if not states:
        return [title, html.Div(t("jobs.none", lang), className="updated", id="status-jobs")]
    head = html.Tr([html.Th(t(k, lang)) for k in
                    ("jobs.job", "jobs.last", "jobs.result", "jobs.next", "jobs.failures")])
    rows = []
    for s in states:
        result = "–" if s.last_ok is None else t("jobs.ok" if s.last_ok else "jobs.failed", lang)
        rows.append(html.Tr(
            [html.Td(s.job), html.Td(when(s.last_start)),
             html.Td(result, title=(s.last_error or "")[:300]), html.Td(when(s.next_run)),
             html.Td(str(s.consecutive_failures))],
            className="tone-alert" if s.last_ok is False else ""))
    return [title, html.Table([html.Thead(head), html.Tbody(rows)], className="data-table",
                              id="status-jobs")]
