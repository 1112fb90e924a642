"""What the operations page shows beside its callbacks: the whole map figure of a view, the
layer options, the province overview and the selected device's panel (components only; the
page module keeps its layout and callbacks, which Dash registers once per app).
"""

from __future__ import annotations

import time

from dash import (
    html,
)

from alerts import queries as alert_queries
from alerts.queries import title_in
from dashboards import map_live
from dashboards import map_view as mv
from dashboards import ops_queries as q
from dashboards.base_map import map_base
from dashboards.classify import is_silent
from dashboards.context import context
from dashboards.i18n import t
from dashboards.map_figure import (
    DEFAULT_LAYERS,
    LEGENDS,
    TOGGLE_LAYERS,
    build_map_figure,
)
from dashboards.map_geometry import ui_label
from dashboards.map_style import fit_view
from dashboards.page_parts import (
    fmt_age,
    fmt_int,
    fmt_time,
    severity_pill,
)


def default_view(size: dict | None) -> mv.Viewport:
    w, h = (size["w"], size["h"]) if size and size.get("w") and size.get("h") else (1180, 900)
    centre, zoom = fit_view(q.geometry(context().pool).bbox(), w, h)
    return mv.viewport_of(centre, zoom, w, h)


def full_figure(
    lang: str,
    visible=DEFAULT_LAYERS,
    selected: str | None = None,
    size: dict | None = None,
    view: dict | None = None,
):
    """(figure, client state) of the whole map from the process's renderer. A large fleet
    (more than map_view.DETAIL_MAX devices) gets the devices of `view`, or clusters."""
    c = context()
    snap = map_live.read_snapshot(c.pool, c.live)
    renderer = map_live.renderer_for(c.live, lang, c.settings.web.timezone)
    renderer.advance(snap)
    clusters = None
    if renderer.large:
        port = mv.Viewport.of(view) or default_view(size)
        state, devices, arrays, clusters, live, areas = renderer.view_parts(port, visible)
    else:
        state, arrays, live, areas = renderer.full_parts()
        devices = snap.registry.devices
    fig = build_map_figure(
        devices,
        live,
        snap.geo,
        lang=lang,
        tz=c.settings.web.timezone,
        visible=visible,
        warning_areas=areas,
        selected=selected,
        base=map_base(c.settings),
        arrays=arrays,
        revision="ops",
        size_px=(size["w"], size["h"]) if size and size.get("w") else (1180, 900),
    )
    if clusters is not None:
        assert len(fig["data"]) == map_live.CLUSTER_TRACE, "the cluster trace's index moved"
        fig["data"].append(clusters)
    return fig, state


def layer_options(lang: str) -> list[dict]:
    options = []
    for layer in TOGGLE_LAYERS:
        swatches = [
            html.Span(
                [
                    html.I(className="swatch", style={"background": colour}),
                    t(f"legend.{layer}.{key}", lang),
                ],
                className="legend-item",
            )
            for key, colour in LEGENDS[layer]
        ]
        options.append(
            {
                "label": html.Span(
                    [
                        html.Span(t(f"layer.{layer}", lang), className="layer-name"),
                        html.Span(swatches, className="legend"),
                    ],
                    className="layer-option",
                ),
                "value": layer,
            }
        )
    return options


# -- the side panel ------------------------------------------------------------------------------
OVERVIEW_ROWS = 8


OVERVIEW_MAX_EXTREME = 40


