"""Live map: units by disaster level, stations and cameras by state, CAP warning areas;
a click on a device opens its latest values, 24-hour chart and open alerts."""

from __future__ import annotations

import logging
import time

import dash
from dash import (
    ClientsideFunction,
    Input,
    Output,
    Patch,
    State,
    callback,
    clientside_callback,
    ctx,
    dcc,
    html,
    no_update,
)
from dash.exceptions import PreventUpdate

from dashboards import alert_actions, live_push, map_live
from dashboards import map_view as mv
from dashboards import ops_queries as q
from dashboards.access import may_act
from dashboards.auth import current_role
from dashboards.charts import day_chart
from dashboards.context import context
from dashboards.i18n import pick_language, t
from dashboards.map_figure import (
    DEFAULT_LAYERS,
    TOGGLE_LAYERS,
    TRACE_INDEX,
)
from dashboards.map_search import DEVICE_ZOOM, device_names, search_map
from dashboards.map_style import fit_view
from dashboards.ops_view import default_view, device_parts, full_figure, layer_options, overview
from dashboards.page_parts import (
    action_bar,
    action_message,
    fmt_time,
    page_header,
    stale_badge,
)

log = logging.getLogger(__name__)

dash.register_page(
    __name__,
    path="/ops",
    name="Bản đồ",
    title="IOC Lào Cai – Bản đồ vận hành",
    nav_order=10,
    nav_label_key="nav.ops",
)

LIVE_TICK_MS = 500  # with ?push=0 (or a refused stream), the map asks "anything new?" this often
PUSHED_TICK_MS = 5000  # pushed (the default, server-sent events): a slow poll in case the stream breaks
CHART_TICK_MS = 30_000
MAP_CONFIG = {"displaylogo": False, "scrollZoom": True, "modeBarButtonsToRemove": ["toImage"]}


def _ctx_lang(lang: str | None) -> str:
    return pick_language(lang, context().settings.web.language)


def layout(
    lang: str | None = None, device: str | None = None, push: str | None = None, **_query
) -> html.Div:
    lang = _ctx_lang(lang)
    # Pushed by default (server-sent events, the next question only once the answer is drawn);
    # `?push=0` keeps the 500 ms poll (docs/dashboards.md has both measured).
    pushed = push not in ("0", "off", "no")
    settings = context().settings
    can_act = may_act(current_role(), "ops")
    try:
        figure, state = full_figure(lang, selected=device)
        error = None
    except Exception:  # the page still opens; the live tick retries
        log.warning("map unavailable", exc_info=True)
        figure, state, error = {}, None, t("db_unavailable", lang)
    return html.Div(
        [
            page_header("ops", "ops.title", lang, "/ops"),
            html.Div(
                [
                    html.Aside(
                        [
                            html.Div(
                                [
                                    dcc.Input(
                                        id="ops-search",
                                        type="search",
                                        debounce=True,
                                        placeholder=t("ops.search", lang),
                                        className="ops-search-input",
                                        autoComplete="off",
                                    ),
                                    html.Div(
                                        id="ops-search-result", className="ops-search-result"
                                    ),
                                ],
                                className="ops-search",
                            ),
                            html.H2(t("ops.layers", lang), className="panel-title"),
                            dcc.Checklist(
                                id="ops-layers",
                                options=layer_options(lang),
                                value=list(DEFAULT_LAYERS),
                                className="layer-list",
                                inputClassName="layer-check",
                            ),
                        ],
                        className="ops-layers-panel",
                    ),

                    html.Div(
                        [
                            dcc.Graph(
                                id="ops-map",
                                figure=figure,
                                config=MAP_CONFIG,
                                className="ops-map",
                                responsive=True,
                            ),
                            html.Div(
                                [
                                    stale_badge("ops-map-stale", error is not None, lang),
                                    html.Span(error or "", id="ops-map-error"),
                                ],
                                className="map-badges",
                            ),
                            html.Div(t("map.approximate_note", lang), className="map-note"),
                        ],
                        className="ops-map-wrap",
                    ),
                    html.Aside(
                        [
                            html.Div(
                                id="ops-overview",
                                className="ops-overview hidden" if device else "ops-overview",
                            ),
                            html.Div(
                                [
                                    html.Button(
                                        "×",
                                        id="ops-close",
                                        className="panel-close",
                                        title=t("ops.close", lang),
                                        n_clicks=0,
                                    ),
                                    html.Div(id="ops-device-head"),
                                    html.Div(id="ops-device-values"),
                                    html.H3(t("ops.chart_24h", lang), className="panel-sub"),
                                    dcc.Graph(
                                        id="ops-chart",
                                        config={"displayModeBar": False},
                                        className="ops-chart",
                                        style={"height": "220px"},
                                    ),
                                    html.H3(t("ops.device_alerts", lang), className="panel-sub"),
                                    dcc.RadioItems(
                                        id="ops-alert-pick", options=[], className="alert-pick"
                                    ),
                                    html.Div(
                                        t("ops.no_alerts", lang),
                                        id="ops-no-alerts",
                                        className="muted",
                                    ),
                                    html.Div(
                                        action_bar("ops", lang, assign=False) if can_act else None,
                                        id="ops-actions",
                                        className="hidden",
                                    ),
                                ],
                                id="ops-device",
                                className="ops-device" if device else "ops-device hidden",
                            ),
                        ],
                        className="ops-side-panel",
                    ),
                ],
                className="ops-body",
            ),
            dcc.Store(id="ops-lang-store", data=lang),
            dcc.Store(id="ops-map-state", data=state),
            dcc.Store(id="ops-selected", data=device),
            dcc.Interval(id="ops-live", interval=PUSHED_TICK_MS if pushed else LIVE_TICK_MS),
            dcc.Store(id="ops-push", data=0),
            dcc.Store(id="ops-push-url", data=live_push.PATH if pushed else None),
            dcc.Store(id="ops-push-status"),
            dcc.Store(id="ops-view"),
            dcc.Interval(id="ops-slow", interval=settings.web.refresh_ms),
            dcc.Interval(id="ops-chart-tick", interval=CHART_TICK_MS),
            dcc.Interval(id="ops-size-tick", interval=500),
            dcc.Store(id="ops-size"),
            dcc.Store(id="ops-graph-id", data="ops-map"),
        ],
        className="page page-ops",
    )


