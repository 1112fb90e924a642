"""What the leadership KPI page reads: kpi_values for the province, a unit or a group of
units, the units layer and its names, the named groups, and the trends' series.

The `load_*` functions run the page's queries (kpi_values and the units layer, index lookups
only; `bench/kpi.py` times exactly these). What they return becomes tiles and the unit table in
dashboards/kpi_view.py, figures in kpi_figures.py and the CSV in kpi_export.py.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

import psycopg

from dashboards.i18n import t
from kpi.areas import PROVINCE_AREA, Area, UnitGroup, groups_from_former, rule_of
from kpi.catalogue import Catalogue, Kpi
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
)

RANGES = (30, 90, 365)
DEFAULT_TRENDS = ("aqi_today", "incidents_today", "visitors_today", "devices_online_pct")


def unit_names(units: Mapping[str, Any] | None, lang: str) -> dict[str, str]:
    """unit id -> display name, from the units layer (GeoJSON FeatureCollection)."""
    out = {}
    for f in (units or {}).get("features", []):
        props = f.get("properties") or {}
        name = props.get("name_en") if lang == "en" and props.get("name_en") else props.get("name")
        out[str(props.get("id"))] = name or str(props.get("id"))
    return out


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


def unit_kpis(catalogue: Catalogue) -> list[Kpi]:
    return [k for k in catalogue.kpis if k.units]


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


def local_today(tz: str, now: dt.datetime | None = None) -> dt.date:
    return (now or dt.datetime.now(dt.UTC)).astimezone(ZoneInfo(tz)).date()
