"""Leadership KPIs: tiles against targets, a unit table and map, trends, CSV and a report.

`/kpi` is the page for the screen; `/kpi/report` the same figures as a print-ready page (A4,
light, tables only). Both read kpi_values through dashboards/kpi_queries.py; the telemetry
KPIs in it are computed from hourly rollups by `ioc kpi refresh` (and by `ioc maintain`
every minute), the reported figures come from `ioc kpi import` or the HTTP API.
"""

from __future__ import annotations

import datetime as dt
import logging
from zoneinfo import ZoneInfo

import dash
from dash import Input, Output, State, callback, clientside_callback, dcc, html

from dashboards.base_map import map_base
from dashboards.context import context
from dashboards.i18n import pick_language, t
from dashboards.kpi_queries import (
    DEFAULT_TRENDS,
    RANGES,
    PageData,
    Tile,
    UnitTable,
    export_csv,
    fmt_date,
    fmt_number,
    load_page,
    load_trends,
    load_units,
    local_today,
    map_figure,
    tiles,
    trend_figure,
    unit_kpis,
    unit_table,
    with_unit,
)
from ioc.kpi.catalogue import Catalogue, load_catalogue
from ioc.kpi.periods import period_label
from ioc.kpi.targets import effective_catalogue

log = logging.getLogger(__name__)

dash.register_page(
    __name__, path="/kpi", name="Chỉ số điều hành", title="IOC Lào Cai – Chỉ số điều hành",
    nav_order=40, nav_label_key="nav.kpi",
)

TICK_MS = 60_000  # leadership figures change by the minute at most
DEFAULT_MAP_KPI = "aqi_today"


def _lang(requested: str | None) -> str:
    return pick_language(requested, context().settings.web.language)


def _today() -> dt.date:
    return local_today(context().settings.web.timezone)


def _time(value: dt.datetime | None) -> str:
    if value is None:
        return "–"
    zone = ZoneInfo(context().settings.web.timezone)
    return value.astimezone(zone).strftime("%H:%M %d/%m/%Y")


def _catalogue() -> Catalogue:
    """The catalogue with the targets leadership stored per period (`ioc kpi targets`)."""
    catalogue = load_catalogue()
    try:
        with context().pool.connection() as conn:
            return effective_catalogue(conn, catalogue)
    except Exception:
        log.warning("stored KPI targets unavailable; the catalogue's apply", exc_info=True)
        return catalogue


def _load(catalogue: Catalogue) -> PageData | None:
    try:
        with context().pool.connection() as conn:
            return load_page(conn, catalogue)
    except Exception:
        log.warning("KPI figures unavailable", exc_info=True)
        return None


# -- pieces ---------------------------------------------------------------------------------------
def render_tile(tile: Tile) -> html.Div:
    return html.Div(
        [
            html.Div(tile.name, className="kpi-tile-name"),
            html.Div(
                [html.Span(tile.value, className="kpi-tile-number"),
                 html.Span(tile.unit, className="kpi-tile-unit")],
                className="kpi-tile-value", id=f"kpi-value-{tile.kpi_id}",
            ),
            html.Div(
                [html.Span(tile.status_text, className="kpi-chip"),
                 html.Span(tile.period, className="kpi-tile-period"),
                 html.Span(tile.stale, className="kpi-stale-badge") if tile.stale else None],
                className="kpi-tile-status",
            ),
            html.Div(tile.target, className="kpi-tile-target"),
            html.Div(tile.trend, className=f"kpi-tile-trend kpi-trend-{tile.trend_tone}")
            if tile.trend else None,
            html.Div(tile.detail, className="kpi-tile-detail") if tile.detail else None,
        ],
        className=f"kpi-tile kpi-status-{tile.status}",
        id=f"kpi-tile-{tile.kpi_id}",
        title=tile.definition,
    )


def render_tiles(catalogue: Catalogue, data: PageData | None, lang: str) -> list:
    if data is None:
        return [html.Div(t("kpi.db_unavailable", lang), className="banner banner-error")]
    by_group = tiles(catalogue, data, _today(), lang)
    out = []
    for group in catalogue.groups:
        group_tiles = by_group.get(group.id) or []
        if not group_tiles:
            continue
        out.append(html.Section(
            [html.H2(group.name.get(lang), className="section-title"),
             html.Div([render_tile(x) for x in group_tiles], className="kpi-tile-row")],
            className=f"kpi-group kpi-group-{group.id}",
        ))
    out.append(html.Div(t("kpi.demo_note", lang), className="kpi-note"))
    return out


