"""What the leadership KPI page shows: tiles, the unit table, the map, trends, the CSV.

Two halves: `load_*` functions run the page's queries (kpi_values and the units layer,
index lookups only; `bench/kpi.py` times exactly these), and pure functions turn their results
into view models and plotly figures, tested without a browser.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

import plotly.graph_objects as go
import psycopg

from dashboards.i18n import t
from kpi.areas import PROVINCE_AREA, Area, UnitGroup, groups_from_former, rule_of
from kpi.catalogue import (
    Catalogue,
    Kpi,
    Target,
    goal_at,
    goal_on_path,
    stale_year,
    status_for_goal,
    status_of,
    trend_of,
)
from kpi.history import SOURCE as HISTORY_SOURCE
from kpi.periods import period_label
from kpi.queries import (
    AreaSums,
    Freshness,
    Latest,
    StoredValue,
    all_breakdowns,
    area_sums,
    combined_value,
    latest_values,
    page_meta,
    series,
    unit_values,
    values_since,
)
from kpi.store import PROVINCE

RANGES = (30, 90, 365)
DEFAULT_TRENDS = ("aqi_today", "incidents_today", "visitors_today", "devices_online_pct")
STATUS_COLOURS = {"good": "#3ddc97", "warn": "#ffb020", "bad": "#ff4d4f", "info": "#4aa8ff",
                  "none": "#5b6b7b"}
STATUS_ORDER = ("none", "info", "good", "warn", "bad")
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


def unit_names(units: Mapping[str, Any] | None, lang: str) -> dict[str, str]:
    """unit id -> display name, from the units layer (GeoJSON FeatureCollection)."""
    out = {}
    for f in (units or {}).get("features", []):
        props = f.get("properties") or {}
        name = props.get("name_en") if lang == "en" and props.get("name_en") else props.get("name")
        out[str(props.get("id"))] = name or str(props.get("id"))
    return out


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


# -- the page's data ------------------------------------------------------------------------------
@dataclass(frozen=True)
class PageData:
    latest: dict[str, Latest]
    day: dt.date | None
    by_unit: dict[str, dict[str, StoredValue]]
    parts: dict[str, list[StoredValue]]
    fresh: Freshness
    units: dict | None = field(default=None, compare=False)
    area: Area = PROVINCE_AREA
    missing: dict[str, str] = field(default_factory=dict)  # kpi id -> why the area has none


def load_units(conn: psycopg.Connection) -> dict:
    """The units layer from the database, else the demo province's committed file."""
    from layers.store import load_layer

    collection = load_layer(conn, "units")
    if not collection or not collection.get("features"):
        collection = _demo_units()
    return collection


def history_name(unit_id: str, lang: str) -> str:
    """A former district's name marked "(trước 1/7/2025)" (figures from before the reform that
    cannot be split into units); an unknown id as it is."""
    from dashboards.ops_queries import BEFORE_REFORM

    name = _former_names(lang).get(unit_id)
    return f"{name} ({BEFORE_REFORM.get(lang, BEFORE_REFORM['vi'])})" if name else unit_id


@lru_cache(maxsize=2)
def _former_names(lang: str) -> dict[str, str]:
    from layers.catalog import HISTORY_LAYER, demo_layer_path

    collection = json.loads(demo_layer_path(HISTORY_LAYER).read_text(encoding="utf-8"))
    return unit_names(collection, lang)


@lru_cache(maxsize=1)
def _demo_units() -> dict:
    """The committed demo units, read once (used until `ioc layers seed` has run)."""
    from layers.catalog import demo_layer_path

    return json.loads(demo_layer_path("units").read_text(encoding="utf-8"))


