"""Data quality as KPIs: "đúng, đủ, sạch, sống" (correct, complete, clean, live), pure.

The Ministry of Science and Technology's IOC guidance (1709/BKHCN-CĐSQG, May 2025) asks that
an IOC's data be correct, complete, clean and live. The IOC measures that of its own telemetry,
per local day, per unit and per source family, from one row per device and day
(`DeviceDay`, built by kpi.telemetry.quality_values from the hourly rollups, the device
registry and the dead letters):

- **đủ, complete** (`data_complete_pct`): messages received ÷ messages expected, where a device
  is expected to report once per `expected_interval_s` while it is registered; a device counts
  at most what it was expected to send (a chatty device does not hide a silent one). Messages
  are counted as the readings of the device's busiest metric in each hour.
- **sống, live** (`data_live_pct`): hours in which a device reported ÷ hours it was expected to
  report in (one per hour, or fewer for a device reporting less often): data that arrives in
  bursts after long gaps is complete but not live.
- **sạch, đúng, clean and correct** (`data_clean_pct`): valid readings ÷ all readings received,
  where invalid are the dead-lettered messages (unreadable, out of the physical range, from a
  device of another family) and readings of a stuck sensor: a continuous metric that has not
  changed at all for three hours with at least `STUCK_MIN_READINGS` readings in each.
- `devices_silent_long`: registered devices that sent nothing in the last 24 hours.

Cameras report events, not periodic readings, so they are left out (their health is the
`devices_online_pct` KPI and the silent-device alerts).
"""

from __future__ import annotations

import datetime as dt
import math
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

FAMILIES = ("environment", "disaster", "tourism")
QUALITY_KPIS = ("data_complete_pct", "data_live_pct", "data_clean_pct", "devices_silent_long")
# Metrics that change continuously: a value unchanged for hours means a stuck sensor. Counts,
# rain and slope sensors are left out (zero entries at night, no rain, no movement are normal).
STUCK_METRICS = ("pm25", "pm10", "o3", "no2", "so2", "co", "temperature", "humidity",
                 "pressure", "water_level_m")
STUCK_MIN_READINGS = 3
PROVINCE = ""
ALL_FAMILIES = ""


@dataclass(frozen=True, slots=True)
class DeviceDay:
    """What one registered device sent on one local day (or today so far)."""

    day: dt.date
    family: str
    unit: str | None
    interval_s: int
    seconds: float  # how long the device was registered within the day's window
    received: float  # messages: the busiest metric's readings, per hour, summed
    hours: int  # hours with at least one reading
    readings: float  # readings of every metric
    stuck: float  # readings of a stuck sensor
    dead: int  # dead-lettered messages of the device
    silent_long: bool  # nothing in the last 24 hours (and registered for that long)

    @property
    def expected(self) -> float:
        return max(0.0, self.seconds) / self.interval_s

    @property
    def expected_hours(self) -> float:
        hours = max(0.0, self.seconds) / 3600
        return min(math.ceil(hours - 1e-9), self.expected) if hours else 0.0


@dataclass(frozen=True, slots=True)
class Figure:
    kpi_id: str
    day: dt.date
    unit: str  # PROVINCE for the whole province
    family: str  # ALL_FAMILIES for every family
    value: float
    numerator: float | None
    denominator: float | None


class _Sums:
    __slots__ = ("complete", "expected", "hours", "expected_hours", "valid", "all", "silent",
                 "devices")

    def __init__(self) -> None:
        self.complete = self.expected = self.hours = self.expected_hours = 0.0
        self.valid = self.all = 0.0
        self.silent = self.devices = 0

    def add(self, d: DeviceDay) -> None:
        self.complete += min(d.received, d.expected)
        self.expected += d.expected
        self.hours += min(d.hours, d.expected_hours)
        self.expected_hours += d.expected_hours
        self.valid += max(0.0, d.readings - d.stuck)
        self.all += d.readings + d.dead
        self.silent += d.silent_long
        self.devices += 1


def figures(rows: Iterable[DeviceDay]) -> list[Figure]:
    """The quality KPIs per (day, unit or province, family or all), from device-days."""
    sums: dict[tuple[dt.date, str, str], _Sums] = defaultdict(_Sums)
    for d in rows:
        for unit in {PROVINCE, d.unit} if d.unit else {PROVINCE}:
            for family in (ALL_FAMILIES, d.family):
                sums[(d.day, unit, family)].add(d)
    out: list[Figure] = []
    for (day, unit, family), s in sorted(sums.items()):
        def fig(kpi_id: str, num: float, den: float, _k=(day, unit, family)) -> None:
            if den > 0:
                out.append(Figure(kpi_id, _k[0], _k[1], _k[2], 100 * num / den, num, den))

        fig("data_complete_pct", s.complete, s.expected)
        fig("data_live_pct", s.hours, s.expected_hours)
        fig("data_clean_pct", s.valid, s.all)
        out.append(Figure("devices_silent_long", day, unit, family, float(s.silent),
                          float(s.silent), float(s.devices)))
    return out
