"""Leadership KPIs: tiles against targets, a unit table and map, trends, CSV and targets.

`/kpi` is the page for the screen (this module: its layout and callbacks); `/kpi/report` the
same figures as a print-ready page (dashboards/pages/kpi_report.py). Both read kpi_values
through dashboards/kpi_queries.py and build from dashboards/kpi_parts.py; the telemetry KPIs
in it are computed from hourly rollups by `ioc kpi refresh` (and by `ioc maintain` every
minute), the reported figures come from `ioc kpi import` or the HTTP API.
"""

from __future__ import annotations

import datetime as dt
import logging

import dash
from dash import Input, Output, State, callback, clientside_callback, dcc, html

from dashboards.context import context
from dashboards.i18n import pick_language, t
from dashboards.kpi_export import export_csv
from dashboards.kpi_parts import (
    DEFAULT_MAP_KPI,
    area_of_query,
    area_options,
    area_text,
    chosen_area,
    dropdown_texts,
    kpi_options,
    link_query,
    load_figures,
    page_catalogue,
    page_lang,
    page_today,
    render_freshness,
    render_table,
    render_tiles,
    trend_graphs,
    unit_map,
    units_layer,
)
from dashboards.kpi_queries import DEFAULT_TRENDS, RANGES, load_units, unit_kpis
from dashboards.kpi_target_form import save_target, target_rows, targets_panel
from dashboards.kpi_view import UnitTable, unit_table
from kpi.areas import area_param, choice_of
from kpi.catalogue import load_catalogue
from kpi.targets import effective_catalogue

log = logging.getLogger(__name__)

dash.register_page(
    __name__, path="/kpi", name="Chỉ số điều hành", title="IOC Lào Cai – Chỉ số điều hành",
    nav_order=40, nav_label_key="nav.kpi",
)

TICK_MS = 60_000  # leadership figures change by the minute at most


# -- the page -------------------------------------------------------------------------------------
def layout(lang: str | None = None, area: str | None = None, **_query) -> html.Div:
    lang = page_lang(lang)
    other = "en" if lang == "vi" else "vi"
    catalogue = page_catalogue()
    units = units_layer()
    chosen, area_error = area_of_query(area, units)
    data = load_figures(catalogue, chosen)
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
                                   href=f"/kpi/report{link_query(lang, chosen)}",
                                   className="kpi-button", id="kpi-report-link"),
                            html.A(t("kpi.pdf", lang),
                                   href=f"/kpi/report.pdf{link_query(lang, chosen)}",
                                   className="kpi-button", id="kpi-pdf-link", target="_blank"),
                            dcc.Link(t("lang.switch", lang), href=f"/kpi{link_query(other, chosen)}",
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
                        id="kpi-area", options=area_options(units, lang),
                        value=choice_of(chosen), multi=True, clearable=True,
                        placeholder=t("kpi.area.placeholder", lang), labels=dropdown_texts(lang),
                        maxHeight=420, className="kpi-select",
                    ), className="kpi-area-select"),
                    html.Div(area_text(chosen, units, lang), id="kpi-area-name",
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
                                id="kpi-map-kpi", options=kpi_options(unit_kpis(catalogue), lang),
                                value=DEFAULT_MAP_KPI, clearable=False, searchable=False,
                                className="kpi-select", labels=dropdown_texts(lang),
                            ),
                            dcc.Graph(id="kpi-map", figure=unit_map(catalogue, data, DEFAULT_MAP_KPI,
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
                        id="kpi-trend-kpis", options=kpi_options(catalogue.kpis, lang),
                        value=list(DEFAULT_TRENDS), multi=True, className="kpi-select kpi-multi",
                        labels=dropdown_texts(lang),
                    ),
                ],
                className="kpi-trend-controls",
            ),
            html.Div(trend_graphs(catalogue, list(DEFAULT_TRENDS), 30, lang, chosen),
                     id="kpi-trends", className="kpi-charts"),
            targets_panel(catalogue, lang),
            dcc.Store(id="kpi-lang-store", data=lang),
            dcc.Store(id="kpi-area-store", data=area_param(chosen)),
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
    catalogue = page_catalogue()
    units = units_layer()
    area = chosen_area(choice, units)
    data = load_figures(catalogue, area)
    table = unit_table(catalogue, data, lang) if data else UnitTable([], [])
    return (render_tiles(catalogue, data, lang), render_table(table, lang),
            render_freshness(data, lang), unit_map(catalogue, data, map_kpi or DEFAULT_MAP_KPI, lang),
            area_text(area, units, lang), area_param(area),
            f"/kpi/report{link_query(lang, area)}", f"/kpi/report.pdf{link_query(lang, area)}",
            f"/kpi{link_query(other, area)}")


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
    area = chosen_area(choice, units_layer())
    return trend_graphs(page_catalogue(), list(kpi_ids or []), days, pick_language(lang), area)


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
    today = page_today()
    with context().pool.connection() as conn:
        catalogue = effective_catalogue(conn, load_catalogue())
        units = load_units(conn)
        area = chosen_area(choice, units)
        text = export_csv(conn, catalogue, days, today, lang, units, area=area)
    suffix = f"-{area_param(area).replace(',', '_').replace(':', '-')}" if not area.is_province else ""
    return dcc.send_string(text, filename=f"chi-so-dieu-hanh-{today.isoformat()}-{days}d{suffix}.csv",
                           type="text/csv")


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
    catalogue = page_catalogue()
    kpi = catalogue.get(kpi_id)
    current = kpi.current_target(page_today()) if kpi else None
    return (target_rows(catalogue, kpi_id, pick_language(lang)),
            current.value if current else None,
            (current.start if current else dt.date(2026, 1, 1)).isoformat(),
            (current.due if current else dt.date(2030, 12, 31)).isoformat(),
            current.basis if current else "plan",
            current.document if current else "")


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
    return message, css, target_rows(page_catalogue(), kpi_id, lang), (tick or 0) + 1