def load_page(conn: psycopg.Connection, catalogue: Catalogue, *,
              with_units: bool = True, area: Area = PROVINCE_AREA) -> PageData:
    """Every query of the page's first paint (tiles, unit table, map, freshness) for `area`."""
    day, fresh = page_meta(conn)
    units = load_units(conn) if with_units else None
    if area.is_province:
        return PageData(
            latest=latest_values(conn, catalogue), day=day,
            by_unit=unit_values(conn, catalogue, day),
            parts=all_breakdowns(conn, catalogue.kpis), fresh=fresh, units=units,
        )
    per_unit = unit_kpis(catalogue)
    missing = {k.id: "province_only" for k in catalogue.kpis if not k.units}
    if area.kind == "unit":
        latest = latest_values(conn, catalogue, unit_id=area.unit_id, kpis=per_unit)
        parts = all_breakdowns(conn, per_unit, unit_id=area.unit_id)
    else:
        rows = area_sums(conn, [k.id for k in per_unit], area.unit_ids,
                         since=day - dt.timedelta(days=1) if day else None,
                         breakdowns=["", *sorted({b.id for k in per_unit
                                                  for b in k.breakdowns})])
        latest, parts, reasons = area_latest(rows)
        missing.update(reasons)
        # never combined, whether or not its units have figures today
        missing.update({k.id: "median" for k in per_unit if rule_of(k.id) == "none"})
    by_unit = {kpi_id: {u: v for u, v in by.items() if u in area.unit_ids}
               for kpi_id, by in unit_values(conn, catalogue, day).items()}
    return PageData(latest=latest, day=day, by_unit=by_unit, parts=parts, fresh=fresh,
                    units=units, area=area, missing=missing)


GROUP_UNIT = "*"  # the unit_id of a group's combined figures (never a real unit id)


def area_latest(rows: Sequence[AreaSums]) -> tuple[dict[str, Latest],
                                                   dict[str, list[StoredValue]],
                                                   dict[str, str]]:
    """A group's newest figure per KPI (and the one before), its parts, and why a KPI has none.

    From the summed rows of `area_sums`: per KPI, the period ending last is the current figure
    (as `latest_values` picks it for the province); when that one cannot be combined (a median,
    units without counts), the KPI has no figure and the reason is returned instead.
    """
    by_kind: dict[tuple[str, str], list[AreaSums]] = {}
    by_part: dict[tuple[str, str], AreaSums] = {}
    for row in rows:
        if row.breakdown:
            best = by_part.get((row.kpi_id, row.breakdown))
            if best is None or row.period_end > best.period_end:
                by_part[(row.kpi_id, row.breakdown)] = row
        else:
            by_kind.setdefault((row.kpi_id, row.period), []).append(row)
    newest: dict[str, list[AreaSums]] = {}
    for (kpi_id, _period), kind_rows in by_kind.items():
        kind_rows.sort(key=lambda r: r.period_start, reverse=True)
        best = newest.get(kpi_id)
        if best is None or kind_rows[0].period_end > best[0].period_end:
            newest[kpi_id] = kind_rows
    latest: dict[str, Latest] = {}
    reasons: dict[str, str] = {}
    for kpi_id, kind_rows in newest.items():
        current, reason = combined_value(kind_rows[0], GROUP_UNIT)
        if current is None:
            reasons[kpi_id] = reason
            continue
        previous = combined_value(kind_rows[1], GROUP_UNIT)[0] if len(kind_rows) > 1 else None
        latest[kpi_id] = Latest(current, previous)
    parts: dict[str, list[StoredValue]] = {}
    for (kpi_id, _part), row in sorted(by_part.items()):
        value = combined_value(row, GROUP_UNIT)[0]
        if value is not None:
            parts.setdefault(kpi_id, []).append(value)
    return latest, parts, reasons


@lru_cache(maxsize=1)
def unit_groups() -> tuple[UnitGroup, ...]:
    """Named groups of units: those of each former province (from the demo's crosswalk)."""
    from layers.catalog import HISTORY_LAYER, crosswalk, demo_layer_path

    try:
        rows = crosswalk()["communes"]
        legacy = json.loads(demo_layer_path(HISTORY_LAYER).read_text(encoding="utf-8"))
    except (OSError, KeyError, ValueError):
        return ()
    former: dict[str, set[str]] = {}
    district_code: dict[str, str] = {}
    for row in rows:
        former.setdefault(row["former_province_code"], set()).update(row["units"])
        district_code[row["former_district"]] = row["former_province_code"]
    names: dict[str, tuple[str, str]] = {}
    for f in legacy.get("features", []):
        props = f.get("properties") or {}
        code = district_code.get(str(props.get("id")))
        province = str(props.get("former_province") or "").removeprefix("Tỉnh ").strip()
        if code and province:
            names[code] = (t("kpi.area.former", "vi", name=province),
                           t("kpi.area.former", "en", name=province))
    return tuple(groups_from_former(former, names))