def render_table(table: UnitTable, lang: str,
                 table_id: str = "kpi-unit-table") -> html.Table:
    head = html.Tr([html.Th(t("kpi.unit_id", lang))] + [html.Th(h) for _, h in table.columns])
    body = [
        html.Tr(
            [html.Th(name, scope="row")]
            + [html.Td(c.text, className=f"kpi-cell kpi-status-{c.status}") for c in cells],
            className="kpi-total-row" if not unit_id else None,
        )
        for unit_id, name, cells in table.rows
    ]
    if not body:
        body = [html.Tr(html.Td(t("kpi.no_data", lang), colSpan=len(table.columns) + 1))]
    return html.Table([html.Thead(head), html.Tbody(body)], className="kpi-table", id=table_id)


def render_freshness(data: PageData | None, lang: str) -> list:
    if data is None:
        return []
    fresh = data.fresh
    parts = [t("kpi.updated", lang, time=_time(fresh.telemetry_at)) if fresh.telemetry_at
             else t("kpi.not_refreshed", lang)]
    if fresh.import_at:
        parts.append(t("kpi.imported", lang, time=_time(fresh.import_at),
                       source=fresh.import_source or "–"))
    return [html.Span(p) for p in parts]


def _map(catalogue: Catalogue, data: PageData | None, kpi_id: str, lang: str):
    kpi = catalogue.get(kpi_id) or catalogue.get(DEFAULT_MAP_KPI)
    units = (data.units if data and data.units else None) or {"features": []}
    values = data.by_unit.get(kpi.id, {}) if data else {}
    return map_figure(kpi, values, units, lang, base=map_base())


def _trend_graphs(catalogue: Catalogue, kpi_ids: list[str], days: int, lang: str) -> list:
    kpis = [k for k in (catalogue.get(i) for i in kpi_ids or []) if k is not None]
    today = _today()
    try:
        with context().pool.connection() as conn:
            points = load_trends(conn, kpis, days, today)
    except Exception:
        log.warning("KPI trends unavailable", exc_info=True)
        return [html.Div(t("kpi.db_unavailable", lang), className="banner banner-error")]
    out = []
    for kpi in kpis:
        title = kpi.name.get(lang)
        if kpi.periods != ("day",):
            title += f" ({t('kpi.reported_all', lang)})"
        out.append(html.Div(
            [html.Div(title, className="kpi-chart-title"),
             dcc.Graph(figure=trend_figure(kpi, points[kpi.id], lang, days, today),
                       config={"displayModeBar": False}, style={"height": "280px"},
                       id=f"kpi-trend-{kpi.id}")],
            className="kpi-chart",
        ))
    return out


def _options(kpis, lang: str) -> list[dict]:
    return [{"label": k.name.get(lang), "value": k.id} for k in kpis]


