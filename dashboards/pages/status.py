"""Status page: live counts of devices, readings, rejected messages and open alerts."""

from __future__ import annotations

import datetime as dt
import logging
from zoneinfo import ZoneInfo

import dash
from dash import Input, Output, State, callback, dcc, html

from dashboards.context import context
from dashboards.data_quality import latest_quality, render_quality
from dashboards.i18n import pick_language, t
from dashboards.ingest_status import render_sessions
from dashboards.queries import LiveCounts, ingest_sessions, live_counts
from ioc.ingest_sessions import SessionRow

log = logging.getLogger(__name__)

dash.register_page(__name__, path="/", name="Status", title="IOC Lào Cai")

FAMILIES = ("environment", "disaster", "camera", "tourism")



def _tile(label: str, value: str, tile_id: str, tone: str = "") -> html.Div:
    return html.Div(
        [html.Div(value, className="tile-value", id=tile_id), html.Div(label, className="tile-label")],
        className=f"tile {tone}".strip(),
    )


def render_counts(counts: LiveCounts | None, lang: str, tz: str,
                  sessions: list[SessionRow] | None = None) -> list:
    """The tiles for `counts` (None: the database is unreachable)."""
    if counts is None:
        return [html.Div(t("db_unavailable", lang), className="banner banner-error")]
    banners, ingest_tile = render_sessions(sessions, lang, tz) if sessions else ([], None)
    age = (
        t("seconds_ago", lang, n=int(counts.newest_reading_age_s))
        if counts.newest_reading_age_s is not None
        else t("none_yet", lang)
    )
    fmt = lambda n: f"{n:,}".replace(",", "." if lang == "vi" else ",")  # noqa: E731
    tiles = [
        _tile(t("devices", lang), fmt(counts.devices), "status-devices"),
        _tile(t("devices.online", lang), fmt(counts.devices_online), "status-online"),
        _tile(t("readings.minute", lang), fmt(counts.readings_last_minute), "status-rpm", "tone-live"),
        _tile(t("readings.hour", lang), fmt(counts.readings_last_hour), "status-rph"),
        _tile(
            t("dead_letters.hour", lang), fmt(counts.dead_letters_last_hour), "status-dead",
            "tone-warn" if counts.dead_letters_last_hour else "",
        ),
        _tile(
            t("alerts.open", lang), fmt(counts.open_alerts), "status-alerts",
            "tone-alert" if counts.open_alerts else "",
        ),
        _tile(t("newest", lang), age, "status-newest"),
    ]
    if ingest_tile is not None:
        tiles.append(ingest_tile)
    families = [
        _tile(t(f"family.{f}", lang), fmt(counts.devices_by_family.get(f, 0)), f"status-family-{f}")
        for f in FAMILIES
    ]
    now = dt.datetime.now(ZoneInfo(tz)).strftime("%H:%M:%S %d/%m/%Y")
    return [
        *banners,
        html.Div(tiles, className="tile-row"),
        html.H2(t("devices", lang), className="section-title"),
        html.Div(families, className="tile-row"),
        html.Div(f"{t('updated', lang)}: {now}", className="updated", id="status-updated"),
    ]


def layout(lang: str | None = None, **_query) -> html.Div:
    ctx = context()
    lang = pick_language(lang, ctx.settings.web.language)
    other = "en" if lang == "vi" else "vi"
    return html.Div(
        [
            html.Header(
                [
                    html.Div(
                        [html.H1(t("app.title", lang)), html.Div(t("province", lang), className="subtitle")]
                    ),
                    dcc.Link(t("lang.switch", lang), href=f"/?lang={other}", className="lang-switch",
                             id="status-lang"),
                ],
                className="topbar",
            ),
            html.H2(t("status.title", lang), className="section-title"),
            html.Div(id="status-body", children=_safe_render(lang)),
            dcc.Store(id="status-lang-store", data=lang),
            dcc.Interval(id="status-tick", interval=ctx.settings.web.refresh_ms),
        ],
        className="page page-status",
    )


def _safe_render(lang: str) -> list:
    ctx = context()
    try:
        counts = live_counts(ctx.pool, ctx.live)
    except Exception:
        log.warning("status counts unavailable", exc_info=True)
        counts = None
    try:
        sessions = ingest_sessions(ctx.pool, ctx.live)
    except Exception:  # the counts matter more; the tile is simply left out
        log.warning("ingest sessions unavailable", exc_info=True)
        sessions = None
    return render_counts(counts, lang, ctx.settings.web.timezone, sessions) + render_quality(
        _quality(ctx) if counts is not None else None, lang)


def _quality(ctx):
    try:
        with ctx.pool.connection() as conn:
            return latest_quality(conn)
    except Exception:
        log.warning("data quality figures unavailable", exc_info=True)
        return None


@callback(
    Output("status-body", "children"),
    Input("status-tick", "n_intervals"),
    State("status-lang-store", "data"),
)
def refresh(_n, lang):
    return _safe_render(pick_language(lang))
