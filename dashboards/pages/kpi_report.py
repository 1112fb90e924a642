"""Leadership KPIs as a print-ready report: `/kpi/report`, the figures of /kpi as tables on a
light A4 page (print it or save it as PDF; `/kpi/report.pdf` is dashboards/kpi_report_pdf.py).
"""

from __future__ import annotations

import datetime as dt

import dash
from dash import Input, Output, clientside_callback, dcc, html

from dashboards.i18n import t
from dashboards.kpi_parts import (
    area_of_query,
    link_query,
    load_figures,
    page_catalogue,
    page_lang,
    page_time,
    page_today,
    render_freshness,
    render_table,
    units_layer,
)
from dashboards.kpi_queries import area_name
from dashboards.kpi_view import fmt_date, fmt_number, tiles, unit_table, with_unit
from kpi.periods import period_label

dash.register_page(
    __name__, path="/kpi/report", name="Báo cáo chỉ số",
    title="IOC Lào Cai – Báo cáo chỉ số điều hành", access="kpi",
)


def layout(lang: str | None = None, area: str | None = None, **_query) -> html.Div:
    """The figures of the page as tables on a light, A4-ready page (print it or save as PDF)."""
    lang = page_lang(lang)
    catalogue = page_catalogue()
    units = units_layer()
    chosen, _error = area_of_query(area, units)
    data = load_figures(catalogue, chosen)
    now = dt.datetime.now(dt.UTC)
    header = html.Header(
        [
            html.Div([html.H1(t("kpi.report_title", lang)),
                      html.Div(f"{t('province', lang)} · "
                               f"{t('kpi.area', lang)}: {area_name(chosen, units, lang)} · "
                               f"{t('kpi.generated', lang, time=page_time(now))}",
                               className="kpi-report-meta", id="kpi-report-area")]),
            html.Div(
                [html.Button(t("kpi.print", lang), id="kpi-print-button", className="kpi-button",
                             n_clicks=0),
                 html.A(t("kpi.pdf", lang), href=f"/kpi/report.pdf{link_query(lang, chosen)}",
                        className="kpi-button", id="kpi-report-pdf"),
                 dcc.Link(t("kpi.back", lang), href=f"/kpi{link_query(lang, chosen)}",
                          className="kpi-button", id="kpi-report-back")],
                className="kpi-actions kpi-no-print",
            ),
        ],
        className="kpi-report-header",
    )
    if data is None:
        return html.Div([header, html.Div(t("kpi.db_unavailable", lang))],
                        className="page kpi-report")
    by_group = tiles(catalogue, data, page_today(), lang)
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


clientside_callback(
    "function(n) { if (n) { window.print(); } return ''; }",
    Output("kpi-print-button", "title"),
    Input("kpi-print-button", "n_clicks"),
    prevent_initial_call=True,
)