def overview(lang: str) -> list:
    c = context()
    tz = c.settings.web.timezone
    with c.pool.connection() as conn:
        counts = alert_queries.count_active(conn)
        alerts = q.feed_alerts(conn, limit=OVERVIEW_MAX_EXTREME)
    # every extreme alert named (not only counted), then the next ones up to eight rows
    extreme = sum(a.severity == "extreme" for a in alerts)
    alerts = alerts[: max(OVERVIEW_ROWS, extreme)]
    names = q.unit_names(q.geometry(c.pool), lang)
    tiles = [
        html.Div(
            [
                html.Div(fmt_int(counts.get(s, 0), lang), className="mini-value"),
                html.Div(t(f"severity.{s}", lang), className="mini-label"),
            ],
            className=f"mini-tile sev-{s}" + (" is-zero" if not counts.get(s) else ""),
        )
        for s in ("extreme", "severe", "moderate", "minor")
    ]
    items = [
        html.Li(
            [
                severity_pill(a.severity, lang),
                html.Div(
                    [
                        html.Div(title_in(a, lang), className="alert-title"),
                        html.Div(
                            " · ".join(
                                x
                                for x in (
                                    names.get(a.unit_id or "", a.unit_id or ""),
                                    fmt_time(a.opened_at, tz),
                                    t("alert_status." + a.status, lang),
                                )
                                if x
                            ),
                            className="alert-meta",
                        ),
                    ]
                ),
            ],
            className=f"alert-item sev-{a.severity}",
            **{"data-alert-id": str(a.id)},
        )
        for a in alerts
    ]
    return [
        html.H2(t("ops.overview", lang), className="panel-title"),
        html.Div(tiles, className="mini-tiles"),
        html.H3(t("alerts.open", lang), className="panel-sub"),
        html.Ul(items, className="alert-list")
        if items
        else html.Div(t("ops.no_alerts", lang), className="muted"),
        html.Div(t("ops.pick_hint", lang), className="hint"),
    ]


def device_parts(device_id: str, lang: str):
    c = context()
    tz = c.settings.web.timezone
    with c.pool.connection() as conn:
        device = q.load_device(conn, device_id)
        alerts = q.device_alerts(conn, device_id)
    if device is None:
        return html.Div(t("ops.unknown_device", lang), className="muted"), [], []
    values = c.live.latest(device_id)
    names = q.unit_names(q.geometry(c.pool), lang)
    seen = max((v.time for v in values.values()), default=None)
    silent = is_silent(seen, device.expected_interval_s, time.time())
    state = (
        t("devices.silent", lang)
        if silent
        else t("devices.never", lang)
        if seen is None
        else t("devices.online", lang)
    )
    head = html.Div(
        [
            html.H2(device.name, className="panel-title"),
            html.Div(
                f"{ui_label('kind', device.kind, lang)} · "
                f"{names.get(device.unit_id or '', device.unit_id or '–')} · {device.device_id}",
                className="muted",
            ),
            html.Div(
                [
                    html.Span(state, className="state " + ("state-bad" if silent else "state-ok")),
                    html.Span(
                        f" {t('devices.last_seen', lang)}: {fmt_time(seen, tz)} "
                        f"({fmt_age(time.time() - seen if seen else None, lang)})"
                    ),
                ],
                className="device-state",
            ),
        ]
    )
    rows = [
        html.Tr(
            [
                html.Td(ui_label("metric", metric, lang)),
                html.Td(value_text(v.value, lang), className="num"),
                html.Td(fmt_time(v.time, tz, with_date=False), className="muted"),
            ]
        )
        for metric, v in sorted(values.items())
    ]
    table = (
        html.Table(html.Tbody(rows), className="values-table")
        if rows
        else html.Div(t("map.no_data", lang), className="muted")
    )
    options = [
        {
            "label": html.Span(
                [
                    severity_pill(a.severity, lang),
                    f" {title_in(a, lang)} · {t('alert_status.' + a.status, lang)}",
                ]
            ),
            "value": a.id,
        }
        for a in alerts
    ]
    return head, table, options


def value_text(value, lang: str) -> str:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return str(value)
    digits = 0 if float(value).is_integer() else 2
    text = f"{value:,.{digits}f}"
    return (
        text.replace(",", "\x00").replace(".", ",").replace("\x00", ".") if lang == "vi" else text
    )
