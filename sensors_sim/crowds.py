"""Visitors and guests: arrivals by hour, weekday, month and festival; departures by dwell time."""

from __future__ import annotations

import math
import random
from collections.abc import Iterator

from sensors_sim.emissions import Reading, binomial, poisson, report_times
from sensors_sim.fleet import Accommodation, CrowdProfile, Fleet, VisitorCounter
from sensors_sim.plan import Plan
from sensors_sim.simtime import Calendar, shape_at

CLOSED_DWELL_MIN = 10.0  # when arrivals stop (site closed) people leave within minutes


class ArrivalRate:
    """Expected arrivals per second under a crowd profile, for `daily` arrivals on a normal day."""

    def __init__(self, profile: CrowdProfile, fleet: Fleet, daily: float, calendar: Calendar):
        self.shape = fleet.hourly_shapes[profile.shape]
        self.per_weight = daily / sum(self.shape) / 3600
        self.profile, self.cal = profile, calendar

    def __call__(self, ts: float) -> float:
        local = self.cal.at(ts)
        return (
            self.per_weight
            * shape_at(self.shape, local.hour)
            * self.profile.weekday[local.weekday]
            * self.profile.month[local.month - 1]
        )


class VisitorCounterModel:
    """A gate counter: entries and exits since the previous report, and occupancy now."""

    def __init__(self, device: VisitorCounter, interval: float, rng: random.Random,
                 fleet: Fleet, plan: Plan, calendar: Calendar) -> None:
        self.d, self.interval, self.rng, self.plan = device, interval, rng, plan
        self.arrivals = ArrivalRate(fleet.crowd_profiles[device.profile], fleet,
                                    device.daily_visitors, calendar)
        self.festival = device.id in plan.festival_sites
        self.occupancy = 0

    def arrival_rate(self, ts: float) -> float:
        rate = self.arrivals(ts)
        if self.festival and self.plan.surge:
            level = self.plan.surge_level(ts)
            # the surge rate would hold `peak_occupancy_ratio` x capacity on site at steady state
            surge = self.plan.surge.peak_occupancy_ratio * self.d.capacity / (self.d.dwell_min * 60)
            rate = max(rate, level * surge)
        return rate

    def step(self, ts: float, dt_s: float) -> dict[str, float]:
        rate = self.arrival_rate(ts)
        entries = poisson(self.rng, rate * dt_s)
        dwell = self.d.dwell_min if rate > 1e-6 else CLOSED_DWELL_MIN
        exits = binomial(self.rng, self.occupancy, 1 - math.exp(-dt_s / (dwell * 60)))
        self.occupancy += entries - exits
        return {"entries": entries, "exits": exits, "occupancy": self.occupancy}

    def emissions(self, first: float) -> Iterator[Reading]:
        # start near the steady state of the hour instead of an empty site
        self.occupancy = poisson(self.rng, self.arrival_rate(first) * self.d.dwell_min * 60)
        prev = first - self.interval
        for ts in report_times(first, self.interval, self.rng):
            yield Reading(ts, self.step(ts, ts - prev))
            prev = ts


class AccommodationModel:
    """Check-ins reported by the lodging registry of a unit."""

    def __init__(self, device: Accommodation, interval: float, rng: random.Random,
                 fleet: Fleet, plan: Plan, calendar: Calendar) -> None:
        self.d, self.interval, self.rng, self.plan = device, interval, rng, plan
        self.arrivals = ArrivalRate(fleet.crowd_profiles[device.profile], fleet,
                                    device.daily_checkins, calendar)
        self.festival = device.unit_id in plan.festival_units

    def emissions(self, first: float) -> Iterator[Reading]:
        prev = first - self.interval
        for ts in report_times(first, self.interval, self.rng):
            rate = self.arrivals(ts)
            if self.festival and self.plan.surge:
                rate *= 1 + (self.plan.surge.checkin_factor - 1) * self.plan.surge_level(ts)
            yield Reading(ts, {"checkins": poisson(self.rng, rate * (ts - prev))})
            prev = ts
