"""Landslide sensors on slopes: soil moisture follows past rain; a soaked slope creeps and tilts."""

from __future__ import annotations

import math
import random
from collections.abc import Iterator

from sensors_sim.emissions import AR1, Reading, report_times
from sensors_sim.fleet import LandslideSensor
from sensors_sim.plan import Plan
from sensors_sim.weather import RainField

SATURATED_PCT = 97.0
WETTING_MM = 45.0  # antecedent rain that takes the soil ~63 % of the way to saturation
DEFAULT_CREEP_API_MM = 130.0
TILT_PER_MM = 0.06  # degrees of tilt per mm of displacement


class LandslideModel:
    """Reports soil_moisture_pct, tilt_deg and displacement_mm (cumulative since install)."""

    def __init__(self, device: LandslideSensor, interval: float, rng: random.Random,
                 rain: RainField, plan: Plan) -> None:
        self.d, self.interval, self.rng, self.rain = device, interval, rng, rain
        self.creep_api = plan.storm.landslide_api_mm if plan.storm else DEFAULT_CREEP_API_MM
        self.displacement = rng.uniform(0.5, 3.0)
        self.base_tilt = rng.uniform(0.02, 0.2)
        self.moisture_noise = AR1(rng, 0.8, 3 * 3600)

    def metrics(self, ts: float, dt_s: float) -> dict[str, float]:
        api = self.rain.antecedent(self.d.unit_id, ts)
        base = self.d.base_soil_moisture_pct
        moisture = base + (SATURATED_PCT - base) * (1 - math.exp(-api / WETTING_MM))
        moisture += self.moisture_noise.at(ts)
        # creep: a fraction of a millimetre a year when dry, millimetres an hour when soaked
        excess = max(0.0, api - self.creep_api)
        rate_mm_h = 1e-4 + self.d.susceptibility * (excess / 12) ** 1.5
        self.displacement += rate_mm_h * dt_s / 3600
        tilt = self.base_tilt + TILT_PER_MM * self.displacement
        return {
            "soil_moisture_pct": round(min(100.0, max(0.0, moisture)), 1),
            "tilt_deg": round(tilt + self.rng.gauss(0, 0.005), 3),
            "displacement_mm": round(self.displacement + self.rng.gauss(0, 0.05), 2),
        }

    def emissions(self, first: float) -> Iterator[Reading]:
        prev = first
        for ts in report_times(first, self.interval, self.rng):
            yield Reading(ts, self.metrics(ts, ts - prev))
            prev = ts
