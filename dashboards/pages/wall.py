"""Wall display: no interaction, legible from across the room at 1920x1080 and 3840x2160.

Views rotate on a clock shared by every screen (`?view=` pins one, and nothing replaces it);
unacknowledged extreme alerts are named in a strip beside the views, never over them, with
whom they escalated to; every panel shows a stale badge when its data is late, and the whole wall
shows one when the server stops answering (checked in the browser).
"""

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
    dcc,
    html,
    no_update,
)
from dash.exceptions import PreventUpdate

from alerts import queries as alert_queries
from dashboards import health_queries as hq
from dashboards import map_live
from dashboards import map_view as mv
from dashboards import ops_queries as q
from dashboards import wall_state as w
from dashboards.base_map import map_base
from dashboards.context import context
from dashboards.i18n import pick_language, t
from dashboards.map_figure import build_map_figure
from dashboards.map_style import fit_view
from dashboards.page_parts import fmt_time
from dashboards.wall_panels import (
    air_panel,
    alerts_column,
    devices_panel,
    extreme_strip_panel,
    map_legend,
    stale_badge,
    tourism_panel,
    water_panel,
)

log = logging.getLogger(__name__)

dash.register_page(
    __name__,
    path="/wall",
    name="Màn hình tường",
    title="IOC Lào Cai – Màn hình tường",
    nav_order=90,
    nav_label_key="nav.wall",
    full_screen=True,
)

MAP_TICK_MS = 1000
WALL_LAYERS = ("units", "cap", "water", "rain", "landslide", "aqi", "cameras", "tourism")
# No interaction on the wall; not staticPlot, which the MapLibre map does not support.
WALL_MAP_CONFIG = {
    "displayModeBar": False,
    "scrollZoom": False,
    "doubleClick": False,
    "showTips": False,
    "responsive": True,
}
REFERENCE_WIDTH = 1920  # the wall is laid out for this many CSS pixels and scaled from it
VIEW_KINDS = {
    "water": ("water_level",),
    "air": ("air_quality",),
    "tourism": ("visitor_counter",),
    "map": None,
    "devices": None,
}


def layout(lang: str | None = None, view: str | None = None, **_query) -> html.Div:
    """`?view=map` (or water, air, tourism, devices) pins one view instead of rotating."""
    c = context()
    lang = pick_language(lang, c.settings.web.language)
    pinned = view if view in w.VIEWS else None
    views = [
        html.Section(
            [
                html.H2(t(f"wall.view.{v}", lang), className="wall-view-title"),
                stale_badge(f"wall-stale-{v}", lang),
                html.Div(id=f"wall-body-{v}", className=f"wall-body wall-body-{v}")
                if v != "map"
                else html.Div(
                    [
                        dcc.Graph(id="wall-map", config=WALL_MAP_CONFIG, className="wall-map"),
                        html.Div(map_legend(lang), className="wall-legend"),
                    ],
                    className="wall-body wall-body-map",
                ),
            ],
            id=f"wall-view-{v}",
            className="wall-view" + (" active" if v == (pinned or "map") else ""),
        )
        for v in w.VIEWS
    ]
    return html.Div(
        [
            html.Header(
                [
                    html.Div(
                        [
                            html.Div(t("app.title", lang), className="wall-title"),
                            html.Div(t("province", lang), className="wall-subtitle"),
                        ]
                    ),
                    html.Div(
                        [html.Span(className=f"dot dot-{v}", id=f"wall-dot-{v}") for v in w.VIEWS],
                        className="wall-dots",
                    ),
                    html.Div(
                        [
                            html.Div(id="wall-clock", className="wall-clock"),
                            html.Div(
                                t("wall.offline", lang),
                                id="wall-conn",
                                className="stale-badge wall-conn hidden",
                            ),
                        ],
                        className="wall-header-right",
                    ),
                ],
                className="wall-header",
            ),
            html.Div(
                [
                    html.Div(views, className="wall-stage"),
                    html.Aside(
                        [
                            html.Div(id="wall-extreme", className="wall-extreme"),
                            html.H2(t("alerts.open", lang), className="wall-view-title"),
                            stale_badge("wall-stale-alerts", lang),
                            html.Div(id="wall-alerts", className="wall-alerts-body"),
                        ],
                        className="wall-alerts",
                    ),
                ],
                className="wall-main",
            ),
            dcc.Store(id="wall-seen", data={}),
            dcc.Store(id="wall-new", data=[]),
            dcc.Store(id="wall-pin", data=pinned),
            dcc.Store(id="wall-lang-store", data=lang),
            dcc.Store(id="wall-map-state"),
            dcc.Store(id="wall-screen"),
            dcc.Store(id="wall-served"),
            dcc.Store(id="wall-graph-id", data="wall-map"),
            dcc.Interval(id="wall-tick", interval=max(2000, c.settings.web.refresh_ms)),
            dcc.Interval(id="wall-map-tick", interval=MAP_TICK_MS),
            dcc.Interval(id="wall-watchdog", interval=1000),
        ],
        className="page-wall",
        id="wall-root",
        **{"data-refresh-ms": str(max(2000, c.settings.web.refresh_ms))},
    )


_STALE = ["stale-badge hidden", "stale-badge"]