def area_name(area: Area, units: Mapping[str, Any] | None, lang: str) -> str:
    """`Toàn tỉnh`, a unit's name, a named group's name, or `3 xã, phường`."""
    if area.is_province:
        return t("kpi.province_total", lang)
    if area.group is not None:
        return area.group.name(lang)
    names = unit_names(units, lang)
    if area.kind == "unit":
        return names.get(area.unit_id, area.unit_id)
    shown = [names.get(u, u) for u in area.unit_ids[:3]]
    more = len(area.unit_ids) - len(shown)
    return ", ".join(shown) + (t("kpi.area.more", lang, n=more) if more > 0 else "")


def tiles(catalogue: Catalogue, data: PageData, today: dt.date, lang: str) -> dict[str, list[Tile]]:
    """Tiles per group, in catalogue order."""
    out: dict[str, list[Tile]] = {g.id: [] for g in catalogue.groups}
    for kpi in catalogue.kpis:
        out[kpi.group].append(
            tile_for(kpi, data.latest.get(kpi.id), today, lang, data.parts.get(kpi.id, ()),
                     missing=data.missing.get(kpi.id, "")))
    return out


# -- the unit table and the map --------------------------------------------------------------
@dataclass(frozen=True)
class Cell:
    text: str
    status: str


@dataclass(frozen=True)
class UnitTable:
    columns: list[tuple[str, str]]  # (kpi id, heading)
    rows: list[tuple[str, str, list[Cell]]]  # (unit id, name, cells)


def unit_kpis(catalogue: Catalogue) -> list[Kpi]:
    return [k for k in catalogue.kpis if k.units]


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


def map_figure(kpi: Kpi, values: Mapping[str, StoredValue], units: Mapping[str, Any],
               lang: str, height: int = 460, base: Any = None) -> go.Figure:
    """Units coloured by the KPI's status against its target (dark, offline map; `base`: the
    base map, dashboards.base_map.map_base()). Opaque fills in the legend's colours."""
    from dashboards.map_figure import fit_view, map_style

    ids, z, text = [], [], []
    names = unit_names(units, lang)
    for f in units.get("features", []):
        unit_id = str(f["properties"]["id"])
        v = values.get(unit_id)
        status = judge(kpi, v) if v else "none"
        ids.append(unit_id)
        z.append(STATUS_ORDER.index(status))
        lines = [f"<b>{names.get(unit_id, unit_id)}</b>",
                 f"{kpi.name.get(lang)}: {with_unit(kpi, v.value if v else None, lang)}",
                 t(f"kpi.status.{status}", lang)]
        if f["properties"].get("approximate"):
            lines.append(t("kpi.approximate_boundary", lang))
        text.append("<br>".join(lines))
    n = len(STATUS_ORDER) - 1
    scale = []
    for i, status in enumerate(STATUS_ORDER):
        colour = STATUS_COLOURS[status]
        scale += [[i / n - (0.5 / n if i else 0), colour], [min(1, i / n + 0.5 / n), colour]]
    scale[0][0], scale[-1][0] = 0, 1
    bbox = _bbox(units)
    centre, zoom = fit_view(bbox, 640, height) if bbox else ({"lon": 104.1, "lat": 22.35}, 7.6)
    fig = go.Figure(go.Choroplethmap(
        geojson=dict(units), featureidkey="properties.id", locations=ids, z=z,
        zmin=0, zmax=n, colorscale=scale, showscale=False, marker={"opacity": 1,
                                                                   "line": {"width": 1.5,
                                                                            "color": "#e6edf3"}},
        text=text, hovertemplate="%{text}<extra></extra>", name="units",
    ))
    fig.update_layout(
        map={"style": map_style(base), "center": centre, "zoom": zoom},
        margin={"l": 0, "r": 0, "t": 0, "b": 0}, height=height,
        paper_bgcolor="rgba(0,0,0,0)", font={"color": "#e6edf3", "size": 16},
        hoverlabel={"bgcolor": "#131c26", "font": {"size": 16}},
    )
    return fig