# -- the page -------------------------------------------------------------------------------------
def layout(lang: str | None = None, **_query) -> html.Div:
    lang = _lang(lang)
    other = "en" if lang == "vi" else "vi"
    catalogue = _catalogue()
    data = _load(catalogue)
    table = unit_table(catalogue, data, lang) if data else UnitTable([], [])
    return html.Div(
        [
            html.Header(
                [
                    html.Div([html.H1(t("kpi.title", lang)),
                              html.Div(t("kpi.subtitle", lang), className="subtitle")]),
                    html.Div(
                        [
                            html.Button(t("kpi.export", lang), id="kpi-export-button",
                                        className="kpi-button", n_clicks=0),
                            html.A(t("kpi.report", lang), href=f"/kpi/report?lang={lang}",
                                   className="kpi-button", id="kpi-report-link"),
                            html.A(t("kpi.pdf", lang), href=f"/kpi/report.pdf?lang={lang}",
                                   className="kpi-button", id="kpi-pdf-link", target="_blank"),
                            dcc.Link(t("lang.switch", lang), href=f"/kpi?lang={other}",
                                     className="lang-switch", id="kpi-lang"),
                        ],
                        className="kpi-actions",
                    ),
                ],
                className="topbar",
            ),
            html.Div(render_freshness(data, lang), id="kpi-updated", className="kpi-updated"),
            html.Div(render_tiles(catalogue, data, lang), id="kpi-tiles",
                     className="kpi-tiles-flow"),
            html.H2(t("kpi.units", lang), className="section-title"),
            html.Div(
                [
                    html.Div(
                        [
                            dcc.Dropdown(
                                id="kpi-map-kpi", options=_options(unit_kpis(catalogue), lang),
                                value=DEFAULT_MAP_KPI, clearable=False, searchable=False,
                                className="kpi-select",
                            ),
                            dcc.Graph(id="kpi-map", figure=_map(catalogue, data, DEFAULT_MAP_KPI,
                                                                lang),
                                      config={"displayModeBar": False, "scrollZoom": False},
                                      style={"height": "460px"}),
                        ],
                        className="kpi-map-box",
                    ),
                    html.Div(render_table(table, lang), id="kpi-units",
                             className="kpi-table-box"),
                ],
                className="kpi-unit-grid",
            ),
            html.H2(t("kpi.trends", lang), className="section-title"),
            html.Div(
                [
                    dcc.RadioItems(
                        id="kpi-range", value=30, inline=True, className="kpi-range",
                        options=[{"label": t("kpi.days", lang, n=n), "value": n} for n in RANGES],
                    ),
                    dcc.Dropdown(
                        id="kpi-trend-kpis", options=_options(catalogue.kpis, lang),
                        value=list(DEFAULT_TRENDS), multi=True, className="kpi-select kpi-multi",
                    ),
                ],
                className="kpi-trend-controls",
            ),
            html.Div(_trend_graphs(catalogue, list(DEFAULT_TRENDS), 30, lang), id="kpi-trends",
                     className="kpi-charts"),
            dcc.Store(id="kpi-lang-store", data=lang),
            dcc.Download(id="kpi-download"),
            dcc.Interval(id="kpi-tick", interval=TICK_MS),
        ],
        className="page page-kpi",
    )


@callback(
    Output("kpi-tiles", "children"),
    Output("kpi-units", "children"),
    Output("kpi-updated", "children"),
    Output("kpi-map", "figure"),
    Input("kpi-tick", "n_intervals"),
    Input("kpi-map-kpi", "value"),
    State("kpi-lang-store", "data"),
    prevent_initial_call=True,
)
def refresh(_n, map_kpi, lang):
    lang = pick_language(lang)
    catalogue = _catalogue()
    data = _load(catalogue)
    table = unit_table(catalogue, data, lang) if data else UnitTable([], [])
    return (render_tiles(catalogue, data, lang), render_table(table, lang),
            render_freshness(data, lang), _map(catalogue, data, map_kpi or DEFAULT_MAP_KPI, lang))


@callback(
    Output("kpi-trends", "children"),
    Input("kpi-range", "value"),
    Input("kpi-trend-kpis", "value"),
    State("kpi-lang-store", "data"),
    prevent_initial_call=True,
)
def trends(days, kpi_ids, lang):
    days = days if days in RANGES else RANGES[0]
    return _trend_graphs(_catalogue(), list(kpi_ids or []), days, pick_language(lang))


@callback(
    Output("kpi-download", "data"),
    Input("kpi-export-button", "n_clicks"),
    State("kpi-range", "value"),
    State("kpi-lang-store", "data"),
    prevent_initial_call=True,
)
def export(_clicks, days, lang):
    days = days if days in RANGES else RANGES[0]
    lang = pick_language(lang)
    today = _today()
    with context().pool.connection() as conn:
        catalogue = effective_catalogue(conn, load_catalogue())
        text = export_csv(conn, catalogue, days, today, lang, load_units(conn))
    return dcc.send_string(text, filename=f"chi-so-dieu-hanh-{today.isoformat()}-{days}d.csv",
                           type="text/csv")


