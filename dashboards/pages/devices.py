"""Device health: silent devices and when they were last heard, counts by unit and family,
and how fresh each data feed is (Redis last_seen plus the devices table, never raw readings)."""

from __future__ import annotations

import logging
import time

import dash
from dash import ALL, Input, Output, State, callback, ctx, dcc, html, no_update
from dash.exceptions import PreventUpdate

from dashboards import health_queries as hq
from dashboards import ops_queries as q
from dashboards.alert_texts import dropdown_labels
from dashboards.context import context
from dashboards.i18n import pick_language, t
from dashboards.map_geometry import ui_label
from dashboards.page_parts import fmt_age, fmt_int, fmt_time, page_header
from dashboards.table_sort import SILENT_COLUMNS, SILENT_DEFAULT, sort_silent

log = logging.getLogger(__name__)

dash.register_page(
    __name__,
    path="/devices",
    name="Thiết bị",
    title="IOC Lào Cai – Tình trạng thiết bị",
    nav_order=30,
    nav_label_key="nav.devices",
)

SILENT_LIST_MAX = 300
def _sort_header(column: str, sort: dict | None, lang: str) -> html.Th:
    sort = sort if isinstance(sort, dict) and sort.get("column") in SILENT_COLUMNS \
        else SILENT_DEFAULT
    arrow = ("▼" if sort.get("direction") == "desc" else "▲") if sort["column"] == column else ""
    return html.Th(html.Button([t(f"devices.col.{column}", lang), " ",
                                html.Span(arrow, className="sort-arrow")],
                               id={"type": "devices-sort", "column": column},
                               className="th-sort", n_clicks=0,
                               title=t("table.sort_hint", lang)))


def _tile(label: str, value: str, tile_id: str, tone: str = "") -> html.Div:
    return html.Div(
        [
            html.Div(value, className="tile-value", id=tile_id),
            html.Div(label, className="tile-label"),
        ],
        className=f"tile {tone}".strip(),
    )


def render_report(
    report: hq.HealthReport,
    lang: str,
    tz: str,
    names: dict[str, str],
    family: list[str] | None = None,
    unit_id: list[str] | None = None,
    sort: dict | None = None,
) -> list:
    """The page body for one health report, filtered by family and unit_id (pure)."""
    devices = [
        d
        for d in report.devices
        if (not family or d.family in family) and (not unit_id or d.unit_id in unit_id)
    ]
    silent = sort_silent([d for d in devices if d.silent], sort, names,
                         lambda kind: ui_label("kind", kind, lang))
    never = [d for d in devices if d.never_seen]
    online = len(devices) - len(silent) - len(never)
    tiles = html.Div(
        [
            _tile(t("devices", lang), fmt_int(len(devices), lang), "devices-total"),
            _tile(t("devices.online", lang), fmt_int(online, lang), "devices-online", "tone-live"),
            _tile(
                t("devices.silent", lang),
                fmt_int(len(silent), lang),
                "devices-silent",
                "tone-alert" if silent else "",
            ),
            _tile(
                t("devices.never", lang),
                fmt_int(len(never), lang),
                "devices-never",
                "tone-warn" if never else "",
            ),
        ],
        className="tile-row",
    )

    feeds = html.Table(
        [
            html.Thead(
                html.Tr(
                    [
                        html.Th(t("devices.feed", lang)),
                        html.Th(t("devices.newest", lang)),
                        html.Th(t("devices.age", lang)),
                        html.Th(t("devices.state", lang)),
                    ]
                )
            ),
            html.Tbody(
                [
                    html.Tr(
                        [
                            html.Td(t(f"source.{f.feed}", lang)),
                            html.Td(fmt_time(f.newest, tz)),
                            html.Td(fmt_age(f.age_s(report.now), lang)),
                            html.Td(_feed_state(f, report.now, lang)),
                        ],
                        id=f"devices-feed-{f.feed}",
                    )
                    for f in report.feeds
                    if f.feed in ("cap", "rollups") or f.devices
                ]
            ),
        ],
        className="data-table",
    )

    families = [f for f in q.FAMILIES if any(d.family == f for d in devices)]
    groups = {(g.unit_id, g.family): g for g in hq.health_groups(devices)}
    units = hq.units_by_trouble(groups.values(), names)
    matrix = html.Table(
        [
            html.Thead(
                html.Tr(
                    [html.Th(t("devices.unit_id", lang))]
                    + [html.Th(t(f"family.{f}", lang)) for f in families]
                )
            ),
            html.Tbody(
                [
                    html.Tr(
                        [html.Td(names.get(d, d or "–"))]
                        + [_group_cell(groups.get((d, f)), lang) for f in families]
                    )
                    for d in units
                ]
            ),
        ],
        className="data-table matrix",
    )

    silent_rows = [
        html.Tr(
            [
                html.Td(d.name),
                html.Td(d.device_id, className="muted"),
                html.Td(ui_label("kind", d.kind, lang)),
                html.Td(names.get(d.unit_id or "", d.unit_id or "–")),
                html.Td(fmt_time(d.last_seen, tz)),
                html.Td(fmt_age(report.now - d.last_seen, lang), className="num state-bad-text"),
            ]
        )
        for d in silent[:SILENT_LIST_MAX]
    ]
    silent_table = (
        html.Table(
            [
                html.Thead(html.Tr([_sort_header(c, sort, lang) for c in SILENT_COLUMNS])),
                html.Tbody(silent_rows),
            ],
            className="data-table",
            id="devices-silent-table",
        )
        if silent_rows
        else html.Div(t("devices.none_silent", lang), className="muted big-ok")
    )
    return [
        tiles,
        html.Div(
            [
                html.Section(
                    [
                        html.H2(t("devices.silent_list", lang), className="section-title"),
                        silent_table,
                    ],
                    className="devices-silent",
                ),
                html.Div(
                    [
                        html.Section(
                            [
                                html.H2(t("devices.freshness", lang), className="section-title"),
                                feeds,
                            ]
                        ),
                        html.Section(
                            [
                                html.H2(t("devices.by_unit", lang), className="section-title"),
                                matrix,
                            ]
                        ),
                    ],
                    className="devices-side",
                ),
            ],
            className="devices-grid",
        ),
        html.Div(f"{t('updated', lang)}: {fmt_time(report.now, tz)}", className="updated"),
    ]


