"""Rain over the units, and weather-station signals (temperature, humidity, wind, pressure)."""

from __future__ import annotations

import math
import random
from collections.abc import Iterator
from functools import lru_cache

from sensors_sim.emissions import AR1, Reading, report_times
from sensors_sim.fleet import RainGauge, WeatherStation
from sensors_sim.plan import Plan
from sensors_sim.simtime import Calendar, unit_noise

# Chance that a unit gets a shower in a given hour, by month (northern-mountain climate:
# rainy season May-September), and the mean shower intensity in mm/h.
SHOWER_CHANCE = (0.03, 0.04, 0.05, 0.09, 0.16, 0.22, 0.24, 0.24, 0.16, 0.09, 0.05, 0.03)
SHOWER_MEAN_MM_H = (1.0, 1.0, 1.5, 2.5, 3.5, 4.0, 4.0, 4.0, 3.5, 2.5, 1.5, 1.0)
# Mean air temperature at sea level by month for the province (°C); lapse rate 6.5 °C/km.
SEA_LEVEL_TEMP = (16.8, 18.4, 21.6, 25.0, 27.8, 28.9, 28.9, 28.6, 27.6, 25.0, 21.6, 18.0)
LAPSE_C_PER_M = 0.0065
WET_MONTHS = (5, 6, 7, 8, 9)


class RainField:
    """Unit rain rates: random hourly showers plus the scenario's storm. Stateless."""

    def __init__(self, seed: int, plan: Plan, calendar: Calendar) -> None:
        self.seed, self.plan, self.calendar = seed, plan, calendar
        self.shower = lru_cache(maxsize=65536)(self._shower)
        self.hourly = lru_cache(maxsize=65536)(self._hourly)

    def _shower(self, unit_id: str, hour_index: int) -> float:
        """Shower rate in mm/h over `unit_id` during one UTC hour."""
        mid = hour_index * 3600 + 1800
        if self.plan.showers_suppressed(unit_id, mid):
            return 0.0
        local = self.calendar.at(mid)
        chance = SHOWER_CHANCE[local.month - 1]
        if 13 <= local.hour < 21:  # afternoon convection
            chance *= 1.8
        elif 2 <= local.hour < 9:
            chance *= 0.6
        if unit_noise(self.seed, "shower", unit_id, hour_index) >= chance:
            return 0.0
        u = unit_noise(self.seed, "shower-mm", unit_id, hour_index)
        return min(40.0, -SHOWER_MEAN_MM_H[local.month - 1] * math.log(1 - u))

    def rate(self, unit_id: str, ts: float) -> float:
        """Rain rate in mm/h at `ts`."""
        return self.shower(unit_id, math.floor(ts / 3600)) + self.plan.storm_rate(unit_id, ts)

    def amount(self, unit_id: str, t1: float, t2: float) -> float:
        """Rain in mm fallen over `unit_id` between t1 and t2 (midpoint rule, 60 s steps)."""
        if t2 <= t1:
            return 0.0
        steps = max(1, math.ceil((t2 - t1) / 60))
        dt = (t2 - t1) / steps
        return sum(self.rate(unit_id, t1 + (i + 0.5) * dt) for i in range(steps)) * dt / 3600

    def _hourly(self, unit_id: str, hour_index: int) -> float:
        """Rain in mm over one whole UTC hour."""
        return self.amount(unit_id, hour_index * 3600, (hour_index + 1) * 3600)

    def antecedent(self, unit_id: str, ts: float, decay_h: float = 24.0) -> float:
        """Antecedent precipitation index (mm): past rain, each hour decayed by its age."""
        h = math.floor(ts / 3600)
        total = self.amount(unit_id, h * 3600, ts)
        for k in range(1, 97):
            total += self.hourly(unit_id, h - k) * math.exp(-k / decay_h)
        return total