# -- the map ---------------------------------------------------------------------------------------
@callback(
    Output("ops-map", "figure"),
    Output("ops-map-state", "data"),
    Output("ops-map-stale", "className"),
    Output("ops-map-error", "children"),
    Input("ops-live", "n_intervals"),
    Input("ops-push", "data"),
    Input("ops-view", "data"),
    Input("ops-layers", "value"),
    State("ops-map-state", "data"),
    State("ops-lang-store", "data"),
    State("ops-selected", "data"),
    State("ops-size", "data"),
    prevent_initial_call=True,
)
def refresh_map(_n, pushed, view, visible, client, lang, selected, size):
    lang = pick_language(lang)
    c = context()
    visible = visible if visible is not None else list(DEFAULT_LAYERS)
    try:
        snap = map_live.read_snapshot(c.pool, c.live)
        renderer = map_live.renderer_for(c.live, lang, c.settings.web.timezone)
        renderer.advance(snap)
        if renderer.large:
            port = mv.Viewport.of(view) or default_view(size)
            update = renderer.view_update(client, port, visible)
        else:
            update = renderer.update_for(client)
    except Exception:
        log.warning("map refresh failed", exc_info=True)
        error = {**(client or {}), "stale": True, "error": True}
        return no_update, error, "stale-badge", t("db_unavailable", lang)
    stale = snap.mirror.is_stale(time.time())
    badge = "stale-badge" if stale else "stale-badge hidden"
    # The push counter goes back with every answer to a push: the page asks the next
    # question only when it has this one's answer (assets/ops_map.js, pushDone).
    # `drawn`: whether this answer changes the figure, so the page waits for the graph to
    # draw it before asking again (a push page that asked on the state alone piled answers up).
    state = {**update.state, "stale": stale, "error": False, "push": pushed,
             "drawn": update.kind in ("patch", "full")}
    recovered = bool((client or {}).get("error"))
    answered = (client or {}).get("push") == pushed  # else the page waits for this answer
    if update.kind == "none":
        if stale == bool((client or {}).get("stale")) and not recovered and answered:
            raise PreventUpdate
        return no_update, state, badge, ""
    if update.kind == "state":
        return no_update, state, badge, ""
    if update.kind == "patch":
        return update.patch, state, badge, ""
    figure, full_state = full_figure(lang, visible, selected, size, view)
    return figure, {**full_state, "stale": stale, "error": False, "push": pushed,
                    "drawn": True}, badge, ""


