"""Air-quality station signals: daily PM2.5 cycles, traffic gases, ozone, rain wash-out."""

from __future__ import annotations

import math
import random
from collections.abc import Iterator

from sensors_sim.emissions import AR1, Reading, report_times
from sensors_sim.fleet import AirQualityStation, Fleet
from sensors_sim.simtime import Calendar, shape_at
from sensors_sim.weather import Climate, RainField


class AirQualityModel:
    """PM2.5 = annual mean x month x daily cycle x slow noise, washed out by rain."""

    def __init__(self, device: AirQualityStation, interval: float, rng: random.Random,
                 fleet: Fleet, rain: RainField, calendar: Calendar) -> None:
        self.d, self.interval, self.rng, self.rain, self.cal = device, interval, rng, rain, calendar
        self.pm_shape = fleet.hourly_shapes[device.pm_shape]
        self.pm_norm = sum(self.pm_shape) / 24
        self.traffic_shape = fleet.hourly_shapes[device.traffic_shape]
        self.monthly = fleet.air_quality.monthly_pm_factor
        self.climate = Climate(rng, device.elevation_m, device.unit_id, rain, calendar)
        self.pm_noise = AR1(rng, 0.25, 6 * 3600)
        self.gas_noise = AR1(rng, 0.2, 2 * 3600)
        self.o3_noise = AR1(rng, 0.15, 4 * 3600)

    def metrics(self, ts: float) -> dict[str, float]:
        local = self.cal.at(ts)
        rain = self.rain.rate(self.d.unit_id, ts)
        washout = 1 / (1 + rain / 3)
        pm25 = (
            self.d.pm25_mean
            * self.monthly[local.month - 1]
            * shape_at(self.pm_shape, local.hour) / self.pm_norm
            * math.exp(self.pm_noise.at(ts))
            * washout
        )
        pm10 = pm25 * (1.6 + 0.1 * self.rng.gauss(0, 1))
        traffic = self.d.traffic * shape_at(self.traffic_shape, local.hour)
        gas = math.exp(self.gas_noise.at(ts))
        sun = max(0.0, math.sin(math.pi * (local.hour - 6) / 13)) if 6 < local.hour < 19 else 0.0
        weather = self.climate.metrics(ts)
        return {
            "pm25": round(pm25, 1),
            "pm10": round(max(pm25, pm10), 1),
            "no2": round((6 + 45 * traffic) * gas, 1),
            "co": round((350 + 1600 * traffic + 8 * pm25) * gas),
            "so2": round(self.d.so2_mean * (0.7 + 0.6 * traffic) * gas, 1),
            "o3": round((22 + 75 * sun * washout) * (1 + self.d.elevation_m / 4000)
                        * math.exp(self.o3_noise.at(ts)), 1),
            "temperature": weather["temperature"],
            "humidity": weather["humidity"],
        }

    def emissions(self, first: float) -> Iterator[Reading]:
        for ts in report_times(first, self.interval, self.rng):
            yield Reading(ts, self.metrics(ts))
