"""River water levels: seasonal base, delayed response to showers, and the scenario's flood wave."""

from __future__ import annotations

import math
import random
from bisect import bisect_right
from collections.abc import Iterator
from functools import lru_cache

from sensors_sim.emissions import AR1, Reading, report_times
from sensors_sim.fleet import WaterLevelStation
from sensors_sim.plan import Plan
from sensors_sim.simtime import Calendar, hann
from sensors_sim.weather import RainField

# How much of the rainy-season rise applies in each month.
WET_SEASON = (0.0, 0.0, 0.0, 0.15, 0.5, 0.9, 1.0, 1.0, 0.8, 0.45, 0.15, 0.0)
SHOWER_GAIN_M = 0.3  # metres of rise per mm/h of sustained rain over the whole catchment
KERNEL_SHAPE = 3.0  # gamma unit hydrograph
GRID_S = 120.0


def unit_hydrograph(t_h: float, lag_h: float, spread_h: float) -> float:
    """Response at `t_h` hours after a pulse of rain: a gamma curve starting after the lag."""
    x = t_h - lag_h
    if x <= 0:
        return 0.0
    theta = spread_h / 2
    return x ** (KERNEL_SHAPE - 1) * math.exp(-x / theta) / (math.gamma(KERNEL_SHAPE) * theta**3)


@lru_cache(maxsize=256)
def _hourly_kernel(lag_h: float, spread_h: float) -> tuple[float, ...]:
    raw = [unit_hydrograph(k + 0.5, lag_h, spread_h) for k in range(96)]
    total = sum(raw) or 1.0
    return tuple(v / total for v in raw)


class FloodWave:
    """The storm's wave at one station: the storm's rain shape routed through the station's
    unit hydrograph, scaled so the crest is `crest_m` above the base level."""

    def __init__(self, station: WaterLevelStation, plan: Plan, base_at) -> None:
        storm = plan.storm
        t0, t1 = plan.storm_window()  # type: ignore[misc]
        n_rain = math.ceil((t1 - t0) / GRID_S)
        rain = [hann((j + 0.5) / n_rain) for j in range(n_rain)]  # the storm's shape
        tail_h = station.response_lag_h + 12 * station.response_spread_h + 2
        n = n_rain + math.ceil(tail_h * 3600 / GRID_S)
        kernel = [unit_hydrograph(i * GRID_S / 3600, station.response_lag_h,
                                  station.response_spread_h) for i in range(n)]
        wave = [sum(rain[j] * kernel[i - j] for j in range(min(i + 1, n_rain))) for i in range(n)]
        peak_i = max(range(n), key=wave.__getitem__)
        self.t0 = t0
        self.times = [t0 + i * GRID_S for i in range(n)]
        self.peak_ts = self.times[peak_i]
        crest = station.alarm_levels.III + storm.peak_above_iii_m - base_at(self.peak_ts)
        self.values = [crest * w / wave[peak_i] for w in wave]

    def at(self, ts: float) -> float:
        if ts <= self.t0 or ts >= self.times[-1]:
            return 0.0
        i = bisect_right(self.times, ts) - 1
        frac = (ts - self.times[i]) / GRID_S
        return self.values[i] * (1 - frac) + self.values[i + 1] * frac


class WaterLevelModel:
    """A hydrological station reporting water_level_m (metres above its datum, 1 cm steps)."""

    def __init__(self, device: WaterLevelStation, interval: float, rng: random.Random,
                 rain: RainField, plan: Plan, calendar: Calendar) -> None:
        self.d, self.interval, self.rng, self.rain, self.cal = device, interval, rng, rain, calendar
        self.kernel = _hourly_kernel(device.response_lag_h, device.response_spread_h)
        self.slow = AR1(rng, 0.03, 6 * 3600)
        self.wave = FloodWave(device, plan, self.base_at) if device.id in plan.flood_stations \
            else None
        self.last: float | None = None

    def base_at(self, ts: float) -> float:
        month = self.cal.at(ts).month
        return self.d.normal_level_m + self.d.wet_season_rise_m * WET_SEASON[month - 1]

    def _basin_showers(self, hour_index: int) -> float:
        units = self.d.catchment
        return sum(self.rain.shower(d, hour_index) for d in units) / len(units)

    def _shower_response(self, ts: float) -> float:
        """Delayed response to ordinary showers, softly capped 0.3 m below alarm level I."""
        h = math.floor(ts / 3600)
        frac = ts / 3600 - h

        def at_hour(hour: int) -> float:
            return sum(self._basin_showers(hour - k) * w for k, w in enumerate(self.kernel) if w)

        raw = SHOWER_GAIN_M * (at_hour(h) * (1 - frac) + at_hour(h + 1) * frac)
        cap = self.d.alarm_levels.I - 0.3 - self.base_at(ts)
        return cap * math.tanh(raw / cap)

    def level(self, ts: float) -> float:
        level = self.base_at(ts) + self._shower_response(ts) + self.slow.at(ts)
        level += self.rng.gauss(0, 0.004)
        if self.wave:
            level += self.wave.at(ts)
            # on the rising limb a gauge reading never falls back (noise must not make the
            # river look as if it dropped below an alarm level it has already passed)
            if self.last is not None and self.wave.t0 <= ts <= self.wave.peak_ts:
                level = max(level, self.last)
        self.last = level
        return level

    def emissions(self, first: float) -> Iterator[Reading]:
        for ts in report_times(first, self.interval, self.rng):
            yield Reading(ts, {"water_level_m": round(self.level(ts), 2)})