@callback(
    Output("ops-map", "figure", allow_duplicate=True),
    Input("ops-layers", "value"),
    prevent_initial_call=True,
)
def toggle_layers(visible):
    shown = set(visible or [])
    patch = Patch()
    for layer in TOGGLE_LAYERS:
        patch["data"][TRACE_INDEX[layer]]["visible"] = layer in shown
    return patch


@callback(
    Output("ops-selected", "data"),
    Input("ops-map", "clickData"),
    Input("ops-close", "n_clicks"),
    prevent_initial_call=True,
)
def select_device(click, _close):
    if ctx.triggered_id == "ops-close":
        return None
    for point in (click or {}).get("points", []):
        device_id = point.get("customdata")
        if isinstance(device_id, list):
            device_id = device_id[0] if device_id else None
        if isinstance(device_id, str) and not device_id.startswith("@"):  # "@": a cluster
            return device_id
    raise PreventUpdate


@callback(
    Output("ops-map", "figure", allow_duplicate=True),
    Input("ops-map", "clickData"),
    prevent_initial_call=True,
)
def zoom_to_cluster(click):
    """A click on a cluster ("@lon,lat,zoom") zooms in on it, two levels closer."""
    for point in (click or {}).get("points", []):
        data = point.get("customdata")
        if isinstance(data, str) and data.startswith("@"):
            try:
                lon, lat, zoom = (float(x) for x in data[1:].split(","))
            except ValueError:
                break
            patch = Patch()
            patch["layout"]["map"]["center"] = {"lon": lon, "lat": lat}
            patch["layout"]["map"]["zoom"] = zoom + 2
            return patch
    raise PreventUpdate


@callback(
    Output("ops-map", "figure", allow_duplicate=True),
    Output("ops-selected", "data", allow_duplicate=True),
    Output("ops-search-result", "children"),
    Input("ops-search", "value"),
    State("ops-size", "data"),
    State("ops-lang-store", "data"),
    prevent_initial_call=True,
)
def search(query, size, lang):
    """Fly to the first device or unit that matches (id, name; diacritics optional)."""
    lang = pick_language(lang)
    if not (query or "").strip():
        return no_update, no_update, ""
    c = context()
    registry = q.registry(c.pool)
    hits = search_map(query, device_names(registry.key, registry.devices), q.geometry(c.pool).units)
    if not hits:
        return no_update, no_update, t("ops.search_none", lang)
    hit = hits[0]
    patch = Patch()
    if hit.kind == "unit" and hit.bbox is not None:
        w, h = (size["w"], size["h"]) if size and size.get("w") else (1180, 900)
        centre, zoom = fit_view(hit.bbox, w, h)
        zoom = min(zoom, DEVICE_ZOOM)
    else:
        centre, zoom = {"lon": hit.lon, "lat": hit.lat}, DEVICE_ZOOM
    # A tiny change each time, so flying twice to the same place after a pan still moves
    # the map (plotly keeps the user's view while the figure's value stays the same).
    patch["layout"]["map"]["center"] = centre
    patch["layout"]["map"]["zoom"] = round(zoom, 2) + (time.time() % 1) * 1e-4
    selected = hit.key if hit.kind == "device" else no_update
    more = f" (+{len(hits) - 1})" if len(hits) > 1 else ""
    return patch, selected, f"→ {hit.label}{more}"


@callback(
    Output("ops-map", "figure", allow_duplicate=True),
    Output("ops-device", "className"),
    Output("ops-overview", "className"),
    Input("ops-selected", "data"),
    prevent_initial_call=True,
)
def show_selection(device_id):
    c = context()
    device = None
    if device_id:
        device = next((d for d in q.registry(c.pool).devices if d.device_id == device_id), None)
    patch = Patch()
    halo = patch["data"][TRACE_INDEX["selected"]]
    halo["lon"] = [device.lon] if device else []
    halo["lat"] = [device.lat] if device else []
    if device_id:
        return patch, "ops-device", "ops-overview hidden"
    return patch, "ops-device hidden", "ops-overview"