@callback(
    *[Output(f"wall-view-{v}", "className") for v in w.VIEWS],
    *[Output(f"wall-dot-{v}", "className") for v in w.VIEWS],
    *[Output(f"wall-stale-{v}", "className") for v in w.VIEWS],
    Output("wall-body-water", "children"),
    Output("wall-body-air", "children"),
    Output("wall-body-tourism", "children"),
    Output("wall-body-devices", "children"),
    Output("wall-alerts", "children"),
    Output("wall-stale-alerts", "className"),
    Output("wall-extreme", "children"),
    Output("wall-seen", "data"),
    Output("wall-new", "data"),
    Output("wall-clock", "children"),
    Output("wall-served", "data"),
    Input("wall-tick", "n_intervals"),
    State("wall-lang-store", "data"),
    State("wall-seen", "data"),
    State("wall-pin", "data"),
)
def refresh_wall(_n, lang, seen, pinned):
    lang = pick_language(lang)
    c = context()
    tz = c.settings.web.timezone
    now = time.time()
    current = pinned if pinned in w.VIEWS else w.view_at(now)
    view_classes = ["wall-view" + (" active" if v == current else "") for v in w.VIEWS]
    dots = [f"dot dot-{v}" + (" active" if v == current else "") for v in w.VIEWS]
    clock = fmt_time(now, tz, with_date=False)
    try:
        snap = map_live.read_snapshot(c.pool, c.live)
        devices, latest = snap.registry.devices, snap.live.latest
        names = q.unit_names(snap.geo, lang)
        report = hq.health_report(c.pool, c.live)
        stale = [
            _STALE[w.panel_data(devices, latest, VIEW_KINDS[v]).stale(now)]
            if VIEW_KINDS[v]
            else _STALE[snap.mirror.is_stale(now)]
            for v in w.VIEWS
        ]
        bodies = [
            water_panel(w.water_rows(devices, latest, q.water_earlier(c.pool)), lang),
            air_panel(w.air_rows(devices, latest, snap.live.aqi), lang),
            tourism_panel(w.site_rows(devices, latest), lang),
            devices_panel(report, lang, names),
        ]
    except Exception:
        log.warning("wall data unavailable", exc_info=True)
        stale = [_STALE[1]] * len(w.VIEWS)
        bodies = [no_update] * 4
        names = {}
    try:
        with c.pool.connection() as conn:
            alerts = q.feed_alerts(conn, limit=200)
            counts = alert_queries.count_active(conn)
            strip = w.extreme_strip(alerts, seen, now)
            escalated = alert_queries.escalated_to(conn, [a.id for a in strip.alerts])
        alert_parts = alerts_column(
            [a for a in alerts if a not in strip.alerts], counts, lang, tz, names
        )
        strip_parts = (
            extreme_strip_panel(strip, escalated, lang, tz, names, now),
            strip.seen,
            list(strip.new),
        )
        alerts_stale = _STALE[0]
    except Exception:
        log.warning("wall alerts unavailable", exc_info=True)
        alert_parts, alerts_stale = no_update, _STALE[1]
        strip_parts = (no_update,) * 3
    return (
        *view_classes,
        *dots,
        *stale,
        *bodies,
        alert_parts,
        alerts_stale,
        *strip_parts,
        clock,
        int(now * 1000),
    )


@callback(
    Output("wall-map", "figure"),
    Output("wall-map-state", "data"),
    Input("wall-map-tick", "n_intervals"),
    Input("wall-screen", "data"),
    State("wall-map-state", "data"),
    State("wall-lang-store", "data"),
)
def refresh_map(_n, screen, client, lang):
    lang = pick_language(lang)
    c = context()
    screen = screen or {}
    scale = max(1.0, float(screen.get("width", REFERENCE_WIDTH)) / REFERENCE_WIDTH)
    size = [screen.get("w") or 1400, screen.get("h") or 860]
    view = None
    try:
        snap = map_live.read_snapshot(c.pool, c.live)
        renderer = map_live.renderer_for(c.live, lang, c.settings.web.timezone)
        renderer.advance(snap)
        if renderer.large:  # the whole province, in clusters (a large fleet)
            centre, zoom = fit_view(snap.geo.bbox(), *size)
            view = mv.viewport_of(centre, zoom, *size)
            update = renderer.view_update(client, view, WALL_LAYERS)
        else:
            update = renderer.update_for(client)
    except Exception:
        log.warning("wall map refresh failed", exc_info=True)
        raise PreventUpdate from None
    if (client or {}).get("scale") != scale or (client or {}).get("size") != size:
        update.kind = "full"
    if update.kind == "none":
        raise PreventUpdate
    if update.kind == "state":
        return no_update, {**update.state, "scale": scale, "size": size}
    if update.kind == "patch":
        return update.patch, {**update.state, "scale": scale, "size": size}
    clusters = None
    if view is not None:
        state, devices, arrays, clusters, live, areas = renderer.view_parts(view, WALL_LAYERS)
        clusters["marker"]["size"] = [x * scale * 1.15 for x in clusters["marker"]["size"]]
    else:
        state, arrays, live, areas = renderer.full_parts()
        devices = snap.registry.devices
    figure = build_map_figure(
        devices,
        live,
        snap.geo,
        lang=lang,
        tz=c.settings.web.timezone,
        visible=WALL_LAYERS,
        warning_areas=areas,
        base=map_base(c.settings),
        arrays=arrays,
        size_px=tuple(size),
        marker_scale=scale * 1.15,
        revision="wall",
    )
    if clusters is not None:
        figure["data"].append(clusters)
    return figure, {**state, "scale": scale, "size": size}


# Screen size once (for the map zoom and marker size), and a watchdog that shows the
# offline badge when the server has not answered for three refresh intervals.
clientside_callback(
    ClientsideFunction(namespace="iocMap", function_name="size"),
    Output("wall-screen", "data"),
    Input("wall-watchdog", "n_intervals"),
    State("wall-screen", "data"),
    State("wall-graph-id", "data"),
)
clientside_callback(
    ClientsideFunction(namespace="iocWall", function_name="watchdog"),
    Output("wall-conn", "className"),
    Input("wall-watchdog", "n_intervals"),
    State("wall-served", "data"),
)
