"""AI cameras: people and vehicles in view, tracked objects, and incidents by place and hour."""

from __future__ import annotations

import heapq
import itertools
import random
from collections.abc import Callable, Iterator

from sensors_sim.emissions import Emission, EventState, Reading, poisson, report_times
from sensors_sim.fleet import Camera, Fleet
from sensors_sim.plan import Plan
from sensors_sim.simtime import Calendar, rng_for, shape_at

ID_CHARS = "abcdefghijklmnopqrstuvwxyz0123456789"
PLATE_SERIES = "ABCDEFGHKLMNPSTUVXYZ"
# Registration codes seen on Lào Cai roads: mostly local (24), then neighbours and Hà Nội.
PLATE_CODES = (24,) * 8 + (29, 30, 21, 25, 20, 26, 88, 99, 15, 51)
INCIDENT_LABEL = {
    "fire": "fire", "smoke": "smoke", "fight": "person", "crowd": "person", "accident": "car",
    "intrusion": "person", "traffic_violation": "car", "wanted_plate": "car", "other": "person",
}
INCIDENT_DURATION_S = {
    "fire": (600, 1800), "smoke": (300, 900), "fight": (60, 240), "crowd": (600, 1200),
    "accident": (300, 1200), "intrusion": (30, 180), "traffic_violation": (10, 30),
    "other": (30, 120),
}
DETECTION_FLOOR = 0.15  # night-time share of the busiest hour's tracked objects


def random_plate(rng: random.Random, avoid: str | None = None) -> str:
    while True:
        plate = (f"{rng.choice(PLATE_CODES)}{rng.choice(PLATE_SERIES)}-"
                 f"{rng.randrange(1000):03d}.{rng.randrange(100):02d}")
        if plate != avoid:
            return plate


