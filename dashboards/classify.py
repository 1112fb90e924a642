"""Which class (and colour) a device's latest values put it in, per map layer (pure)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ioc import palette
from ioc.domain import aqi as aqi_scale
from ioc.domain.water_level import AlarmLevels, alarm_level

# Shared by every device layer: no value yet, or silent for too long.
NO_DATA = "#4a5866"
SILENT = "#2f3a46"
# The default `device_silent` rule (alerts/rules/default.yaml): silent after 3 missed reports,
# and never before 2 minutes.
SILENT_AFTER_INTERVALS = 3
SILENT_AT_LEAST_S = 120

# Natural-disaster risk levels 1..5 in the colours of Decision 18/2021/QĐ-TTg (ioc.domain.disaster_levels);
# level 0 (no declared risk) stays almost transparent over the dark map.
DISASTER_LEVEL_COLOURS = (
    "rgba(255,255,255,0.03)",
    *palette.RISK_LEVEL_COLOURS[1:],
)

# VN_AQI classes (ioc.domain.aqi, Decision 1459/QĐ-TCMT): upper bound, key, colour.
_AQI_KEYS = {1: "good", 2: "moderate", 3: "poor", 4: "bad", 5: "very_bad", 6: "hazardous"}
AQI_CLASSES = tuple((c.high, _AQI_KEYS[c.level], c.hex) for c in aqi_scale.CATEGORIES)

WATER_COLOURS = palette.WATER_LEVEL_COLOURS  # below I, at I, II, III (ioc.palette)

# Rain in the last 24 hours (Vietnamese rain classes: vừa 16-50 mm, to 51-100, rất to > 100).
RAIN_CLASSES = (
    (0.5, "dry", "#5d7a96"),
    (16, "light", "#7fc4ff"),
    (50, "moderate", "#2f8bff"),
    (100, "heavy", "#3f4bff"),
    (float("inf"), "very_heavy", "#c43bff"),
)

# Camera incident labels that need someone now (red) versus the rest (amber).
SERIOUS_INCIDENTS = frozenset({"fire", "smoke", "fight", "accident", "intrusion", "wanted_plate"})
CAMERA_COLOURS = {"clear": "#8fb3d9", "incident": "#ffb020", "serious": "#ff2d55"}

OCCUPANCY_CLASSES = (
    (0.7, "low", "#3ddc97"),
    (0.9, "busy", "#ffd21f"),
    (1.0, "near_full", "#ff8a00"),
    (float("inf"), "over", "#ff2d2d"),
)

LANDSLIDE_COLOURS = {"normal": "#b08968", "watch": "#ffb020", "warning": "#ff2d2d"}
OTHER_COLOUR = "#9aa7b4"


@dataclass(frozen=True)
class Classed:
    """A device's class on its layer: a key for the legend and a colour for the marker."""

    key: str
    colour: str


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def live_aqi(values: Mapping[str, Any]) -> int | None:
    """An indicative VN_AQI from a station's newest concentrations (needs PM2.5 or PM10).

    Only until the alerts worker has the hourly index (NowCast over 12 hours) of the
    station: the map prefers that one.
    """
    if _number(values.get("pm25")) is None and _number(values.get("pm10")) is None:
        return None
    subs = [
        s
        for metric in aqi_scale.POLLUTANTS
        if (c := _number(values.get(metric))) is not None
        and c >= 0
        and (s := aqi_scale.vn_sub_index(metric, c)) is not None
    ]
    return max(subs) if subs else None


def aqi_class(aqi: int | None) -> Classed:
    if aqi is None:
        return Classed("no_data", NO_DATA)
    for upper, key, colour in AQI_CLASSES:
        if aqi <= upper:
            return Classed(key, colour)
    return Classed("hazardous", AQI_CLASSES[-1][2])


def alarm_levels_of(metadata: Mapping[str, Any]) -> AlarmLevels | None:
    try:
        return AlarmLevels.from_metadata(metadata)
    except (ValueError, TypeError):
        return None


def water_class(level_m: float | None, levels: AlarmLevels | None) -> tuple[Classed, int]:
    """(class, alarm level 0..3) of a water level against the station's alarm levels."""
    if level_m is None:
        return Classed("no_data", NO_DATA), 0
    if levels is None:
        return Classed("level_0", WATER_COLOURS[0]), 0
    level = alarm_level(level_m, levels)
    return Classed(f"level_{level}", WATER_COLOURS[level]), level


def rain_class(mm_24h: float | None) -> Classed:
    if mm_24h is None:
        return Classed("no_data", NO_DATA)
    for upper, key, colour in RAIN_CLASSES:
        if mm_24h < upper:
            return Classed(key, colour)
    return Classed("very_heavy", RAIN_CLASSES[-1][2])


def camera_class(incident_label: str | None) -> Classed:
    if incident_label is None:
        return Classed("clear", CAMERA_COLOURS["clear"])
    if incident_label in SERIOUS_INCIDENTS:
        return Classed("serious", CAMERA_COLOURS["serious"])
    return Classed("incident", CAMERA_COLOURS["incident"])


def occupancy_class(
    occupancy: float | None, capacity: float | None
) -> tuple[Classed, float | None]:
    """(class, occupancy / capacity) of a tourist site."""
    if occupancy is None or not capacity or capacity <= 0:
        return Classed("no_data", NO_DATA), None
    ratio = occupancy / capacity
    for upper, key, colour in OCCUPANCY_CLASSES:
        if ratio < upper:
            return Classed(key, colour), ratio
    return Classed("over", OCCUPANCY_CLASSES[-1][2]), ratio


def landslide_class(values: Mapping[str, Any], warning: Mapping[str, Any] | None) -> Classed:
    """`warning` when any metric reaches its threshold, `watch` past 80 % of one."""
    thresholds = {"soil_moisture_pct": 90.0, "tilt_deg": 1.5, "displacement_mm": 20.0}
    for name, value in (warning or {}).items():
        if name in thresholds and _number(value) is not None:
            thresholds[name] = float(value)
    ratios = [
        v / limit
        for name, limit in thresholds.items()
        if (v := _number(values.get(name))) is not None and limit > 0
    ]
    if not ratios:
        return Classed("no_data", NO_DATA)
    top = max(ratios)
    if top >= 1:
        return Classed("warning", LANDSLIDE_COLOURS["warning"])
    if top >= 0.8:
        return Classed("watch", LANDSLIDE_COLOURS["watch"])
    return Classed("normal", LANDSLIDE_COLOURS["normal"])


def is_silent(last_seen: float | None, expected_interval_s: float, now: float) -> bool:
    """Heard from before, but not for SILENT_AFTER_INTERVALS report intervals (and at least
    SILENT_AT_LEAST_S), as the default silence rule decides."""
    if last_seen is None:
        return False
    return now - last_seen > max(SILENT_AT_LEAST_S,
                                 SILENT_AFTER_INTERVALS * max(1.0, expected_interval_s))


# Alert severities (CAP words) -> colour; the same on every page.
SEVERITY_COLOURS = {
    "info": "#6b8aa6",
    "minor": "#4aa8ff",
    "moderate": "#ffd21f",
    "severe": "#ff8a00",
    "extreme": "#ff2d2d",
}
SEVERITIES = ("extreme", "severe", "moderate", "minor", "info")


def disaster_level_colour(level: int) -> str:
    return DISASTER_LEVEL_COLOURS[max(0, min(5, int(level)))]