def _bbox(collection: Mapping[str, Any]) -> tuple[float, float, float, float] | None:
    xs, ys = [], []

    def walk(coords):
        if coords and isinstance(coords[0], int | float):
            xs.append(coords[0])
            ys.append(coords[1])
        else:
            for c in coords:
                walk(c)

    for f in collection.get("features", []):
        walk((f.get("geometry") or {}).get("coordinates", []))
    return (min(xs), min(ys), max(xs), max(ys)) if xs else None


# -- trends ---------------------------------------------------------------------------------------
def load_trends(conn: psycopg.Connection, kpis: Sequence[Kpi], days: int,
                today: dt.date, area: Area = PROVINCE_AREA) -> dict[str, list[StoredValue]]:
    """The KPIs' values over `days` days for `area` (see `trend_gap` for an empty series)."""
    since = today - dt.timedelta(days=days - 1)
    if area.is_province:
        return {k.id: series(conn, k, since=since) for k in kpis}
    out: dict[str, list[StoredValue]] = {k.id: [] for k in kpis}
    if area.kind == "unit":
        for k in kpis:
            if k.units:
                out[k.id] = series(conn, k, since=since, unit_id=area.unit_id)
        return out
    combinable = [k.id for k in kpis if k.units and rule_of(k.id) != "none"]
    for row in area_sums(conn, combinable, area.unit_ids, since=since):
        value = combined_value(row, GROUP_UNIT)[0]
        if value is not None:
            out[row.kpi_id].append(value)
    return out


def trend_gap(kpi: Kpi, area: Area) -> str:
    """Why `area` has no trend of `kpi` at all ('' when it may have one)."""
    if area.is_province:
        return ""
    if not kpi.units:
        return "province_only"
    if area.kind == "group" and rule_of(kpi.id) == "none":
        return "median"
    return ""


def trend_figure(kpi: Kpi, points: Sequence[StoredValue], lang: str, days: int,
                 today: dt.date, height: int = 280) -> go.Figure:
    """A KPI over time (daily: the last `days` days; reported: every period) with its goal."""
    daily = kpi.periods == ("day",)
    x = [p.period_start if daily else p.period_end for p in points]
    y = [p.value for p in points]
    fig = go.Figure()
    colours = [STATUS_COLOURS[judge(kpi, p)] for p in points]
    fig.add_trace(go.Scatter(
        x=x, y=y, mode="lines+markers", name=kpi.name.get(lang),
        line={"color": "#4aa8ff", "width": 3}, marker={"size": 7 if daily else 12,
                                                       "color": colours},
        hovertemplate="%{x|%d/%m/%Y}: %{y:,." + str(kpi.decimals) + "f}<extra></extra>",
    ))
    start = today - dt.timedelta(days=days - 1) if daily else (min(x) if x else today)
    end = today if daily else max([*x, today])
    for target in kpi.targets:  # each period's goal line over its own period only
        lo, hi = max(start, target.start), min(end, target.due)
        if lo > hi:
            continue
        gx, gy = [lo, hi], [goal_on_path(target, lo), goal_on_path(target, hi)]
        fig.add_trace(go.Scatter(
            x=gx, y=gy, mode="lines", name=f"{t('kpi.target', lang)} {target.label()}",
            line={"color": "#ffb020", "width": 2, "dash": "dash"}, hoverinfo="skip",
        ))
    demo = [p for p in points if p.source == HISTORY_SOURCE]
    if demo:  # the seeded past of the demo: said so on the chart, and its points drawn hollow
        last_demo = max(p.period_start if daily else p.period_end for p in demo)
        fig.data[0].marker.symbol = ["circle-open" if p.source == HISTORY_SOURCE else "circle"
                                     for p in points]
        fig.add_annotation(
            x=0, y=1.0, xref="paper", yref="paper", xanchor="left", yanchor="bottom",
            showarrow=False, font={"size": 13, "color": "#9fb0c2"},
            text=t("kpi.demo_history", lang, day=fmt_date(last_demo)))
    xaxis: dict[str, Any] = {"gridcolor": "#223142", "linecolor": "#223142", "fixedrange": True,
                             "tickformat": "%d/%m" if daily and days <= 90 else "%m/%Y"}
    if daily:
        xaxis["range"] = [today - dt.timedelta(days=days - 1), today + dt.timedelta(days=1)]
    fig.update_layout(
        height=height, margin={"l": 56, "r": 16, "t": 28 if demo else 8, "b": 36},
        paper_bgcolor="rgba(0,0,0,0)", plot_bgcolor="rgba(0,0,0,0)",
        font={"color": "#e6edf3", "size": 15,
              "family": "Noto Sans, DejaVu Sans, Arial, sans-serif"},
        showlegend=False, xaxis=xaxis,
        yaxis={"gridcolor": "#223142", "zeroline": False, "fixedrange": True,
               "rangemode": "tozero"},
        hoverlabel={"bgcolor": "#131c26"},
    )
    return fig