class Climate:
    """Smooth weather of one place: what a perfect station there would read (plus AR noise)."""

    def __init__(self, rng: random.Random, elevation_m: float, unit_id: str, rain: RainField,
                 calendar: Calendar, wind_mean: float = 2.0) -> None:
        self.elev, self.unit_id, self.rain, self.cal = elevation_m, unit_id, rain, calendar
        self.wind_mean = wind_mean
        self.temp_noise = AR1(rng, 0.8, 3 * 3600)
        self.hum_noise = AR1(rng, 3.0, 2 * 3600)
        self.pres_noise = AR1(rng, 0.6, 6 * 3600)
        self.wind_noise = AR1(rng, 0.35, 1800)
        self.dir_noise = AR1(rng, 35.0, 3 * 3600)
        self.rng = rng

    def metrics(self, ts: float) -> dict[str, float]:
        local = self.cal.at(ts)
        rain = self.rain.rate(self.unit_id, ts)
        wet = local.month in WET_MONTHS
        day_phase = 2 * math.pi * (local.hour - 14.5) / 24
        amp = 3.5 if wet else 5.0
        temp = (
            _seasonal(SEA_LEVEL_TEMP, local.day_of_year)
            - LAPSE_C_PER_M * self.elev
            + amp * math.cos(day_phase)
            + self.temp_noise.at(ts)
            - min(4.0, 0.3 * rain)
        )
        humidity = (
            76 + (8 if wet else 0) + min(10.0, self.elev / 200)
            - 12 * math.cos(day_phase)
            + 15 * min(1.0, rain / 2)
            + self.hum_noise.at(ts)
        )
        doy_phase = 2 * math.pi * (local.day_of_year - 15) / 365
        pressure = (
            1012.5 * math.exp(-self.elev / 8434)
            + 3.5 * math.cos(doy_phase)
            + 1.2 * math.cos(4 * math.pi * (local.hour - 10) / 24)
            + self.pres_noise.at(ts)
            - 0.15 * min(rain, 40)
        )
        sun = max(0.0, math.sin(math.pi * (local.hour - 6) / 13)) if 6 < local.hour < 19 else 0.0
        wind = self.wind_mean * (0.7 + 0.6 * sun) * math.exp(self.wind_noise.at(ts))
        wind += 0.1 * min(rain, 40)
        prevailing = 135.0 if wet else 45.0  # south-east monsoon / north-east winter wind
        return {
            "temperature": round(temp, 1),
            "humidity": round(min(100.0, max(15.0, humidity)), 1),
            "wind_speed": round(max(0.0, wind), 1),
            "wind_dir": float(round(prevailing + self.dir_noise.at(ts)) % 360),
            "pressure": round(pressure, 1),
        }


def _seasonal(monthly: tuple[float, ...], day_of_year: int) -> float:
    """Monthly means interpolated to the day (each month's value at its middle)."""
    x = (day_of_year - 15.2) / 30.44
    i = math.floor(x)
    frac = x - i
    return monthly[i % 12] * (1 - frac) + monthly[(i + 1) % 12] * frac


class WeatherModel:
    """A weather station."""

    def __init__(self, device: WeatherStation, interval: float, rng: random.Random,
                 rain: RainField, calendar: Calendar) -> None:
        self.device, self.interval, self.rng = device, interval, rng
        self.climate = Climate(rng, device.elevation_m, device.unit_id, rain, calendar,
                               device.wind_mean)

    def emissions(self, first: float) -> Iterator[Reading]:
        for ts in report_times(first, self.interval, self.rng):
            yield Reading(ts, self.climate.metrics(ts))


class RainGaugeModel:
    """A tipping-bucket rain gauge: mm fallen since the previous report, 0.2 mm resolution."""

    def __init__(self, device: RainGauge, interval: float, rng: random.Random,
                 rain: RainField) -> None:
        self.device, self.interval, self.rng, self.rain = device, interval, rng, rain

    def emissions(self, first: float) -> Iterator[Reading]:
        prev = first - self.interval
        carry = 0.0  # water in the bucket that has not tipped yet
        for ts in report_times(first, self.interval, self.rng):
            fallen = self.rain.amount(self.device.unit_id, prev, ts)
            if fallen > 0:
                fallen *= self.device.orographic_factor * math.exp(self.rng.gauss(0, 0.15))
            carry += fallen
            tips = math.floor(carry / 0.2 + 1e-9)
            carry -= tips * 0.2
            prev = ts
            yield Reading(ts, {"rain_mm": round(tips * 0.2, 1)})
