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
from dashboards.kpi_export import export_csv
from dashboards.kpi_figures import map_figure, trend_figure
from dashboards.kpi_queries import (
    DEFAULT_TRENDS,
    RANGES,
    PageData,
    area_name,
    load_page,
    load_trends,
    load_units,
    local_today,
    trend_gap,
    unit_groups,
    unit_kpis,
    unit_names,
)
from dashboards.kpi_view import Tile, UnitTable, fmt_date, fmt_number, tiles, unit_table, with_unit
from kpi.areas import (
    PROVINCE_AREA,
    Area,
    AreaError,
    area_from_choice,
    area_param,
    choice_of,
    parse_area,
)
from kpi.catalogue import Catalogue, load_catalogue
from kpi.periods import period_label
from kpi.targets import effective_catalogue

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


def _load(catalogue: Catalogue, area: Area = PROVINCE_AREA) -> PageData | None:
    try:
        with context().pool.connection() as conn:
            return load_page(conn, catalogue, area=area)
    except Exception:
        log.warning("KPI figures unavailable", exc_info=True)
        return None


def _units() -> dict:
    try:
        with context().pool.connection() as conn:
            return load_units(conn)
    except Exception:
        log.warning("units layer unavailable", exc_info=True)
        return {"features": []}


def _unit_ids(units: dict) -> list[str]:
    return [str(f["properties"]["id"]) for f in units.get("features", [])]


def _area(text: str | None, units: dict) -> tuple[Area, str]:
    """The area of an `area` query value, and the error text of a value that names none."""
    try:
        return parse_area(text, _unit_ids(units), unit_groups()), ""
    except AreaError as err:
        return PROVINCE_AREA, str(err)


def _area_options(units: dict, lang: str) -> list[dict]:
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


def _link_query(lang: str, area: Area) -> str:
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
    if data is not None:
        units = _area_units(units, data.area)
    values = data.by_unit.get(kpi.id, {}) if data else {}
    return map_figure(kpi, values, units, lang, base=map_base())


def _trend_graphs(catalogue: Catalogue, kpi_ids: list[str], days: int, lang: str,
                  area: Area = PROVINCE_AREA) -> list:
    kpis = [k for k in (catalogue.get(i) for i in kpi_ids or []) if k is not None]
    today = _today()
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


def _labels(lang: str) -> dict:
    """The dropdowns' own texts (Dash's defaults are English)."""
    return {key: t(f"kpi.dropdown.{key}", lang) for key in (
        "select_all", "deselect_all", "selected_count", "search", "clear_search",
        "clear_selection", "no_options_found")}


def _options(kpis, lang: str) -> list[dict]:
    return [{"label": k.name.get(lang), "value": k.id} for k in kpis]


# -- the page -------------------------------------------------------------------------------------
def layout(lang: str | None = None, area: str | None = None, **_query) -> html.Div:
    lang = _lang(lang)
    other = "en" if lang == "vi" else "vi"
    catalogue = _catalogue()
    units = _units()
    chosen, area_error = _area(area, units)
    data = _load(catalogue, chosen)
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
                            html.A(t("kpi.report", lang),
                                   href=f"/kpi/report{_link_query(lang, chosen)}",
                                   className="kpi-button", id="kpi-report-link"),
                            html.A(t("kpi.pdf", lang),
                                   href=f"/kpi/report.pdf{_link_query(lang, chosen)}",
                                   className="kpi-button", id="kpi-pdf-link", target="_blank"),
                            dcc.Link(t("lang.switch", lang), href=f"/kpi{_link_query(other, chosen)}",
                                     className="lang-switch", id="kpi-lang"),
                        ],
                        className="kpi-actions",
                    ),
                ],
                className="topbar",
            ),
            html.Div(
                [
                    html.Label(t("kpi.area", lang), htmlFor="kpi-area",
                               className="kpi-area-label"),
                    html.Div(dcc.Dropdown(
                        id="kpi-area", options=_area_options(units, lang),
                        value=choice_of(chosen), multi=True, clearable=True,
                        placeholder=t("kpi.area.placeholder", lang), labels=_labels(lang),
                        maxHeight=420, className="kpi-select",
                    ), className="kpi-area-select"),
                    html.Div(_area_text(chosen, units, lang), id="kpi-area-name",
                             className="kpi-area-name"),
                ],
                className="kpi-area-bar",
            ),
            html.Div(t("kpi.area.unknown", lang, error=area_error),
                     className="banner banner-error", id="kpi-area-error")
            if area_error else None,
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
                                className="kpi-select", labels=_labels(lang),
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
                        labels=_labels(lang),
                    ),
                ],
                className="kpi-trend-controls",
            ),
            html.Div(_trend_graphs(catalogue, list(DEFAULT_TRENDS), 30, lang, chosen),
                     id="kpi-trends", className="kpi-charts"),
            _targets_panel(catalogue, lang),
            dcc.Store(id="kpi-lang-store", data=lang),
            dcc.Store(id="kpi-area-store", data=area_param(chosen)),
            dcc.Download(id="kpi-download"),
            dcc.Interval(id="kpi-tick", interval=TICK_MS),
        ],
        className="page page-kpi",
    )


