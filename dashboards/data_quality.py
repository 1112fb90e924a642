"""The status page's data-quality row: "đúng, đủ, sạch, sống" of the latest day, by family.

The figures are the telemetry KPIs of kpi/quality.py as `ioc kpi refresh` stored them in
kpi_values (province-wide, one breakdown per source family): one indexed read, no raw scan.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import psycopg
from dash import html

from dashboards.i18n import t
from kpi.quality import ALL_FAMILIES, FAMILIES, PROVINCE, QUALITY_KPIS


@dataclass(frozen=True)
class QualityRow:
    day: dt.date
    values: dict[tuple[str, str], float]  # (kpi_id, family or '') -> value


def latest_quality(conn: psycopg.Connection) -> QualityRow | None:
    """The newest day's province-wide quality figures, overall and per family."""
    rows = conn.execute(
        "WITH d AS (SELECT max(period_start) AS day FROM kpi_values "
        "           WHERE kpi_id = ANY(%(kpis)s) AND period = 'day') "
        "SELECT v.kpi_id, v.breakdown, v.value, d.day FROM kpi_values v JOIN d "
        "ON v.period_start = d.day WHERE v.kpi_id = ANY(%(kpis)s) AND v.period = 'day' "
        "AND v.unit_id = %(province)s",
        {"kpis": list(QUALITY_KPIS), "province": PROVINCE},
    ).fetchall()
    if not rows:
        return None
    return QualityRow(rows[0][3], {(k, b): v for k, b, v, _day in rows})


def _fmt(value: float | None, kpi_id: str, lang: str) -> str:
    if value is None:
        return "–"
    if kpi_id == "devices_silent_long":
        return f"{value:.0f}"
    text = f"{value:.1f}%"
    return text.replace(".", ",") if lang == "vi" else text


def _tone(kpi_id: str, value: float | None) -> str:
    if value is None:
        return ""
    if kpi_id == "devices_silent_long":
        return "tone-warn" if value > 0 else ""
    return "tone-alert" if value < 90 else ("tone-warn" if value < 97 else "")


def render_quality(row: QualityRow | None, lang: str) -> list:
    """A title and one tile per quality KPI, each with its per-family figures beneath."""
    title = html.H2(t("quality.title", lang), className="section-title")
    if row is None:
        return [title, html.Div(t("quality.none", lang), className="updated",
                                id="status-quality-none")]
    tiles = []
    for kpi_id in QUALITY_KPIS:
        value = row.values.get((kpi_id, ALL_FAMILIES))
        parts = " · ".join(
            f"{t(f'family.{f}', lang)} {_fmt(row.values[(kpi_id, f)], kpi_id, lang)}"
            for f in FAMILIES if (kpi_id, f) in row.values)
        tiles.append(html.Div(
            [html.Div(_fmt(value, kpi_id, lang), className="tile-value",
                      id=f"status-quality-{kpi_id}"),
             html.Div(t(f"quality.{kpi_id}", lang), className="tile-label"),
             html.Div(parts, className="tile-label")],
            className=f"tile {_tone(kpi_id, value)}".strip()))
    return [title, html.Div(tiles, className="tile-row"),
            html.Div(t("quality.day", lang, day=row.day.strftime("%d/%m/%Y")),
                     className="updated")]