def _feed_state(feed: hq.FeedFreshness, now: float, lang: str):
    if feed.newest is None and not feed.late(now):
        return html.Span("–", className="muted")
    late = feed.late(now)
    return html.Span(
        t("devices.late" if late else "devices.fresh", lang),
        className="state " + ("state-bad" if late else "state-ok"),
    )


def _group_cell(group: hq.HealthGroup | None, lang: str) -> html.Td:
    if group is None:
        return html.Td("–", className="muted")
    parts = [html.Span(f"{group.online}/{group.total}", className="num")]
    if group.silent:
        parts.append(
            html.Span(
                f" ⚠ {group.silent}", className="state-bad-text", title=t("devices.silent", lang)
            )
        )
    return html.Td(parts, className="cell-bad" if group.silent else "")


def layout(lang: str | None = None, **_query) -> html.Div:
    c = context()
    lang = pick_language(lang, c.settings.web.language)
    dropdown = {"multi": True, "clearable": True, "className": "filter",
                "labels": dropdown_labels(lang)}
    return html.Div(
        [
            page_header("devices", "devices.title", lang, "/devices"),
            html.Div(
                [
                    dcc.Dropdown(
                        id="devices-family",
                        options=[{"label": t(f"family.{f}", lang), "value": f} for f in q.FAMILIES],
                        placeholder=t("feed.all_families", lang),
                        **dropdown,
                    ),
                    dcc.Dropdown(
                        id="devices-unit",
                        options=q.unit_options(q.geometry(c.pool), lang),
                        placeholder=t("feed.all_units", lang),
                        **dropdown,
                    ),
                ],
                className="feed-filters",
            ),
            html.Div(id="devices-body"),
            dcc.Store(id="devices-lang-store", data=lang),
            dcc.Store(id="devices-sort", storage_type="session"),
            dcc.Interval(id="devices-tick", interval=max(c.settings.web.refresh_ms, 2000)),
        ],
        className="page page-devices",
    )


@callback(
    Output("devices-body", "children"),
    Output("devices-clock", "children"),
    Input("devices-tick", "n_intervals"),
    Input("devices-family", "value"),
    Input("devices-unit", "value"),
    Input("devices-sort", "data"),
    State("devices-lang-store", "data"),
)
def refresh(_n, family, unit_id, sort, lang):
    lang = pick_language(lang)
    c = context()
    tz = c.settings.web.timezone
    try:
        report = hq.health_report(c.pool, c.live)
        names = q.unit_names(q.geometry(c.pool), lang)
    except Exception:
        log.warning("device health unavailable", exc_info=True)
        return [html.Div(t("db_unavailable", lang), className="banner banner-error")], no_update
    return (render_report(report, lang, tz, names, family, unit_id, sort),
            fmt_time(time.time(), tz))


@callback(
    Output("devices-sort", "data"),
    Input({"type": "devices-sort", "column": ALL}, "n_clicks"),
    State("devices-sort", "data"),
    prevent_initial_call=True,
)
def choose_sort(_clicks, current):
    """A click on a header sorts by it; a second click on the same header reverses."""
    clicked = ctx.triggered_id
    # headers are drawn again at every refresh (n_clicks 0): only a real click counts
    if not isinstance(clicked, dict) or not any(trig.get("value") for trig in ctx.triggered):
        raise PreventUpdate
    column = clicked["column"]
    if isinstance(current, dict) and current.get("column") == column:
        return {"column": column,
                "direction": "asc" if current.get("direction") == "desc" else "desc"}
    return {"column": column, "direction": "desc" if column == "silent_for" else "asc"}