def _area_text(area: Area, units: dict, lang: str) -> str:
    return t("kpi.area.showing", lang, name=area_name(area, units, lang))


def _chosen(choice, units: dict) -> Area:
    """The selector's value as an Area (an id the layer no longer has: the province)."""
    try:
        return area_from_choice(choice, unit_groups(), _unit_ids(units))
    except AreaError:
        return PROVINCE_AREA


@callback(
    Output("kpi-tiles", "children"),
    Output("kpi-units", "children"),
    Output("kpi-updated", "children"),
    Output("kpi-map", "figure"),
    Output("kpi-area-name", "children"),
    Output("kpi-area-store", "data"),
    Output("kpi-report-link", "href"),
    Output("kpi-pdf-link", "href"),
    Output("kpi-lang", "href"),
    Input("kpi-tick", "n_intervals"),
    Input("kpi-map-kpi", "value"),
    Input("kpi-area", "value"),
    State("kpi-lang-store", "data"),
    prevent_initial_call=True,
)
def refresh(_n, map_kpi, choice, lang):
    lang = pick_language(lang)
    other = "en" if lang == "vi" else "vi"
    catalogue = _catalogue()
    units = _units()
    area = _chosen(choice, units)
    data = _load(catalogue, area)
    table = unit_table(catalogue, data, lang) if data else UnitTable([], [])
    return (render_tiles(catalogue, data, lang), render_table(table, lang),
            render_freshness(data, lang), _map(catalogue, data, map_kpi or DEFAULT_MAP_KPI, lang),
            _area_text(area, units, lang), area_param(area),
            f"/kpi/report{_link_query(lang, area)}", f"/kpi/report.pdf{_link_query(lang, area)}",
            f"/kpi{_link_query(other, area)}")


# The area in the address bar (replaceState: no reload, no new history entry), to share it.
clientside_callback(
    """function(area) {
        const url = new URL(window.location.href);
        if (area) { url.searchParams.set('area', area); } else { url.searchParams.delete('area'); }
        window.history.replaceState(window.history.state, '', url.toString());
        return area || '';
    }""",
    Output("kpi-area-name", "title"),
    Input("kpi-area-store", "data"),
    prevent_initial_call=True,
)


@callback(
    Output("kpi-trends", "children"),
    Input("kpi-range", "value"),
    Input("kpi-trend-kpis", "value"),
    Input("kpi-area", "value"),
    State("kpi-lang-store", "data"),
    prevent_initial_call=True,
)
def trends(days, kpi_ids, choice, lang):
    days = days if days in RANGES else RANGES[0]
    area = _chosen(choice, _units())
    return _trend_graphs(_catalogue(), list(kpi_ids or []), days, pick_language(lang), area)


@callback(
    Output("kpi-download", "data"),
    Input("kpi-export-button", "n_clicks"),
    State("kpi-range", "value"),
    State("kpi-area", "value"),
    State("kpi-lang-store", "data"),
    prevent_initial_call=True,
)
def export(_clicks, days, choice, lang):
    days = days if days in RANGES else RANGES[0]
    lang = pick_language(lang)
    today = _today()
    with context().pool.connection() as conn:
        catalogue = effective_catalogue(conn, load_catalogue())
        units = load_units(conn)
        area = _chosen(choice, units)
        text = export_csv(conn, catalogue, days, today, lang, units, area=area)
    suffix = f"-{area_param(area).replace(',', '_').replace(':', '-')}" if not area.is_province else ""
    return dcc.send_string(text, filename=f"chi-so-dieu-hanh-{today.isoformat()}-{days}d{suffix}.csv",
                           type="text/csv")


# -- targets set from the page (leadership, admin) ----------------------------------------------
BASES = ("plan", "national", "demo")


def _may_edit_targets() -> bool:
    from dashboards.access import may_act
    from dashboards.auth import current_role

    return may_act(current_role(), "kpi")


