"""The simulator reads registry entries (docs/devices.md) in its fleet file, plus its own
optional `simulation:` block; it stores only registry metadata, never simulator keys."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from ioc.devices.formats import check_data
from ioc.devices.model import RegistryEntry
from sensors_sim.fleet import DEFAULT_FLEET_FILE, FleetError, fleet_from_data

STATIONS = Path(__file__).resolve().parents[2] / "ioc" / "devices" / "data" / "river_stations.yaml"


@pytest.fixture
def raw() -> dict:
    return yaml.safe_load(DEFAULT_FLEET_FILE.read_text(encoding="utf-8"))


def _first_area(raw: dict) -> str:
    """An area key of the fleet (its `units`, or `districts` before the 2025 reform)."""
    return next(iter(raw.get("units") or raw["districts"]))


def _area(device) -> str | None:
    return getattr(device, "unit_id", getattr(device, "district", None))


def _station(unit: str, **simulation) -> dict:
    entry = yaml.safe_load(STATIONS.read_text(encoding="utf-8"))["devices"][0]
    entry["unit"] = unit
    if simulation:
        entry["simulation"] = simulation
    return entry


def test_a_registry_station_without_simulation_block_runs_below_its_level_i(raw):
    district = _first_area(raw)
    raw["devices"].append(_station(district))
    fleet = fleet_from_data(raw)
    station = fleet.device("wl-hong-lao-cai")
    assert _area(station) == district and station.interval_s == 300
    assert station.normal_level_m == 77.5 and station.catchment == [district]
    # What the simulator registers is a valid registry entry: no simulator keys, no flag.
    metadata = station.metadata()
    assert "simulated" not in metadata and "normal_level_m" not in metadata
    entry = check_data({"id": station.id, "name": station.name, "kind": station.kind,
                        "metadata": metadata})
    assert isinstance(entry, RegistryEntry), entry


def test_the_simulation_block_overrides_and_is_checked(raw):
    district = _first_area(raw)
    raw["devices"].append(_station(district, normal_level_m=76.0, response_lag_h=3))
    assert fleet_from_data(raw).device("wl-hong-lao-cai").response_lag_h == 3
    raw["devices"][-1] = _station(district, wet_season_rise_m=5)
    with pytest.raises(FleetError, match="wl-hong-lao-cai"):
        fleet_from_data(raw)


def test_every_demo_device_registers_registry_metadata_only(raw):
    fleet = fleet_from_data(raw)
    for d in fleet.devices:
        entry = check_data({"id": d.id, "name": d.name, "kind": d.kind,
                            "metadata": d.metadata()})
        assert isinstance(entry, RegistryEntry), (d.id, entry)
