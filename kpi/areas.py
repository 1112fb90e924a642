"""The area a KPI figure speaks of: the province, one unit, or a group of units (pure).

The leadership page filters by area: `?area=` empty (the province), one unit id
(`?area=02647`), several ids separated by commas, or a named group (`?area=g:former-10`, e.g.
the communes and wards of the former Lào Cai province). `parse_area` turns that text into an
`Area`; `area_param` writes it back (so the link can be shared).

A group's figure is made from its units' stored figures by `combine`, by the KPI's rule in
`COMBINE`: counts add up; shares and means are the sum of the numerators over the sum of the
denominators (never the mean of the units' percentages); a median cannot be made from the
units' medians, and a figure of a unit that was stored without its counts cannot be weighed:
then there is no group figure, and the page says why rather than showing a wrong number.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

from kpi.store import PROVINCE

AreaKind = Literal["province", "unit", "group"]
Rule = Literal["sum", "ratio", "mean", "none"]
GROUP_PREFIX = "g:"
MAX_UNITS = 200  # a shared link with more ids than the province has units is refused

# How a group's figure is made from its units' figures (KPI id -> rule). A KPI not named here
# is not combined ("none"): a group shows no figure for it rather than a guessed one.
COMBINE: dict[str, Rule] = {
    "aqi_today": "mean",  # numerator: sum of the stations' AQI; denominator: stations
    "aqi_good_share": "ratio",
    "incidents_today": "sum",
    "incidents_7d": "sum",
    "ack_median_min": "none",  # a median of medians is not the median
    "incidents_verified_pct": "ratio",
    "flood_alarms_active": "sum",
    "visitors_today": "sum",
    "visitors_vs_last_year_pct": "ratio",
    "devices_online_pct": "ratio",
    "data_complete_pct": "ratio",
    "data_live_pct": "ratio",
    "data_clean_pct": "ratio",
    "devices_silent_long": "sum",
    "egov_dossiers_online_pct": "ratio",
}


class AreaError(ValueError):
    """An `area` text that names no unit or group; the message says which part."""


@dataclass(frozen=True)
class UnitGroup:
    """A named group of units (e.g. the units of a former province)."""

    id: str
    name_vi: str
    name_en: str
    unit_ids: tuple[str, ...]

    def name(self, lang: str) -> str:
        return self.name_en if lang == "en" and self.name_en else self.name_vi


@dataclass(frozen=True)
class Area:
    """What the figures are of: the province, one unit, or a group of units."""

    kind: AreaKind
    unit_ids: tuple[str, ...] = ()
    group: UnitGroup | None = None

    @property
    def is_province(self) -> bool:
        return self.kind == "province"

    @property
    def unit_id(self) -> str:
        """The kpi_values.unit_id of a province or one-unit area ('' for the province)."""
        if self.kind == "group":
            raise ValueError("a group of units has no single unit_id")
        return self.unit_ids[0] if self.kind == "unit" else PROVINCE

    def includes(self, unit_id: str) -> bool:
        return self.is_province or unit_id in self.unit_ids


PROVINCE_AREA = Area("province")


def parse_area(text: str | None, unit_ids: Iterable[str],
               groups: Sequence[UnitGroup] = ()) -> Area:
    """`''`/`all` -> the province; `02647` -> that unit; `a,b` -> a group; `g:ID` -> a named group.

    Unknown ids raise AreaError (a shared link with a typo should say so, not show the
    province as if it were the unit asked for). Duplicates are dropped; the order is kept.
    """
    text = (text or "").strip()
    if text in ("", "all"):
        return PROVINCE_AREA
    if text.startswith(GROUP_PREFIX):
        wanted = text[len(GROUP_PREFIX):]
        for group in groups:
            if group.id == wanted:
                return Area("group", group.unit_ids, group)
        raise AreaError(f"unknown group {wanted!r}; known: {', '.join(g.id for g in groups)}")
    known = set(unit_ids)
    ids: list[str] = []
    for part in text.split(","):
        part = part.strip()
        if not part or part in ids:
            continue
        if part not in known:
            raise AreaError(f"unknown unit {part!r}")
        ids.append(part)
    if not ids:
        return PROVINCE_AREA
    if len(ids) > MAX_UNITS:
        raise AreaError(f"{len(ids)} units; at most {MAX_UNITS}")
    return Area("unit", (ids[0],)) if len(ids) == 1 else Area("group", tuple(ids))


def area_param(area: Area) -> str:
    """The `area` query value that `parse_area` reads back as `area` ('' for the province)."""
    if area.is_province:
        return ""
    if area.group is not None:
        return GROUP_PREFIX + area.group.id
    return ",".join(area.unit_ids)


def area_from_choice(choice: Sequence[str] | str | None, groups: Sequence[UnitGroup],
                     unit_ids: Iterable[str]) -> Area:
    """The page's selector value (a list of unit ids and/or `g:ID`, or one string) as an Area.

    A named group chosen together with units stands for its units plus those units.
    """
    if choice is None:
        return PROVINCE_AREA
    items = [choice] if isinstance(choice, str) else list(choice)
    items = [i for i in items if i and i != "all"]
    if len(items) == 1:
        return parse_area(items[0], unit_ids, groups)
    ids: list[str] = []
    for item in items:
        for u in parse_area(item, unit_ids, groups).unit_ids:
            if u not in ids:
                ids.append(u)
    return parse_area(",".join(ids), unit_ids, groups)


def choice_of(area: Area) -> list[str]:
    """The selector value that shows `area` (the inverse of `area_from_choice`)."""
    if area.is_province:
        return []
    if area.group is not None:
        return [GROUP_PREFIX + area.group.id]
    return list(area.unit_ids)


# -- combining the units' figures -----------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Sums:
    """The units' figures of one KPI, breakdown and period, summed (one SQL GROUP BY row)."""

    units: int  # units with a figure
    value: float  # sum of the values
    numerator: float | None  # sum of the numerators (None when no unit has one)
    denominator: float | None
    with_counts: int  # units whose figure has both numerator and denominator