# -- the printable report -------------------------------------------------------------------------
def report_layout(lang: str | None = None, **_query) -> html.Div:
    """The figures of the page as tables on a light, A4-ready page (print it or save as PDF)."""
    lang = _lang(lang)
    catalogue = _catalogue()
    data = _load(catalogue)
    now = dt.datetime.now(dt.UTC)
    header = html.Header(
        [
            html.Div([html.H1(t("kpi.report_title", lang)),
                      html.Div(f"{t('province', lang)} · "
                               f"{t('kpi.generated', lang, time=_time(now))}",
                               className="kpi-report-meta")]),
            html.Div(
                [html.Button(t("kpi.print", lang), id="kpi-print-button", className="kpi-button",
                             n_clicks=0),
                 html.A(t("kpi.pdf", lang), href=f"/kpi/report.pdf?lang={lang}",
                        className="kpi-button", id="kpi-report-pdf"),
                 dcc.Link(t("kpi.back", lang), href=f"/kpi?lang={lang}", className="kpi-button",
                          id="kpi-report-back")],
                className="kpi-actions kpi-no-print",
            ),
        ],
        className="kpi-report-header",
    )
    if data is None:
        return html.Div([header, html.Div(t("kpi.db_unavailable", lang))],
                        className="page kpi-report")
    by_group = tiles(catalogue, data, _today(), lang)
    columns = ("kpi", "value", "period", "target", "status", "trend")
    rows = []
    for group in catalogue.groups:
        group_tiles = by_group.get(group.id) or []
        if group_tiles:
            rows.append(html.Tr(html.Th(group.name.get(lang), colSpan=len(columns)),
                                className="kpi-group-row"))
        rows += [
            html.Tr([
                html.Td(x.name),
                html.Td(f"{x.value} {x.unit}".strip() if x.unit not in ("%", "/63")
                        else x.value + x.unit, className="kpi-num"),
                html.Td(x.period),
                html.Td(x.target_value),
                html.Td(x.status_text, className=f"kpi-cell kpi-status-{x.status}"),
                html.Td(x.trend),
            ])
            for x in group_tiles
        ]
    sections = [html.Section(
        html.Table(
            [html.Colgroup([html.Col(className=f"kpi-col-{c}") for c in columns]),
             html.Thead(html.Tr([html.Th(t(f"kpi.col.{c}", lang)) for c in columns])),
             html.Tbody(rows)],
            className="kpi-report-table", id="kpi-report-kpis",
        ),
        className="kpi-report-section",
    )]
    table = unit_table(catalogue, data, lang)
    if table.rows:
        day = fmt_date(data.day)
        sections.append(html.Section(
            [html.H2(f"{t('kpi.units', lang)} · {day}"),
             render_table(table, lang, table_id="kpi-report-units")],
            className="kpi-report-section",
        ))
    for kpi in catalogue.kpis:
        parts = data.parts.get(kpi.id) or []
        if parts:
            period = period_label(parts[0].period, parts[0].period_start, lang)
            sections.append(html.Section(
                [html.H2(t("kpi.breakdown", lang, name=kpi.name.get(lang)) + f" · {period}"),
                 html.Table(html.Tbody([
                     html.Tr([html.Td(kpi.breakdown(p.breakdown).name.get(lang)),
                              html.Td(with_unit(kpi, p.value, lang), className="kpi-num"),
                              html.Td(f"{fmt_number(p.numerator, 0, lang)} / "
                                      f"{fmt_number(p.denominator, 0, lang)}"
                                      if p.numerator is not None and p.denominator is not None
                                      else "")])
                     for p in parts
                 ]), className="kpi-report-table kpi-report-narrow")],
                className="kpi-report-section",
            ))
    definitions = html.Section(
        [html.H2(t("kpi.definitions", lang)),
         html.Dl([item for k in catalogue.kpis for item in (
             html.Dt(k.name.get(lang)),
             html.Dd(f"{k.definition.get(lang)} {t('kpi.col.source', lang)}: "
                     f"{k.source_detail.get(lang)}."),
         )], className="kpi-definitions")],
        className="kpi-report-section kpi-page-break",
    )
    return html.Div(
        [header, html.Div(render_freshness(data, lang), className="kpi-updated"), *sections,
         html.P(t("kpi.demo_note", lang), className="kpi-note"), definitions],
        className="page kpi-report", id="kpi-report",
    )


dash.register_page(
    f"{__name__}_report", path="/kpi/report", name="Báo cáo chỉ số",
    title="IOC Lào Cai – Báo cáo chỉ số điều hành", layout=report_layout, access="kpi",
)

clientside_callback(
    "function(n) { if (n) { window.print(); } return ''; }",
    Output("kpi-print-button", "title"),
    Input("kpi-print-button", "n_clicks"),
    prevent_initial_call=True,
)
