"""The form leadership and admin set a period's KPI target with on /kpi, and its save.

The save stores a target as `ioc kpi targets set` does (audited); the page's callbacks
(dashboards/pages/kpi.py) fill the form and call it.
"""

from __future__ import annotations

import datetime as dt

from dash import dcc, html

from dashboards.context import context
from dashboards.i18n import t
from dashboards.kpi_parts import dropdown_texts, kpi_options, page_today
from dashboards.kpi_view import fmt_date, fmt_number, with_unit
from kpi.catalogue import Catalogue, load_catalogue

# -- targets set from the page (leadership, admin) ----------------------------------------------
BASES = ("plan", "national", "demo")


def _may_edit_targets() -> bool:
    from dashboards.access import may_act
    from dashboards.auth import current_role

    return may_act(current_role(), "kpi")


def target_rows(catalogue: Catalogue, kpi_id: str | None, lang: str) -> list:
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


def targets_panel(catalogue: Catalogue, lang: str):
    """The form leadership and admin set a period's target with (others do not see it, and
    the server refuses its callback to them: `kpi-act-...` ids, dashboards/access.py)."""
    if not _may_edit_targets():
        return None
    first = next((k for k in catalogue.kpis if k.targets), catalogue.kpis[0])
    today = page_today()
    current = first.current_target(today)
    return html.Details(
        [
            html.Summary(t("kpi.edit.title", lang), className="section-title kpi-summary"),
            html.Div(t("kpi.edit.help", lang), className="kpi-note"),
            html.Div(
                [
                    _field(t("kpi.edit.kpi", lang), dcc.Dropdown(
                        id="kpi-target-kpi", options=kpi_options(catalogue.kpis, lang),
                        value=first.id, clearable=False, className="kpi-select",
                        labels=dropdown_texts(lang))),
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
                        labels=dropdown_texts(lang))),
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
            html.Div(target_rows(catalogue, first.id, lang), id="kpi-target-list"),
        ],
        className="kpi-targets", id="kpi-targets",
    )



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