# -- CSV export -----------------------------------------------------------------------------------
EXPORT_COLUMNS = ("kpi_id", "kpi", "group", "unit_id", "unit_name", "breakdown", "period",
                  "period_start", "value", "unit", "numerator", "denominator", "target", "due",
                  "goal", "status", "higher_is_better", "source", "note")


def export_csv(conn: psycopg.Connection, catalogue: Catalogue, days: int, today: dt.date,
               lang: str, units: Mapping[str, Any] | None = None,
               area: Area = PROVINCE_AREA) -> str:
    """Every value of the last `days` days (reported figures: every period) as CSV text.

    For one unit or a group: the rows of its units only (province-wide figures left out).
    UTF-8 with a byte-order mark so that spreadsheet programs read the diacritics right.
    """
    since = today - dt.timedelta(days=days - 1)
    names = unit_names(units, lang)
    buf = io.StringIO()
    buf.write("\ufeff")
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(EXPORT_COLUMNS)
    kpis = {k.id: k for k in catalogue.kpis}
    fixed = {k.id: (k.name.get(lang), k.group, unit_of(k, lang),
                    "true" if k.higher_is_better else "false") for k in catalogue.kpis}
    province = t("kpi.province_total", lang)
    # With 99 units the same KPI and day repeat ~100 times: work out each goal once.
    goals: dict[tuple[str, str, dt.date], tuple[str, float | None, str, str, str]] = {}
    rows = []
    for v in values_since(conn, list(kpis), since,
                          unit_ids=None if area.is_province else area.unit_ids):
        kpi = kpis[v.kpi_id]
        name, group, unit, higher = fixed[v.kpi_id]
        key = (v.kpi_id, v.period, v.period_start)
        known = goals.get(key)
        if known is None:  # the target and goal of the figure's own period
            when = when_of(v)
            own = kpi.target_for(v.period_start, when)
            goal = goal_at(kpi, when, v.period_start)
            known = goals[key] = (_plain(goal), goal, v.period_start.isoformat(),
                                  _plain(own.value) if own else "",
                                  own.due.isoformat() if own else "")
        goal_text, goal, start, target, due = known
        rows.append([
            v.kpi_id, name, group, v.unit_id,
            names.get(v.unit_id, "") if v.unit_id else province,
            v.breakdown, v.period, start, _plain(v.value), unit,
            _plain(v.numerator), _plain(v.denominator), target, due,
            goal_text,
            "" if v.breakdown else "none" if v.value is None else status_for_goal(kpi, v.value, goal),
            higher, v.source, v.note or "",
        ])
    writer.writerows(rows)
    return buf.getvalue()


def _plain(x: float | None) -> str:
    if x is None:
        return ""
    return f"{x:.6g}" if x != int(x) else str(int(x))


def local_today(tz: str, now: dt.datetime | None = None) -> dt.date:
    return (now or dt.datetime.now(dt.UTC)).astimezone(ZoneInfo(tz)).date()
