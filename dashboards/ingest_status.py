"""The ingest sessions on the status page: a session that queues without consuming is named."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from dash import html

from dashboards.i18n import t
from ioc.ingest_sessions import SessionRow


def _tile(label: str, value: str, tile_id: str, tone: str = "") -> html.Div:
    return html.Div(
        [html.Div(value, className="tile-value", id=tile_id), html.Div(label, className="tile-label")],
        className=f"tile {tone}".strip(),
    )


def render_sessions(sessions: list[SessionRow], lang: str, tz: str) -> tuple[list, html.Div]:
    """(warning banners, the tile) for the ingest sessions: a session that queues without
    consuming is named, with what it holds and what to do."""
    banners = []
    for s in sessions:
        if not s.online and s.queued:
            since = (dt.datetime.fromtimestamp(s.last_seen, ZoneInfo(tz)).strftime("%H:%M %d/%m")
                     if s.last_seen else "?")
            n = f"≥{s.queued:,}" if s.at_least else f"{s.queued:,}"
            banners.append(html.Div(
                t("status.ingest_queueing", lang, name=s.name, n=n, since=since),
                className="banner banner-error", id=f"status-ingest-queueing-{s.name}"))
        elif s.online and not s.consuming:
            banners.append(html.Div(t("status.ingest_stalled", lang, name=s.name),
                                    className="banner banner-error",
                                    id=f"status-ingest-stalled-{s.name}"))
    online = sum(1 for s in sessions if s.online)
    tile = _tile(t("status.ingest", lang), f"{online}/{len(sessions)}", "status-ingest",
                 "tone-warn" if banners else "")
    return banners, tile
