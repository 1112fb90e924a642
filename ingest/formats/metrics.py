"""The metric table: names, units and physical ranges per device family (data, not code)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType


@dataclass(frozen=True, slots=True)
class MetricSpec:
    """What a metric's value may be. `unit` is stored with every reading of the metric."""

    unit: str
    minimum: float
    maximum: float
    integer: bool = False  # counts: the value must be a whole number
    senml_units: tuple[str, ...] = ()  # SenML `u`/`bu` spellings accepted for this metric
    value_type: str = "number"  # number | boolean | text | data (SenML v | vb | vs | vd)
    description: str = ""


def _count(description: str) -> MetricSpec:
    return MetricSpec("count", 0, 1_000_000, integer=True, senml_units=("count",),
                      description=description)


_UG = ("ug/m3",)

FAMILY_METRICS: Mapping[str, Mapping[str, MetricSpec]] = MappingProxyType({
    "environment": MappingProxyType({
        "pm25": MetricSpec("µg/m³", 0, 2000, senml_units=_UG, description="PM2.5"),
        "pm10": MetricSpec("µg/m³", 0, 6000, senml_units=_UG, description="PM10"),
        "o3": MetricSpec("µg/m³", 0, 2000, senml_units=_UG, description="ozone"),
        "no2": MetricSpec("µg/m³", 0, 10000, senml_units=_UG, description="nitrogen dioxide"),
        "so2": MetricSpec("µg/m³", 0, 10000, senml_units=_UG, description="sulphur dioxide"),
        "co": MetricSpec("µg/m³", 0, 200000, senml_units=_UG, description="carbon monoxide"),
        "temperature": MetricSpec("°C", -60, 70, senml_units=("Cel",),
                                  description="air temperature"),
        "humidity": MetricSpec("%", 0, 100, senml_units=("%RH",), description="relative humidity"),
        "wind_speed": MetricSpec("m/s", 0, 100, senml_units=("m/s",), description="wind speed"),
        "wind_dir": MetricSpec("deg", 0, 360, senml_units=("deg",),
                               description="wind direction, from north, clockwise"),
        "pressure": MetricSpec("hPa", 300, 1100, senml_units=("hPa",),
                               description="atmospheric pressure"),
        "noise": MetricSpec("dBA", 0, 200, senml_units=("dB", "dBA"),
                            description="A-weighted sound level"),
    }),
    "disaster": MappingProxyType({
        "rain_mm": MetricSpec("mm", 0, 2000, senml_units=("mm",),
                              description="rain fallen since the previous report"),
        "water_level_m": MetricSpec("m", -50, 500, senml_units=("m",),
                                    description="water level above the station datum"),
        "tilt_deg": MetricSpec("deg", -90, 90, senml_units=("deg",), description="tilt angle"),
        "soil_moisture_pct": MetricSpec("%", 0, 100, senml_units=("%",),
                                        description="volumetric soil moisture"),
        "displacement_mm": MetricSpec("mm", -100_000, 100_000, senml_units=("mm",),
                                      description="ground displacement"),
    }),
    "tourism": MappingProxyType({
        "entries": _count("entries since the previous report"),
        "exits": _count("exits since the previous report"),
        "occupancy": _count("people on site now"),
        "checkins": _count("accommodation check-ins since the previous report"),
    }),
    "camera": MappingProxyType({
        "vehicle_count": _count("vehicles in view"),
        "people_count": _count("people in view"),
    }),
})

FAMILIES: tuple[str, ...] = tuple(FAMILY_METRICS)

# SenML topics carry no family, so a SenML name may use any family's metric.
ALL_METRICS: Mapping[str, MetricSpec] = MappingProxyType(
    {name: spec for table in FAMILY_METRICS.values() for name, spec in table.items()}
)


def check_value(metric: str, spec: MetricSpec, value: float, path: str) -> str | None:
    """Why `value` is not a valid `metric` value, or None when it is."""
    if spec.integer and not float(value).is_integer():
        return f"{path}: {metric} must be a whole number, got {_fmt(value)}"
    if value < spec.minimum or value > spec.maximum:
        if spec.integer and value < 0:
            return f"{path}: {metric} is a count and cannot be negative, got {_fmt(value)}"
        return (f"{path}: {_fmt(value)} is outside the physical range of {metric} "
                f"[{_fmt(spec.minimum)}, {_fmt(spec.maximum)}] {spec.unit}")
    return None


def _fmt(x: float) -> str:
    return str(int(x)) if float(x).is_integer() and abs(x) < 1e15 else repr(float(x))
