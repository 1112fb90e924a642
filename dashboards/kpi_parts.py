"""What both leadership KPI pages (dashboards/pages/kpi.py, kpi_report.py) build from.

The request's language, day, catalogue (with the stored targets), figures, units layer and
area, each read with a fallback when the database is away; and the pieces shown as Dash
components: tiles, the unit table, the freshness line, the unit map and the trend charts.
"""

from __future__ import annotations

import datetime as dt
import logging
from zoneinfo import ZoneInfo

from dash import dcc, html

from dashboards.base_map import map_base
from dashboards.context import context
from dashboards.i18n import pick_language, t
from dashboards.kpi_figures import map_figure, trend_figure
from dashboards.kpi_queries import (
    PageData,
    area_name,
    load_page,
    load_trends,
    load_units,
    local_today,
    trend_gap,
    unit_groups,
    unit_names,
)
from dashboards.kpi_view import Tile, UnitTable, tiles
from kpi.areas import PROVINCE_AREA, Area, AreaError, area_from_choice, area_param, parse_area
from kpi.catalogue import Catalogue, load_catalogue
from kpi.targets import effective_catalogue

log = logging.getLogger(__name__)

DEFAULT_MAP_KPI = "aqi_today"


def page_lang(requested: str | None) -> str:
    return pick_language(requested, context().settings.web.language)


def page_today() -> dt.date:
    return local_today(context().settings.web.timezone)


def page_time(value: dt.datetime | None) -> str:
    if value is None:
        return "–"
    zone = ZoneInfo(context().settings.web.timezone)
    return value.astimezone(zone).strftime("%H:%M %d/%m/%Y")


def page_catalogue() -> Catalogue:
    """The catalogue with the targets leadership stored per period (`ioc kpi targets`)."""
    catalogue = load_catalogue()
    try:
        with context().pool.connection() as conn:
            return effective_catalogue(conn, catalogue)
    except Exception:
        log.warning("stored KPI targets unavailable; the catalogue's apply", exc_info=True)
        return catalogue


def load_figures(catalogue: Catalogue, area: Area = PROVINCE_AREA) -> PageData | None:
    try:
        with context().pool.connection() as conn:
            return load_page(conn, catalogue, area=area)
    except Exception:
        log.warning("KPI figures unavailable", exc_info=True)
        return None


def units_layer() -> dict:
    try:
        with context().pool.connection() as conn:
            return load_units(conn)
    except Exception:
        log.warning("units layer unavailable", exc_info=True)
        return {"features": []}


def _unit_ids(units: dict) -> list[str]:
    return [str(f["properties"]["id"]) for f in units.get("features", [])]


def area_of_query(text: str | None, units: dict) -> tuple[Area, str]:
    """The area of an `area` query value, and the error text of a value that names none."""
    try:
        return parse_area(text, _unit_ids(units), unit_groups()), ""
    except AreaError as err:
        return PROVINCE_AREA, str(err)


def area_options(units: dict, lang: str) -> list[dict]:
    """The selector's choices: the named groups first, then every unit by name."""
    groups = [{"label": g.name(lang), "value": f"g:{g.id}"} for g in unit_groups()]
    names = unit_names(units, lang)
    return groups + [{"label": name, "value": unit_id}
                     for unit_id, name in sorted(names.items(), key=lambda x: x[1])]


def _area_units(units: dict, area: Area) -> dict:
    """The units layer cut to the area (the map then frames it)."""
    if area.is_province:
        return units
    return {**units, "features": [f for f in units.get("features", [])
                                  if str(f["properties"]["id"]) in area.unit_ids]}


def link_query(lang: str, area: Area) -> str:
    param = area_param(area)
    return f"?lang={lang}" + (f"&area={param}" if param else "")


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
    by_group = tiles(catalogue, data, page_today(), lang)
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
    parts = [t("kpi.updated", lang, time=page_time(fresh.telemetry_at)) if fresh.telemetry_at
             else t("kpi.not_refreshed", lang)]
    if fresh.import_at:
        parts.append(t("kpi.imported", lang, time=page_time(fresh.import_at),
                       source=fresh.import_source or "–"))
    return [html.Span(p) for p in parts]


def unit_map(catalogue: Catalogue, data: PageData | None, kpi_id: str, lang: str):
    kpi = catalogue.get(kpi_id) or catalogue.get(DEFAULT_MAP_KPI)
    units = (data.units if data and data.units else None) or {"features": []}
    if data is not None:
        units = _area_units(units, data.area)
    values = data.by_unit.get(kpi.id, {}) if data else {}
    return map_figure(kpi, values, units, lang, base=map_base())


def trend_graphs(catalogue: Catalogue, kpi_ids: list[str], days: int, lang: str,
                  area: Area = PROVINCE_AREA) -> list:
    kpis = [k for k in (catalogue.get(i) for i in kpi_ids or []) if k is not None]
    today = page_today()
    try:
        with context().pool.connection() as conn:
            points = load_trends(conn, kpis, days, today, area=area)
    except Exception:
        log.warning("KPI trends unavailable", exc_info=True)
        return [html.Div(t("kpi.db_unavailable", lang), className="banner banner-error")]
    out = []
    for kpi in kpis:
        title = kpi.name.get(lang)
        if kpi.periods != ("day",):
            title += f" ({t('kpi.reported_all', lang)})"
        gap = trend_gap(kpi, area)
        if gap:  # a figure the area does not have: said so, not drawn as an empty chart
            out.append(html.Div(
                [html.Div(title, className="kpi-chart-title"),
                 html.Div(t(f"kpi.area.{gap}", lang), className="kpi-chart-gap")],
                className="kpi-chart", id=f"kpi-trend-{kpi.id}"))
            continue
        out.append(html.Div(
            [html.Div(title, className="kpi-chart-title"),
             dcc.Graph(figure=trend_figure(kpi, points[kpi.id], lang, days, today),
                       config={"displayModeBar": False}, style={"height": "280px"},
                       id=f"kpi-trend-{kpi.id}")],
            className="kpi-chart",
        ))
    return out


def dropdown_texts(lang: str) -> dict:
    """The dropdowns' own texts (Dash's defaults are English)."""
    return {key: t(f"kpi.dropdown.{key}", lang) for key in (
        "select_all", "deselect_all", "selected_count", "search", "clear_search",
        "clear_selection", "no_options_found")}


def kpi_options(kpis, lang: str) -> list[dict]:
    return [{"label": k.name.get(lang), "value": k.id} for k in kpis]


def area_text(area: Area, units: dict, lang: str) -> str:
    return t("kpi.area.showing", lang, name=area_name(area, units, lang))


def chosen_area(choice, units: dict) -> Area:
    """The selector's value as an Area (an id the layer no longer has: the province)."""
    try:
        return area_from_choice(choice, unit_groups(), _unit_ids(units))
    except AreaError:
        return PROVINCE_AREA