@dataclass(frozen=True, slots=True)
class Combined:
    value: float | None  # None: no honest group figure (see `reason`)
    numerator: float | None
    denominator: float | None
    reason: str = ""  # "median" | "no_counts" | "" when value is set


def rule_of(kpi_id: str) -> Rule:
    return COMBINE.get(kpi_id, "none")


def combine(kpi_id: str, s: Sums) -> Combined:
    """The group's figure from the sums of its units' figures, by the KPI's rule."""
    rule = rule_of(kpi_id)
    if rule == "none":
        return Combined(None, None, None, "median")
    if rule == "sum":
        return Combined(s.value, s.numerator, s.denominator)
    # ratio and mean weigh each unit by its denominator: every unit needs its counts
    if s.with_counts < s.units or not s.denominator:
        return Combined(None, s.numerator, s.denominator, "no_counts")
    scale = 100.0 if rule == "ratio" else 1.0  # every "ratio" KPI is a percentage
    return Combined(scale * (s.numerator or 0.0) / s.denominator, s.numerator, s.denominator)


def sums_of(values: Iterable[tuple[float, float | None, float | None]]) -> Sums:
    """Sums of (value, numerator, denominator) triples, as the SQL of the queries makes them."""
    n = with_counts = 0
    total = 0.0
    num: float | None = None
    den: float | None = None
    for value, numerator, denominator in values:
        n += 1
        total += value
        if numerator is not None:
            num = (num or 0.0) + numerator
        if denominator is not None:
            den = (den or 0.0) + denominator
        if numerator is not None and denominator is not None:
            with_counts += 1
    return Sums(n, total, num, den, with_counts)


def groups_from_former(former_units: Mapping[str, Iterable[str]],
                       names: Mapping[str, tuple[str, str]]) -> list[UnitGroup]:
    """Named groups `former-CODE` from {former province code: unit ids} and their names."""
    out = []
    for code, ids in sorted(former_units.items()):
        name_vi, name_en = names.get(code, (code, code))
        out.append(UnitGroup(f"former-{code}", name_vi, name_en, tuple(sorted(set(ids)))))
    return out
