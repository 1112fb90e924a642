"""Scenarios: floods pass the alarm levels in order, festivals overfill sites, incidents cross
cameras, outages silence a unit."""

from __future__ import annotations

import json
from collections import defaultdict
from datetime import UTC, datetime

import pytest

from sensors_sim.fleet import FaultRates, load_fleet
from sensors_sim.generator import generate
from sensors_sim.scenarios import SCENARIOS

START = datetime(2025, 7, 12, 1, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def fleet():
    return load_fleet()


def values(payload: bytes) -> dict:
    doc = json.loads(payload)
    if isinstance(doc, list):  # SenML pack
        return {r["n"]: r["v"] for r in doc}
    return doc.get("metrics", {})


def run(fleet, scenario: str, hours: float, seed: int = 1, kinds: tuple[str, ...] = ()):
    """Messages of the first `hours` simulated hours, optionally only of some device kinds."""
    if kinds:
        fleet = fleet.model_copy(update={"devices": [d for d in fleet.devices if d.kind in kinds]})
    end = START.timestamp() + hours * 3600
    out = []
    for m in generate(fleet, scenario, START, seed, faults=FaultRates()):
        if m.sim_ts > end:
            break
        out.append(m)
    return out


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_flood_crosses_alarm_levels_in_order_at_each_affected_station(fleet, seed):
    messages = run(fleet, "flood", 16, seed, kinds=("water_level", "landslide"))
    series: dict[str, list[tuple[float, float]]] = defaultdict(list)
    for m in messages:
        v = values(m.payload) if not m.topic.startswith("ioc/v1/status/") else {}
        if "water_level_m" in v:
            series[m.device_id].append((m.sim_ts, v["water_level_m"]))
    affected = set(fleet.scenarios.flood.stations)
    assert affected <= set(series)
    first_iii = []
    for station_id, points in series.items():
        levels = fleet.device(station_id).alarm_levels
        thresholds = (levels.I, levels.II, levels.III)

        def level_index(x, thresholds=thresholds):
            return sum(x >= t for t in thresholds)  # 0 below I ... 3 at or above III

        if station_id not in affected:
            assert max(x for _, x in points) < levels.I, station_id
            continue
        peak_i = max(range(len(points)), key=lambda i: points[i][1])
        rising = [level_index(x) for _, x in points[: peak_i + 1]]
        # crosses I, then II, then III, and never falls back below a level before the peak
        assert rising[0] == 0, station_id
        assert rising[-1] == 3, station_id
        assert rising == sorted(rising), station_id
        crossings = [next(points[i][0] for i, k in enumerate(rising) if k >= n) for n in (1, 2, 3)]
        assert crossings[0] < crossings[1] < crossings[2], station_id
        first_iii.append(crossings[2])
        # and the river goes down again afterwards
        assert points[-1][1] < points[peak_i][1]

    # saturated slopes in the storm's units start to move after the rivers pass III
    storm_units = set(fleet.scenarios.flood.storm_units)
    warned = {}
    for m in messages:
        v = values(m.payload) if m.device_id.startswith("ls-") and "status" not in m.topic else {}
        if v and m.device_id not in warned:
            warning = fleet.device(m.device_id).warning
            if v["displacement_mm"] >= warning.displacement_mm or v["tilt_deg"] >= warning.tilt_deg:
                warned[m.device_id] = m.sim_ts
    sensors = {d.id: d for d in fleet.devices if d.kind == "landslide"}
    assert set(warned) == {i for i, d in sensors.items() if d.unit_id in storm_units}
    assert min(warned.values()) > min(first_iii)


def test_no_alarm_levels_or_landslide_warnings_on_a_normal_day(fleet):
    for m in run(fleet, "normal", 12, kinds=("water_level", "landslide")):
        v = values(m.payload) if "status" not in m.topic else {}
        if "water_level_m" in v:
            assert v["water_level_m"] < fleet.device(m.device_id).alarm_levels.I
        if "displacement_mm" in v:
            assert v["displacement_mm"] < fleet.device(m.device_id).warning.displacement_mm


def test_festival_crowds_exceed_capacity_at_the_named_sites(fleet):
    messages = run(fleet, "festival", 5, kinds=("visitor_counter", "camera", "accommodation"))
    peak: dict[str, int] = defaultdict(int)
    crowd_cameras = set()
    for m in messages:
        if m.device_id.startswith("cnt-") and "status" not in m.topic:
            peak[m.device_id] = max(peak[m.device_id], values(m.payload)["occupancy"])
        if b'"crowd"' in m.payload:
            crowd_cameras.add(m.device_id)
    sites = set(fleet.scenarios.festival.sites)
    for site_id in sites:
        assert peak[site_id] > fleet.device(site_id).capacity, site_id
    for site_id in set(peak) - sites:
        assert peak[site_id] < fleet.device(site_id).capacity, site_id
    assert set(fleet.scenarios.festival.cameras) <= crowd_cameras


def test_normal_day_stays_within_capacity(fleet):
    for m in run(fleet, "normal", 24, kinds=("visitor_counter",)):
        if "status" not in m.topic:
            assert values(m.payload)["occupancy"] < fleet.device(m.device_id).capacity


def test_incident_shows_a_wanted_plate_across_cameras_and_a_fire(fleet):
    messages = run(fleet, "incident", 2, kinds=("camera",))
    plate = fleet.scenarios.incident.wanted_plate
    sightings: dict[str, float] = {}
    kinds_at: dict[str, set] = defaultdict(set)
    for m in messages:
        if m.topic.endswith("/snapshot"):  # the incident's picture (test_sim_snapshots.py)
            continue
        doc = json.loads(m.payload)
        if m.topic == "frigate/events":
            after = doc["after"]
            if after.get("recognized_license_plate") == plate:
                sightings.setdefault(after["camera"], m.sim_ts)
            kinds_at[after["camera"]].add(after["label"])
        elif "event" in doc:
            if doc["event"].get("plate") == plate:
                sightings.setdefault(m.device_id, m.sim_ts)
                assert doc["event"]["type"] == "wanted_plate"
            kinds_at[m.device_id].add(doc["event"]["type"])
    route = fleet.scenarios.incident.plate_route
    assert len(sightings) >= 3
    assert sorted(sightings, key=sightings.get) == route  # seen camera after camera
    assert {"fire", "smoke"} <= kinds_at[fleet.scenarios.incident.fire_camera]
    assert "fight" in kinds_at[fleet.scenarios.incident.fight_camera]


def test_the_wanted_plate_is_not_seen_on_a_normal_day(fleet):
    plate = fleet.scenarios.incident.wanted_plate.encode()
    assert not any(plate in m.payload for m in run(fleet, "normal", 6, kinds=("camera",)))


def test_outage_silences_the_unit_then_it_comes_back(fleet):
    outage = SCENARIOS["outage"].outage
    unit_id = fleet.scenarios.outage.unit_id
    t0 = START.timestamp() + outage.after_s
    t1 = t0 + outage.duration_s
    in_unit = {d.id for d in fleet.devices if d.unit_id == unit_id}
    assert in_unit
    during, offline, back, others_during = set(), set(), set(), set()
    for m in run(fleet, "outage", (t1 - START.timestamp()) / 3600 + 0.5):
        status = json.loads(m.payload)["status"] if "/status/" in m.topic else None
        if m.device_id in in_unit:
            if status == "offline":
                assert m.sim_ts == t0
                offline.add(m.device_id)
            elif t0 <= m.sim_ts < t1:
                during.add(m.device_id)
            elif m.sim_ts >= t1 and status != "online":
                back.add(m.device_id)
        elif t0 <= m.sim_ts < t1:
            others_during.add(m.device_id)
    assert offline == in_unit
    assert not during
    assert back == in_unit
    assert len(others_during) > len(fleet.devices) // 2
