"""The plate watchlist on the police page: the panel to add and remove plates, the banner
of a wanted plate's sighting, and its optional sound. Changes go through
police.watchlist (audited). The callbacks are in pages/police.py (Dash loads a page
module for every app; a helper module's callbacks would reach only the first one); they need
the page's `act` permission (`-act-` ids).
"""

from __future__ import annotations

import datetime as dt
import logging

import dash
from dash import dcc, html

from dashboards import auth
from dashboards.alert_texts import dropdown_labels
from dashboards.context import context
from dashboards.i18n import t
from dashboards.page_parts import fmt_time
from police import watchlist
from police.rules import load_rules

log = logging.getLogger(__name__)

EXPIRY_DAYS = (1, 7, 30, 90, 365)


def panel(lang: str) -> html.Details:
    """Closed by default: the queue is the page's main work."""
    return html.Details(
        [
            html.Summary(t("police.watch.title", lang), id="police-watch-summary"),
            html.Div(
                [
                    dcc.Input(id="police-watch-plate", maxLength=32, className="filter",
                              placeholder=t("police.watch.plate", lang)),
                    dcc.Input(id="police-watch-reason", maxLength=500,
                              className="filter police-watch-reason",
                              placeholder=t("police.watch.reason", lang)),
                    dcc.Dropdown(id="police-watch-days", className="filter filter-period",
                                 placeholder=t("police.watch.days", lang),
                                 labels=dropdown_labels(lang),
                                 options=[{"label": str(d), "value": d} for d in EXPIRY_DAYS]),
                    html.Button(t("police.act.watch_add", lang), id="police-act-watch-add",
                                className="btn btn-ack", n_clicks=0),
                    dcc.Dropdown(id="police-watch-pick", className="filter",
                                 labels=dropdown_labels(lang),
                                 placeholder=t("police.watch.pick", lang)),
                    html.Button(t("police.act.watch_remove", lang),
                                id="police-act-watch-remove", className="btn btn-false",
                                n_clicks=0),
                ],
                className="feed-filters police-watch-form",
            ),
            html.Div(id="police-watch-result", role="status", className="act-result"),
            html.Ul(id="police-watch-list", className="event-list police-watch-list"),
        ],
        className="police-watch", id="police-watch",
    )


def sound_toggle(lang: str) -> dcc.Checklist:
    """Off by default: a control room may not want a page that beeps."""
    return dcc.Checklist(id="police-sound", className="police-sound",
                         options=[{"label": t("police.sound", lang), "value": "on"}], value=[])


def banner(hits, lang: str, tz: str) -> html.Div:
    """The newest undecided sighting of a wanted plate; clicking it opens the incident."""
    first = hits[0]
    inc = first.incident
    text = t("police.banner", lang, plate=inc.plate or "", camera=inc.camera_name or inc.device_id,
             time=fmt_time(inc.first_seen, tz), reason=first.reason)
    more = len(hits) - 1
    return html.Div(
        [html.Button(text, id="police-banner-open", title=inc.key, n_clicks=0,
                     className="police-banner-open"),
         html.Span(t("police.banner_more", lang, n=more), className="police-banner-more")
         if more else None],
        className="police-banner", id="police-banner-hit", role="alert",
    )


def sound() -> html.Audio:
    """Two short tones (880 Hz, then 1175 Hz; assets/police-beep.wav, 8 kHz mono, made once
    with Python's wave module): served by the app itself, as the page's CSP requires."""
    return html.Audio(src=dash.get_asset_url("police-beep.wav"), autoPlay=True,
                      id="police-sound-audio")


def entry_text(e: watchlist.WatchEntry, lang: str, tz: str) -> str:
    expiry = t("police.watch.expires", lang, time=fmt_time(e.expires_at, tz)) \
        if e.expires_at else ""
    return t("police.watch.entry", lang, plate=e.plate, reason=e.reason, actor=e.added_by,
             time=fmt_time(e.added_at, tz), expiry=expiry)


def change(action: str, plate, reason=None, days=None) -> tuple[bool, str]:
    c = context()
    rules = load_rules(c.settings.police.queue_rules_file)
    actor, ip = auth.current_actor(), auth.client_ip()
    try:
        with c.pool.connection() as conn, conn.transaction():
            if action == "add":
                expires = (dt.datetime.now(dt.UTC) + dt.timedelta(days=int(days))
                           if days in EXPIRY_DAYS else None)
                entry = watchlist.add(conn, plate or "", reason or "", actor=actor,
                                      rules=rules, expires_at=expires, ip=ip)
            else:
                entry = watchlist.remove(conn, plate or "", actor=actor, rules=rules, ip=ip)
    except watchlist.WatchlistError as err:
        return False, str(err)
    return True, entry.plate