@callback(
    Output("ops-overview", "children"),
    Output("ops-device-head", "children"),
    Output("ops-device-values", "children"),
    Output("ops-alert-pick", "options"),
    Output("ops-clock", "children"),
    Input("ops-selected", "data"),
    Input("ops-slow", "n_intervals"),
    State("ops-lang-store", "data"),
)
def refresh_panel(device_id, _n, lang):
    lang = pick_language(lang)
    clock = fmt_time(time.time(), context().settings.web.timezone)
    try:
        if device_id:
            head, table, options = device_parts(device_id, lang)
            return no_update, head, table, options, clock
        return overview(lang), no_update, no_update, no_update, clock
    except Exception:
        log.warning("panel refresh failed", exc_info=True)
        banner = html.Div(t("db_unavailable", lang), className="banner banner-error")
        return banner, banner, no_update, no_update, clock


@callback(
    Output("ops-actions", "className"),
    Output("ops-no-alerts", "className"),
    Input("ops-alert-pick", "options"),
)
def show_actions(options):
    """The action bar only when the device has an open alert to act on."""
    if options:
        return "", "hidden"
    return "hidden", "muted"


@callback(
    Output("ops-chart", "figure"),
    Input("ops-selected", "data"),
    Input("ops-chart-tick", "n_intervals"),
    State("ops-lang-store", "data"),
)
def refresh_chart(device_id, _n, lang):
    if not device_id:
        raise PreventUpdate
    lang = pick_language(lang)
    c = context()
    with c.pool.connection() as conn:
        device = q.load_device(conn, device_id)
        if device is None:
            raise PreventUpdate
        metric = q.PRIMARY_METRIC.get(device.kind, "")
        points = q.hourly_series(conn, device_id, metric)
    latest = c.live.latest(device_id).get(metric)
    return day_chart(device, metric, points, latest, lang, c.settings.web.timezone)


# -- acting on the device's alerts (needs the `act` permission) --------------------------------------
@callback(
    Output("ops-act-result", "children"),
    Output("ops-alert-pick", "options", allow_duplicate=True),
    Input("ops-act-ack", "n_clicks"),
    Input("ops-act-resolve", "n_clicks"),
    Input("ops-act-false", "n_clicks"),
    State("ops-alert-pick", "value"),
    State("ops-act-note", "value"),
    State("ops-selected", "data"),
    State("ops-lang-store", "data"),
    prevent_initial_call=True,
)
def act_on_alert(_ack, _resolve, _false, alert_id, note, device_id, lang):
    lang = pick_language(lang)
    result = alert_actions.act_from_button("ops", ctx.triggered_id, alert_id, note, lang)
    if result is None:
        raise PreventUpdate
    options = no_update
    if result.ok and device_id:
        _head, _table, options = device_parts(device_id, lang)
    return action_message(result.ok, result.reason, result.alert_id, lang), options


# The map's size on screen (measured in the browser: assets/ops_map.js) ...
clientside_callback(
    ClientsideFunction(namespace="iocMap", function_name="size"),
    Output("ops-size", "data"),
    Input("ops-size-tick", "n_intervals"),
    State("ops-size", "data"),
    State("ops-graph-id", "data"),
)


# What the map shows (for the devices in view or clusters, on a large fleet) ...
clientside_callback(
    ClientsideFunction(namespace="iocMap", function_name="view"),
    Output("ops-view", "data"),
    Input("ops-map", "relayoutData"),
    Input("ops-size-tick", "n_intervals"),
    State("ops-view", "data"),
    State("ops-graph-id", "data"),
)
# ... the stream that says "something new" (server-sent events; assets/ops_map.js) ...
clientside_callback(
    ClientsideFunction(namespace="iocMap", function_name="push"),
    Output("ops-push-status", "data"),
    Input("ops-push-url", "data"),
)

clientside_callback(
    ClientsideFunction(namespace="iocMap", function_name="pushDone"),
    Output("ops-push-status", "data", allow_duplicate=True),
    Input("ops-map-state", "data"),
    prevent_initial_call=True,
)


# ... and the province fitted into it.
@callback(
    Output("ops-map", "figure", allow_duplicate=True),
    Input("ops-size", "data"),
    prevent_initial_call=True,
)
def fit_map(size):
    if not size or not size.get("w") or not size.get("h"):
        raise PreventUpdate
    centre, zoom = fit_view(q.geometry(context().pool).bbox(), size["w"], size["h"])
    patch = Patch()
    patch["layout"]["map"]["center"] = centre
    patch["layout"]["map"]["zoom"] = zoom
    return patch
