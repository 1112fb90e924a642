"""Natural-disaster risk levels in the style of Decision 18/2021/QĐ-TTg (pure functions).

Levels 1–5 with fixed colours; 0 means no level is reached. The thresholds (flood bands
against each station's alarm levels I/II/III, rain bands over 1/12/24 hours, the uplift for
combined hazards) are data passed in by the caller, never values in this module: the
province's own values belong in its configuration.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ioc.palette import RISK_LEVEL_COLOURS


@dataclass(frozen=True)
class RiskLevel:
    level: int
    name_vi: str
    name_en: str
    colour_vi: str
    colour_en: str
    hex: str


RISK_LEVELS: Mapping[int, RiskLevel] = {
    0: RiskLevel(0, "Không có rủi ro", "No risk level", "không màu", "none",
                 RISK_LEVEL_COLOURS[0]),
    1: RiskLevel(1, "Cấp 1 – rủi ro thấp", "Level 1 – low", "xanh dương nhạt", "light blue",
                 RISK_LEVEL_COLOURS[1]),
    2: RiskLevel(2, "Cấp 2 – rủi ro trung bình", "Level 2 – medium", "vàng nhạt",
                 "light yellow", RISK_LEVEL_COLOURS[2]),
    3: RiskLevel(3, "Cấp 3 – rủi ro lớn", "Level 3 – high", "da cam", "orange",
                 RISK_LEVEL_COLOURS[3]),
    4: RiskLevel(4, "Cấp 4 – rủi ro rất lớn", "Level 4 – very high", "đỏ", "red",
                 RISK_LEVEL_COLOURS[4]),
    5: RiskLevel(5, "Cấp 5 – thảm họa", "Level 5 – catastrophe", "tím", "purple",
                 RISK_LEVEL_COLOURS[5]),
}
MAX_LEVEL = 5


def risk_level(level: int) -> RiskLevel:
    return RISK_LEVELS[max(0, min(MAX_LEVEL, int(level)))]


# -- floods: a station's water level against its alarm levels ------------------------------------
_REFERENCE = re.compile(r"^\s*(I{1,3}|historical)\s*(?:([+-])\s*(\d+(?:\.\d+)?)\s*m?)?\s*$")


@dataclass(frozen=True)
class FloodBand:
    """From `reference` (+ `offset_m`) upwards, the flood risk is at least `level`.

    `reference` is an alarm level "I", "II", "III" or "historical" (the station's highest
    recorded flood, from its metadata `historical_max_m`).
    """

    reference: str
    offset_m: float
    level: int

    @classmethod
    def parse(cls, at: str, level: int) -> FloodBand:
        """`at` like "II", "III+1.0", "III + 0.5 m", "historical"."""
        m = _REFERENCE.match(at)
        if m is None:
            raise ValueError(f"flood band {at!r}: expected I, II, III or historical, "
                             "optionally followed by +/- metres (e.g. 'III+1.0')")
        offset = float(m[3]) if m[3] else 0.0
        return cls(m[1], -offset if m[2] == "-" else offset, int(level))

    def threshold(self, alarm: Sequence[float], historical_max_m: float | None) -> float | None:
        if self.reference == "historical":
            return None if historical_max_m is None else historical_max_m + self.offset_m
        return alarm[len(self.reference) - 1] + self.offset_m


def flood_level(water_level_m: float, alarm: Sequence[float], bands: Sequence[FloodBand],
                historical_max_m: float | None = None) -> int:
    """Flood risk level at one station: the highest band whose threshold is reached.

    `alarm` is the station's (I, II, III) in metres. Bands whose reference the station
    lacks (no historical maximum) are skipped.
    """
    level = 0
    for band in bands:
        t = band.threshold(alarm, historical_max_m)
        if t is not None and water_level_m >= t:
            level = max(level, band.level)
    return level


# -- rain --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class RainBand:
    """Rain of at least `min_mm` within `window_h` hours gives at least `level`.

    `antecedent_min_mm`, when set, also requires that much rain in the `antecedent_h` hours
    before the window (Decision 18's "after 1–2 days of earlier rain" for flash floods and
    landslides).
    """

    window_h: int
    min_mm: float
    level: int
    antecedent_min_mm: float | None = None


def rain_level(totals_mm: Mapping[int, float], bands: Sequence[RainBand],
               antecedent_mm: float | None = None) -> int:
    """The highest band reached by the rain totals (window hours -> mm)."""
    level = 0
    for band in bands:
        total = totals_mm.get(band.window_h)
        if total is None or total < band.min_mm:
            continue
        if band.antecedent_min_mm is not None and (
            antecedent_mm is None or antecedent_mm < band.antecedent_min_mm
        ):
            continue
        level = max(level, band.level)
    return level


def rain_level_with_hysteresis(totals_mm: Mapping[int, float], bands: Sequence[RainBand],
                               current: int, hysteresis_ratio: float,
                               antecedent_mm: float | None = None) -> int:
    """Like `rain_level`, but a level already reached is kept until every total is more
    than `hysteresis_ratio` below what that level needs."""
    raw = rain_level(totals_mm, bands, antecedent_mm)
    if raw >= current:
        return raw
    eased = [
        RainBand(b.window_h, b.min_mm * (1 - hysteresis_ratio), b.level,
                 None if b.antecedent_min_mm is None
                 else b.antecedent_min_mm * (1 - hysteresis_ratio))
        for b in bands
    ]
    held = rain_level(totals_mm, eased, antecedent_mm)
    return max(raw, min(current, held))


# -- combining hazards -------------------------------------------------------------------------
@dataclass(frozen=True)
class Uplift:
    """Decision 18: hazards that happen together or in sequence may raise the level by one,
    or by two where serious damage is likely; never above 5.

    Here: two or more hazards at `combined_min_level` or more raise the level by one; two or
    more at `serious_min_level` or more raise it by two.
    """

    combined_min_level: int = 1
    serious_min_level: int = 3
    enabled: bool = True


@dataclass(frozen=True)
class UnitLevel:
    level: int
    base_level: int
    uplift: int
    hazards: Mapping[str, int] = field(default_factory=dict)

    @property
    def risk(self) -> RiskLevel:
        return risk_level(self.level)


def combine(hazards: Mapping[str, int], uplift: Uplift = Uplift()) -> UnitLevel:
    """One level from the levels of each hazard (flood, heavy rain, flash flood, ...)."""
    active = {k: int(v) for k, v in hazards.items() if v and v > 0}
    base = max(active.values(), default=0)
    extra = 0
    if uplift.enabled and base > 0:
        levels = sorted(active.values(), reverse=True)
        if len(levels) >= 2 and levels[1] >= uplift.serious_min_level:
            extra = 2
        elif len(levels) >= 2 and levels[1] >= uplift.combined_min_level:
            extra = 1
    level = min(MAX_LEVEL, base + extra)
    return UnitLevel(level, base, level - base, active)


@dataclass(frozen=True)
class Observation:
    """One device's level for one hazard in the unit it lies in, and why."""

    unit_id: str
    hazard: str
    level: int
    basis: Mapping[str, Any] = field(default_factory=dict)


def levels_by_unit(observations: Iterable[Observation], units: Iterable[str],
                   uplift: Uplift = Uplift()) -> dict[str, tuple[UnitLevel, dict]]:
    """Each unit's level (Decision 18/2021: the worst device per hazard, then `combine`).

    Every unit in `units` gets a level (0 when nothing is observed there); a unit's level
    comes only from devices in that unit. Returns unit_id -> (level, hazard -> basis); of equal
    levels for a hazard the first observation is kept as the basis.
    """
    hazards: dict[str, dict[str, int]] = {u: {} for u in units}
    basis: dict[str, dict[str, Any]] = {u: {} for u in hazards}
    for o in observations:
        mine = hazards.setdefault(o.unit_id, {})
        if o.level > mine.get(o.hazard, 0):
            mine[o.hazard] = o.level
            basis.setdefault(o.unit_id, {})[o.hazard] = dict(o.basis)
    return {u: (combine(h, uplift), basis.get(u, {})) for u, h in hazards.items()}
