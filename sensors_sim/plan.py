"""A scenario resolved against a fleet and a start time: who is affected, and when."""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass

from sensors_sim.fleet import Fleet
from sensors_sim.scenarios import Scenario
from sensors_sim.simtime import hann

ROAD_FACTOR = 1.4  # road distance / straight-line distance in the mountains


@dataclass(frozen=True)
class ScriptedEvent:
    """A camera incident the scenario makes happen at a given camera and time."""

    camera: str
    start: float
    duration: float
    type: str
    label: str
    zone_index: int = 0
    plate: str | None = None


class Plan:
    """Answers 'is X happening here now?' for the signal models. Pure; no randomness."""

    def __init__(self, scenario: Scenario, fleet: Fleet, start: float) -> None:
        self.scenario, self.fleet, self.start = scenario, fleet, start
        targets = fleet.scenarios
        for needed, section in ((scenario.storm, "flood"), (scenario.surge, "festival"),
                                (scenario.incidents, "incident"), (scenario.outage, "outage")):
            if needed and getattr(targets, section) is None:
                raise ValueError(f"scenario {scenario.name} needs scenarios.{section} in the "
                                 "fleet file")
        flood, fest = targets.flood, targets.festival
        self.storm = scenario.storm
        self.storm_units = frozenset(flood.storm_units if flood and self.storm else ())
        self.flood_stations = frozenset(flood.stations if flood and self.storm else ())
        self.surge = scenario.surge
        self.festival_sites = frozenset(fest.sites if fest and self.surge else ())
        self.festival_cameras = frozenset(fest.cameras if fest and self.surge else ())
        self.festival_units = frozenset(fest.units if fest and self.surge else ())
        self.incidents = scenario.incidents
        self.outage = scenario.outage
        self.outage_unit = targets.outage.unit_id if targets.outage and self.outage else None

    # -- storm ------------------------------------------------------------------------------
    def storm_window(self) -> tuple[float, float] | None:
        if not self.storm:
            return None
        t0 = self.start + self.storm.after_s
        return t0, t0 + self.storm.duration_s

    def storm_rate(self, unit_id: str, ts: float) -> float:
        """Storm rain rate in mm/h over `unit_id` at `ts` (0 outside the storm)."""
        if not self.storm or unit_id not in self.storm_units:
            return 0.0
        t0, t1 = self.storm_window()  # type: ignore[misc]
        return self.storm.peak_mm_h * hann((ts - t0) / (t1 - t0))

    def showers_suppressed(self, unit_id: str, ts: float) -> bool:
        """The storm replaces ordinary showers over its units for a day either side."""
        window = self.storm_window()
        if not window or unit_id not in self.storm_units:
            return False
        return window[0] - 86400 <= ts <= window[1] + 86400

    # -- festival ---------------------------------------------------------------------------
    def surge_level(self, ts: float) -> float:
        """0 before and after the festival surge, 1 at its height, linear ramps between."""
        if not self.surge:
            return 0.0
        s = self.surge
        t0 = self.start + s.after_s
        t1 = t0 + s.duration_s
        if ts <= t0 or ts >= t1 + s.ramp_s:
            return 0.0
        if ts < t0 + s.ramp_s:
            return (ts - t0) / s.ramp_s
        if ts <= t1:
            return 1.0
        return 1.0 - (ts - t1) / s.ramp_s

    # -- outage -----------------------------------------------------------------------------
    def outage_window(self, unit_id: str) -> tuple[float, float] | None:
        if not self.outage or unit_id != self.outage_unit:
            return None
        t0 = self.start + self.outage.after_s
        return t0, t0 + self.outage.duration_s

    # -- incidents --------------------------------------------------------------------------
    def scripted_events(self, camera: str) -> Iterator[ScriptedEvent]:
        """The scripted incidents at `camera`, in start order, repeating forever."""
        targets = self.fleet.scenarios.incident
        if not self.incidents or targets is None:
            return
        if camera not in (targets.fire_camera, targets.fight_camera, *targets.plate_route):
            return
        inc = self.incidents
        cycle = 0
        while True:
            base = self.start + inc.after_s + cycle * inc.repeat_s
            events: list[ScriptedEvent] = []
            if camera == targets.fire_camera:
                events.append(ScriptedEvent(camera, base, inc.fire_duration_s, "smoke", "smoke"))
                events.append(ScriptedEvent(camera, base + 120, inc.fire_duration_s - 120, "fire",
                                            "fire"))
            if camera == targets.fight_camera:
                events.append(ScriptedEvent(camera, base + 360, inc.fight_duration_s, "fight",
                                            "person"))
            for when, cam in self.plate_sightings(base):
                if cam == camera:
                    events.append(ScriptedEvent(camera, when, 25.0, "wanted_plate", "car",
                                                plate=targets.wanted_plate))
            yield from sorted(events, key=lambda e: e.start)
            cycle += 1

    def plate_sightings(self, base: float) -> list[tuple[float, str]]:
        """When the wanted vehicle passes each camera of the route, driving at a steady speed."""
        targets = self.fleet.scenarios.incident
        assert targets is not None and self.incidents is not None
        speed_ms = self.incidents.vehicle_speed_kmh / 3.6
        out, when, prev = [], base + 60.0, None
        for cam_id in targets.plate_route:
            cam = self.fleet.device(cam_id)
            if prev is not None:
                when += ROAD_FACTOR * distance_m(prev.lon, prev.lat, cam.lon, cam.lat) / speed_ms
            out.append((when, cam_id))
            prev = cam
        return out


def distance_m(lon1: float, lat1: float, lon2: float, lat2: float) -> float:
    """Great-circle distance in metres."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * 6_371_000 * math.asin(math.sqrt(a))
