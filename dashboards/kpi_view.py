"""The leadership KPI page's view models: numbers as each language writes them, a KPI's tile
(value, status against today's target, trend, period) and the table of units.

Pure functions over what dashboards/kpi_queries.py loads, tested without a browser; the pages
(dashboards/pages/kpi.py, kpi_report.py) and the PDF report turn them into components.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from dashboards.i18n import t
from dashboards.kpi_queries import PageData, history_name, unit_kpis, unit_names
from kpi.catalogue import (
    Catalogue,
    Kpi,
    Target,
    goal_on_path,
    stale_year,
    status_of,
    trend_of,
)
from kpi.periods import period_label
from kpi.queries import Latest, StoredValue
from kpi.store import PROVINCE

ARROWS = {"up": "▲", "down": "▼", "flat": "▶", "none": ""}


# -- numbers --------------------------------------------------------------------------------------
def fmt_number(value: float | None, decimals: int, lang: str) -> str:
    """1.234,5 in Vietnamese, 1,234.5 in English; '–' for no value."""
    if value is None:
        return "–"
    text = f"{value:,.{decimals}f}"
    if lang == "vi":
        text = text.replace(",", "\0").replace(".", ",").replace("\0", ".")
    return text


def fmt_value(kpi: Kpi, value: float | None, lang: str) -> str:
    return fmt_number(value, kpi.decimals, lang)


def unit_of(kpi: Kpi, lang: str) -> str:
    return kpi.unit.get(lang)


def with_unit(kpi: Kpi, value: float | None, lang: str) -> str:
    text = fmt_value(kpi, value, lang)
    unit = unit_of(kpi, lang)
    if value is None or not unit:
        return text
    return f"{text}{unit}" if unit == "%" or unit.startswith("/") else f"{text} {unit}"


def fmt_date(day: dt.date | None) -> str:
    return day.strftime("%d/%m/%Y") if day else "–"


def when_of(value: StoredValue) -> dt.date:
    return value.period_end


def judge(kpi: Kpi, value: StoredValue) -> str:
    """The status of a stored figure against the target of its own period only."""
    return status_of(kpi, value.value, value.period_end, value.period_start)



# -- tiles ----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Tile:
    kpi_id: str
    group: str
    name: str
    value: str
    unit: str
    status: str
    status_text: str
    target: str
    target_value: str  # the target alone, for a table column headed "target"
    period: str
    trend: str
    trend_tone: str  # better | worse | same | ''
    detail: str
    demo_target: bool
    definition: str
    stale: str = ""  # a badge for a figure whose period ended over a year ago


def _target_text(kpi: Kpi, target: Target | None, when: dt.date, lang: str,
                 label: bool = True) -> str:
    """`Mục tiêu 2026–2030: ≥ 100% (hạn 31/12/2030) · lộ trình: 39,4% *`."""
    if target is None:
        return t("kpi.no_target", lang)
    sign = "≥" if kpi.higher_is_better else "≤"
    text = f"{sign} {with_unit(kpi, target.value, lang)}"
    if label:
        text = f"{t('kpi.target_of', lang, period=target.label())} {text}"
    text += f" ({t('kpi.due', lang)} {fmt_date(target.due)})"
    if target.start <= when <= target.due:
        goal = goal_on_path(target, when)
        if abs(goal - target.value) > 1e-9:
            text += " · " + t("kpi.on_path", lang, goal=with_unit(kpi, goal, lang))
    if target.basis == "demo":
        text += " *"
    return text


def _period_text(value: StoredValue, today: dt.date, lang: str) -> str:
    if value.period == "day":
        if value.period_start == today:
            return t("kpi.today", lang)
        return fmt_date(value.period_start)
    return t("kpi.as_of", lang, period=period_label(value.period, value.period_start, lang))


def _detail_text(kpi: Kpi, value: StoredValue, lang: str) -> str:
    num, den = value.numerator, value.denominator
    if kpi.id == "egov_services_online_pct" and num is not None and den is not None:
        return t("kpi.detail.services", lang, n=fmt_number(num, 0, lang),
                 d=fmt_number(den, 0, lang))
    if kpi.id == "visitors_vs_last_year_pct" and num is not None and den is not None:
        return t("kpi.detail.visitors", lang, n=fmt_number(num, 0, lang),
                 d=fmt_number(den, 0, lang))
    if kpi.id == "aqi_today" and den is not None:
        return t("kpi.detail.stations", lang, d=fmt_number(den, 0, lang))
    if kpi.id == "ack_median_min" and den is not None:
        return t("kpi.detail.alerts", lang, n=fmt_number(den, 0, lang))
    if num is not None and den is not None:
        return f"{fmt_number(num, 0, lang)} / {fmt_number(den, 0, lang)}"
    return ""


def tile_for(kpi: Kpi, latest: Latest | None, today: dt.date, lang: str,
             parts: Sequence[StoredValue] = (), missing: str = "") -> Tile:
    """The tile of one KPI from its newest value (and the one before, for the trend).

    missing: why the chosen area has no figure of this KPI (`province_only`, `median`,
    `no_counts`); the tile then says so instead of showing a number.
    """
    if missing:
        target = kpi.current_target(today)
        return Tile(
            kpi_id=kpi.id, group=kpi.group, name=kpi.name.get(lang), value="–", unit="",
            status="none", status_text=t(f"kpi.area.{missing}", lang),
            target=_target_text(kpi, target, today, lang),
            target_value=_target_text(kpi, target, today, lang, label=False),
            period="", trend="", trend_tone="", detail="",
            demo_target=target is not None and target.basis == "demo",
            definition=kpi.definition.get(lang))
    current = latest.current if latest else None
    when = when_of(current) if current else today
    # The tile speaks of today's plan period: a figure of another period is shown with its
    # own date and a staleness badge, but never judged against today's target (nor old ones).
    target = kpi.current_target(today)
    in_period = current is not None and target is not None and target.covers(
        current.period_start, current.period_end)
    status = (status_of(kpi, current.value, when, current.period_start) if in_period
              else ("info" if current is not None else "none"))
    stale = stale_year(current.period_end, today) if current else None
    outside = current is not None and target is not None and not in_period
    trend, tone = "", ""
    if latest is not None and latest.previous is not None:
        direction, better = trend_of(kpi, latest.current.value, latest.previous.value)
        delta = latest.current.value - latest.previous.value
        since = (t("kpi.yesterday", lang) if latest.previous.period == "day"
                 and latest.current.period_start - latest.previous.period_start
                 == dt.timedelta(days=1) else _period_text(latest.previous, today, lang).lower())
        sign = "+" if delta > 0 else ""
        change = (t("kpi.unchanged", lang) if direction == "flat"
                  else f"{sign}{fmt_value(kpi, delta, lang)}")
        trend = f"{ARROWS[direction]} {change} " + t("kpi.vs", lang, period=since)
        tone = {True: "better", False: "worse", None: "same"}[better]
    detail = _detail_text(kpi, current, lang) if current else ""
    if parts:
        detail = " · ".join(
            f"{(kpi.breakdown(p.breakdown).name.get(lang))} {fmt_value(kpi, p.value, lang)}"
            for p in parts[:3]
        ) + (" …" if len(parts) > 3 else "")
    return Tile(
        kpi_id=kpi.id, group=kpi.group, name=kpi.name.get(lang),
        value=fmt_value(kpi, current.value if current else None, lang),
        unit=unit_of(kpi, lang) if current else "", status=status,
        status_text=t("kpi.status.other_period" if outside else f"kpi.status.{status}", lang),
        target=_target_text(kpi, target, when, lang),
        target_value=_target_text(kpi, target, when, lang, label=False),
        period=_period_text(current, today, lang) if current else "",
        trend=trend, trend_tone=tone, detail=detail,
        demo_target=target is not None and target.basis == "demo",
        definition=kpi.definition.get(lang),
        stale=t("kpi.stale", lang, year=stale) if stale else "",
    )


def tiles(catalogue: Catalogue, data: PageData, today: dt.date, lang: str) -> dict[str, list[Tile]]:
    """Tiles per group, in catalogue order."""
    out: dict[str, list[Tile]] = {g.id: [] for g in catalogue.groups}
    for kpi in catalogue.kpis:
        out[kpi.group].append(
            tile_for(kpi, data.latest.get(kpi.id), today, lang, data.parts.get(kpi.id, ()),
                     missing=data.missing.get(kpi.id, "")))
    return out


# -- the unit table ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class Cell:
    text: str
    status: str


@dataclass(frozen=True)
class UnitTable:
    columns: list[tuple[str, str]]  # (kpi id, heading)
    rows: list[tuple[str, str, list[Cell]]]  # (unit id, name, cells)


def unit_table(catalogue: Catalogue, data: PageData, lang: str) -> UnitTable:
    """One row per unit (then the province), one column per unit KPI with values."""
    names = unit_names(data.units, lang)
    kpis = [k for k in unit_kpis(catalogue) if data.by_unit.get(k.id)]
    seen = {d for by in data.by_unit.values() for d in by if data.area.includes(d)}
    order = [d for d in names if d in seen] + sorted(seen - set(names))
    columns = [(k.id, k.short(lang) + (f" ({unit_of(k, lang)})" if unit_of(k, lang) else ""))
               for k in kpis]
    rows = []
    for unit_id in order:
        cells = []
        for k in kpis:
            v = data.by_unit[k.id].get(unit_id)
            value = v.value if v else None
            cells.append(Cell(fmt_value(k, value, lang),
                              judge(k, v) if v else "none"))
        rows.append((unit_id, names.get(unit_id) or history_name(unit_id, lang), cells))
    if data.area.kind == "unit":
        return UnitTable(columns, rows)  # its one row is the area
    total = []
    for k in kpis:
        latest = data.latest.get(k.id)
        same_day = latest is not None and (k.periods != ("day",)
                                           or latest.current.period_start == data.day)
        v = latest.current if same_day else None
        total.append(Cell(fmt_value(k, v.value if v else None, lang),
                          judge(k, v) if v else "none"))
    if rows:
        label = (t("kpi.province_total", lang) if data.area.is_province
                 else t("kpi.area.total", lang, n=len(data.area.unit_ids)))
        rows.append((PROVINCE, label, total))
    return UnitTable(columns, rows)