def _target_rows(catalogue: Catalogue, kpi_id: str | None, lang: str) -> list:
    kpi = catalogue.get(kpi_id) if kpi_id else None
    if kpi is None:
        return []
    if not kpi.targets:
        return [html.Div(t("kpi.no_target", lang), className="kpi-note")]
    head = html.Tr([html.Th(t(f"kpi.edit.{c}", lang)) for c in
                    ("period", "value", "due", "basis", "document")])
    rows = [html.Tr([html.Td(x.label()), html.Td(with_unit(kpi, x.value, lang)),
                     html.Td(fmt_date(x.due)), html.Td(t(f"kpi.edit.basis.{x.basis}", lang)),
                     html.Td(x.document or "–")])
            for x in sorted(kpi.targets, key=lambda x: x.start)]
    return [html.Table([html.Thead(head), html.Tbody(rows)], className="kpi-table",
                       id="kpi-target-table")]


def _field(label: str, control) -> html.Label:
    return html.Label([html.Span(label, className="kpi-field-label"), control],
                      className="kpi-field")


def _targets_panel(catalogue: Catalogue, lang: str):
    """The form leadership and admin set a period's target with (others do not see it, and
    the server refuses its callback to them: `kpi-act-...` ids, dashboards/access.py)."""
    if not _may_edit_targets():
        return None
    first = next((k for k in catalogue.kpis if k.targets), catalogue.kpis[0])
    today = _today()
    current = first.current_target(today)
    return html.Details(
        [
            html.Summary(t("kpi.edit.title", lang), className="section-title kpi-summary"),
            html.Div(t("kpi.edit.help", lang), className="kpi-note"),
            html.Div(
                [
                    _field(t("kpi.edit.kpi", lang), dcc.Dropdown(
                        id="kpi-target-kpi", options=_options(catalogue.kpis, lang),
                        value=first.id, clearable=False, className="kpi-select",
                        labels=_labels(lang))),
                    _field(t("kpi.edit.value", lang), dcc.Input(
                        id="kpi-target-value", type="number", debounce=True,
                        value=current.value if current else None, className="kpi-input")),
                    _field(t("kpi.edit.start", lang), dcc.DatePickerSingle(
                        id="kpi-target-start", display_format="DD/MM/YYYY", month_format="MM/YYYY",
                        first_day_of_week=1, placeholder=t("kpi.edit.date", lang),
                        date=(current.start if current else dt.date(2026, 1, 1)).isoformat(),
                        className="kpi-date")),
                    _field(t("kpi.edit.due", lang), dcc.DatePickerSingle(
                        id="kpi-target-due", display_format="DD/MM/YYYY", month_format="MM/YYYY",
                        first_day_of_week=1, placeholder=t("kpi.edit.date", lang),
                        date=(current.due if current else dt.date(2030, 12, 31)).isoformat(),
                        className="kpi-date")),
                    _field(t("kpi.edit.basis", lang), dcc.Dropdown(
                        id="kpi-target-basis", clearable=False, searchable=False,
                        options=[{"label": t(f"kpi.edit.basis.{b}", lang), "value": b}
                                 for b in BASES],
                        value=current.basis if current else "plan", className="kpi-select",
                        labels=_labels(lang))),
                    _field(t("kpi.edit.document", lang), dcc.Input(
                        id="kpi-target-document", type="text", maxLength=300,
                        value=current.document if current else "",
                        placeholder=t("kpi.edit.document_hint", lang),
                        className="kpi-input kpi-input-wide")),
                    html.Button(t("kpi.edit.save", lang), id="kpi-act-target-save",
                                className="kpi-button kpi-button-primary", n_clicks=0),
                ],
                className="kpi-target-form",
            ),
            html.Div(id="kpi-target-result", className="kpi-target-result", role="status"),
            html.Div(_target_rows(catalogue, first.id, lang), id="kpi-target-list"),
        ],
        className="kpi-targets", id="kpi-targets",
    )


@callback(
    Output("kpi-target-list", "children"),
    Output("kpi-target-value", "value"),
    Output("kpi-target-start", "date"),
    Output("kpi-target-due", "date"),
    Output("kpi-target-basis", "value"),
    Output("kpi-target-document", "value"),
    Input("kpi-target-kpi", "value"),
    State("kpi-lang-store", "data"),
    prevent_initial_call=True,
)
def target_kpi_chosen(kpi_id, lang):
    """The chosen KPI's targets, and the form filled with today's period's (read-only)."""
    catalogue = _catalogue()
    kpi = catalogue.get(kpi_id)
    current = kpi.current_target(_today()) if kpi else None
    return (_target_rows(catalogue, kpi_id, pick_language(lang)),
            current.value if current else None,
            (current.start if current else dt.date(2026, 1, 1)).isoformat(),
            (current.due if current else dt.date(2030, 12, 31)).isoformat(),
            current.basis if current else "plan",
            current.document if current else "")