class CameraModel:
    """Merges the camera's sources (count reports, tracked objects, incidents, the scenario's
    scripted incidents and festival crowds) into one time-ordered stream of emissions."""

    def __init__(self, device: Camera, interval: float, seed: int, fleet: Fleet, plan: Plan,
                 calendar: Calendar) -> None:
        self.d, self.interval, self.seed = device, interval, seed
        self.plan, self.cal = plan, calendar
        self.profile = fleet.camera_profiles[device.place]
        self.shapes = fleet.hourly_shapes
        self.traffic = fleet.hourly_shapes[self.profile.traffic_shape]
        self.festival = device.id in plan.festival_cameras
        self.rng = rng_for(seed, device.id, "camera-objects")
        incident = fleet.scenarios.incident
        self.wanted = incident.wanted_plate if incident else None

    # -- sources: each yields (start time, function making the emissions) in time order -----
    def _counts(self, first: float) -> Iterator[tuple[float, Callable[[], list[Emission]]]]:
        rng = rng_for(self.seed, self.d.id, "counts")
        for ts in report_times(first, self.interval, rng):
            yield ts, lambda ts=ts: [self._count_reading(ts, rng)]

    def _count_reading(self, ts: float, rng: random.Random) -> Reading:
        busy = shape_at(self.traffic, self.cal.at(ts).hour)
        crowd = 1 + 1.5 * self.plan.surge_level(ts) if self.festival else 1.0
        return Reading(ts, {
            "people_count": poisson(rng, self.profile.people_peak * busy * crowd),
            "vehicle_count": poisson(rng, self.profile.vehicles_peak * busy),
        })

    def _incidents(self, first: float) -> Iterator[tuple[float, Callable[[], list[Emission]]]]:
        """Background incidents: a Poisson process per type, its rate following the hour."""
        rates = self.profile.events
        peak = sum(r.per_hour for r in rates.values())
        if peak <= 0:
            return
        rng = rng_for(self.seed, self.d.id, "incidents")
        t = first
        while True:
            t += rng.expovariate(peak / 3600)
            hour = self.cal.at(t).hour
            weights = [r.per_hour * shape_at(self.shapes[r.shape], hour) for r in rates.values()]
            if rng.random() * peak >= sum(weights):
                continue  # thinning: fewer incidents at quiet hours
            kind = rng.choices(list(rates), weights)[0]
            low, high = INCIDENT_DURATION_S[kind]
            duration = rng.uniform(low, high)
            yield t, lambda t=t, kind=kind, duration=duration: self._incident(t, kind, duration)

    def _incident(self, t: float, kind: str, duration: float) -> list[Emission]:
        label = INCIDENT_LABEL[kind]
        plate = None
        if kind in ("traffic_violation", "accident") and self.d.lpr:
            plate = random_plate(self.rng, self.wanted)
        return self._states(t, duration, kind, label, plate)

    def _detections(self, first: float) -> Iterator[tuple[float, Callable[[], list[Emission]]]]:
        """Frigate tracks every person and car it sees; one event per tracked object."""
        peak = self.profile.detections_per_hour
        if self.d.protocol != "frigate" or peak <= 0:
            return
        rng = rng_for(self.seed, self.d.id, "detections")
        people = self.profile.people_peak / max(1.0, self.profile.people_peak
                                                + self.profile.vehicles_peak)
        t = first
        yield t, lambda: self._detection(first, rng, people)  # live data straight away
        while True:
            t += rng.expovariate(peak / 3600)
            busy = max(DETECTION_FLOOR, shape_at(self.traffic, self.cal.at(t).hour))
            if rng.random() < busy:
                yield t, lambda t=t: self._detection(t, rng, people)

    def _detection(self, t: float, rng: random.Random, people_share: float) -> list[Emission]:
        if rng.random() < people_share:
            label, plate = "person", None
        else:
            label = rng.choice(("car", "car", "motorcycle", "truck" if self.d.lpr else "car"))
            plate = random_plate(rng, self.wanted) if (
                self.d.lpr and label in ("car", "truck") and rng.random() < 0.7) else None
        return self._states(t, rng.uniform(5, 60), "object", label, plate)

    def _scripted(self) -> Iterator[tuple[float, Callable[[], list[Emission]]]]:
        for e in self.plan.scripted_events(self.d.id):
            yield e.start, lambda e=e: self._states(e.start, e.duration, e.type, e.label, e.plate,
                                                    zone_index=e.zone_index)

    def _festival_crowds(self) -> Iterator[tuple[float, Callable[[], list[Emission]]]]:
        surge = self.plan.surge
        if not self.festival or surge is None:
            return
        t = self.plan.start + surge.after_s
        end = t + surge.duration_s + surge.ramp_s
        while t < end:
            if self.plan.surge_level(t) >= 0.7:
                yield t, lambda t=t: self._states(t, 600, "crowd", "person", None)
                t += 900
            else:
                t += 300

    # -- expansion --------------------------------------------------------------------------
    def _states(self, start: float, duration: float, kind: str, label: str, plate: str | None,
                zone_index: int | None = None) -> list[Emission]:
        """new, updates, end of one event, confidence rising to its top score."""
        rng = self.rng
        suffix = "".join(rng.choice(ID_CHARS) for _ in range(6))
        zones = self.d.zones
        zone = zones[zone_index % len(zones)] if zone_index is not None else rng.choice(zones)
        top = rng.uniform(0.82, 0.97)
        updates = max(1, min(5, int(duration // 60)))
        times = [start + duration * i / (updates + 1) for i in range(updates + 1)]
        times.append(start + duration)
        x, y = rng.randrange(0, 1600), rng.randrange(0, 800)
        w, h = (rng.randrange(60, 200), rng.randrange(120, 280)) if label == "person" else (
            rng.randrange(150, 400), rng.randrange(100, 250))
        plate_conf = round(rng.uniform(0.85, 0.98), 2) if plate else None
        out: list[Emission] = []
        for i, ts in enumerate(times):
            phase = "new" if i == 0 else "end" if i == len(times) - 1 else "update"
            conf = round(0.62 + (top - 0.62) * min(1.0, i / max(1, len(times) - 2)), 2)
            dx = rng.randrange(-20, 21)
            out.append(EventState(
                ts=ts, event_id=suffix, type=kind, phase=phase, label=label, confidence=conf,
                top_confidence=round(top if phase != "new" else conf, 2), started=start,
                zones=(zone,), plate=plate if phase != "new" or kind == "wanted_plate" else None,
                plate_confidence=plate_conf, box=(x + dx, y, x + dx + w, y + h),
            ))
        return out

    def emissions(self, first: float) -> Iterator[Emission]:
        sources = [self._incidents(first), self._detections(first), self._scripted(),
                   self._festival_crowds()]
        if self.d.protocol != "frigate":
            sources.insert(0, self._counts(first))
        starts = heapq.merge(*sources, key=lambda item: item[0])
        pending: list[tuple[float, int, Emission]] = []
        order = itertools.count()
        for start, make in starts:
            while pending and pending[0][0] <= start:
                yield heapq.heappop(pending)[2]
            for emission in make():
                heapq.heappush(pending, (emission.ts, next(order), emission))
