"""The demo fleet against the units layer: every device lies in the unit its registry names."""

from __future__ import annotations

from collections import Counter

from layers.catalog import UnitLocator, demo_layers
from sensors_sim.fleet import load_fleet


def test_every_demo_device_lies_in_its_unit():
    locator = UnitLocator.for_demo()
    wrong = [
        (d.id, d.unit_id, locator.unit_at(d.lon, d.lat))
        for d in load_fleet().devices
        if locator.unit_at(d.lon, d.lat) != d.unit_id
    ]
    assert wrong == []


def test_the_fleets_unit_names_are_the_official_ones():
    names = {f["id"]: f["properties"]["name"] for f in demo_layers()["units"]["features"]}
    fleet = load_fleet()
    assert fleet.units == {code: names[code] for code in fleet.units}


def test_the_fleet_covers_the_former_yen_bai_too():
    fleet = load_fleet()
    by_kind = Counter(d.kind for d in fleet.devices if d.lat < 21.95 or d.lon > 104.7)
    assert by_kind["water_level"] >= 3 and by_kind["rain_gauge"] >= 5 and by_kind["camera"] >= 3
    stations = {d.id: d for d in fleet.devices if d.kind == "water_level"}
    yen_bai = stations["wl-thao-yen-bai"]
    assert yen_bai.unit_id == "04252"  # Phường Yên Bái
    assert (yen_bai.alarm_levels.I, yen_bai.alarm_levels.II, yen_bai.alarm_levels.III) == (
        30.0, 31.0, 32.0)
    flood = fleet.scenarios.flood
    assert "wl-thao-yen-bai" in flood.stations or any(
        u in flood.storm_units for u in yen_bai.catchment)