def save_target(role: str | None, actor: str, kpi_id: str | None, value, start: str | None,
                due: str | None, basis: str | None, document: str | None,
                lang: str) -> tuple[bool, str]:
    """Store one target as `ioc kpi targets set` does (audited `kpi.target.set`).

    The role is checked here too, not only by the callback guard: (ok, message to show).
    """
    from pydantic import ValidationError

    from dashboards.access import may_act
    from kpi.catalogue import Target
    from kpi.targets import TargetError, set_target

    if not may_act(role, "kpi"):
        return False, t("kpi.edit.forbidden", lang)
    if not kpi_id or value in (None, "") or not start or not due:
        return False, t("kpi.edit.missing", lang)
    if not (document or "").strip():
        return False, t("kpi.edit.no_document", lang)
    try:
        target = Target(value=float(value), start=dt.date.fromisoformat(start[:10]),
                        due=dt.date.fromisoformat(due[:10]), basis=basis or "plan",
                        document=document.strip())
    except (ValidationError, ValueError) as err:
        text = str(err).split("Value error, ", 1)[-1].splitlines()[0]
        return False, t("kpi.edit.invalid", lang, error=text)
    try:
        with context().pool.connection() as conn:
            set_target(conn, load_catalogue(), kpi_id, target, actor=actor)
            conn.commit()
    except TargetError as err:
        return False, t("kpi.edit.invalid", lang, error=str(err))
    return True, t("kpi.edit.saved", lang, kpi=kpi_id, period=target.label(),
                   value=fmt_number(target.value, 2, lang).rstrip("0").rstrip(",."))


@callback(
    Output("kpi-target-result", "children"),
    Output("kpi-target-result", "className"),
    Output("kpi-target-list", "children", allow_duplicate=True),
    Output("kpi-tick", "n_intervals"),
    Input("kpi-act-target-save", "n_clicks"),
    State("kpi-target-kpi", "value"),
    State("kpi-target-value", "value"),
    State("kpi-target-start", "date"),
    State("kpi-target-due", "date"),
    State("kpi-target-basis", "value"),
    State("kpi-target-document", "value"),
    State("kpi-tick", "n_intervals"),
    State("kpi-lang-store", "data"),
    prevent_initial_call=True,
)
def target_save(_clicks, kpi_id, value, start, due, basis, document, tick, lang):
    from dashboards.auth import current_actor, current_role

    lang = pick_language(lang)
    ok, message = save_target(current_role(), current_actor(), kpi_id, value, start, due, basis,
                              document, lang)
    css = "kpi-target-result " + ("kpi-ok" if ok else "kpi-error")
    if not ok:
        return message, css, dash.no_update, dash.no_update
    # the new target judges the tiles at once: the tick callback redraws them
    return message, css, _target_rows(_catalogue(), kpi_id, lang), (tick or 0) + 1


# -- the printable report -------------------------------------------------------------------------
def report_layout(lang: str | None = None, area: str | None = None, **_query) -> html.Div:
    """The figures of the page as tables on a light, A4-ready page (print it or save as PDF)."""
    lang = _lang(lang)
    catalogue = _catalogue()
    units = _units()
    chosen, _error = _area(area, units)
    data = _load(catalogue, chosen)
    now = dt.datetime.now(dt.UTC)
    header = html.Header(
        [
            html.Div([html.H1(t("kpi.report_title", lang)),
                      html.Div(f"{t('province', lang)} · "
                               f"{t('kpi.area', lang)}: {area_name(chosen, units, lang)} · "
                               f"{t('kpi.generated', lang, time=_time(now))}",
                               className="kpi-report-meta", id="kpi-report-area")]),
            html.Div(
                [html.Button(t("kpi.print", lang), id="kpi-print-button", className="kpi-button",
                             n_clicks=0),
                 html.A(t("kpi.pdf", lang), href=f"/kpi/report.pdf{_link_query(lang, chosen)}",
                        className="kpi-button", id="kpi-report-pdf"),
                 dcc.Link(t("kpi.back", lang), href=f"/kpi{_link_query(lang, chosen)}",
                          className="kpi-button", id="kpi-report-back")],
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
