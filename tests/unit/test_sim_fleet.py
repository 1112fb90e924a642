"""The fleet file: the demo province's devices load and validate; bad files fail clearly."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest
import yaml

from layers.catalog import demo_layers
from sensors_sim.fleet import KIND_FAMILY, FleetError, fleet_from_data, load_fleet

UNIT_CODES = {f["id"] for f in demo_layers()["units"]["features"]}  # the 99 official codes


@pytest.fixture(scope="module")
def fleet_text() -> str:
    from sensors_sim.fleet import DEFAULT_FLEET_FILE

    return DEFAULT_FLEET_FILE.read_text(encoding="utf-8")


@pytest.fixture
def raw(fleet_text) -> dict:
    """A fresh, editable copy of the demo fleet file's data."""
    return yaml.safe_load(fleet_text)


def test_demo_fleet_has_every_kind_in_the_province():
    fleet = load_fleet()
    kinds = Counter(d.kind for d in fleet.devices)
    assert 60 <= len(fleet.devices) <= 120
    assert set(kinds) == set(KIND_FAMILY)
    assert set(fleet.units) <= UNIT_CODES
    lon0, lat0, lon1, lat1 = fleet.bbox
    for d in fleet.devices:
        assert d.unit_id in UNIT_CODES
        assert lon0 <= d.lon <= lon1 and lat0 <= d.lat <= lat1


def test_hydrological_stations_have_increasing_alarm_levels_on_real_rivers():
    fleet = load_fleet()
    stations = [d for d in fleet.devices if d.kind == "water_level"]
    assert len(stations) >= 5
    assert {s.river for s in stations} >= {"sông Hồng", "sông Chảy", "Ngòi Nhù"}
    for s in stations:
        a = s.alarm_levels
        assert s.normal_level_m < a.I < a.II < a.III
        assert s.metadata()["alarm_levels"] == {"I": a.I, "II": a.II, "III": a.III}


def test_sites_have_capacity_and_cameras_have_zones_and_protocol():
    fleet = load_fleet()
    counters = {d.id: d for d in fleet.devices if d.kind == "visitor_counter"}
    assert {"cnt-sa-pa-square", "cnt-fansipan-summit", "cnt-bac-ha-market"} <= set(counters)
    assert all(c.capacity > 0 for c in counters.values())
    cameras = [d for d in fleet.devices if d.kind == "camera"]
    assert {c.protocol for c in cameras} == {"frigate", "ioc-json"}
    assert all(c.zones for c in cameras)
    assert any(d.protocol == "senml" for d in fleet.devices if d.family == "environment")


def test_names_keep_vietnamese_diacritics():
    fleet = load_fleet()
    assert fleet.device("wl-red-lao-cai").name == "Trạm thủy văn Lào Cai (sông Hồng)"


def test_unknown_key_is_rejected_naming_file_and_device(raw, tmp_path: Path):
    raw["devices"][3]["colour"] = "red"
    path = tmp_path / "fleet.yaml"
    path.write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")
    with pytest.raises(FleetError) as err:
        load_fleet(path)
    message = str(err.value)
    assert str(path) in message
    assert f"devices[3] ({raw['devices'][3]['id']})" in message
    assert "colour: unknown key" in message


def test_alarm_levels_out_of_order_name_the_station(raw):
    index, station = next((i, d) for i, d in enumerate(raw["devices"])
                          if d["kind"] == "water_level")
    station["alarm_levels"] = {"I": 80.0, "II": 79.0, "III": 83.0}
    with pytest.raises(FleetError, match=rf"devices\[{index}\] \({station['id']}\).*"
                                         r"must increase I < II < III"):
        fleet_from_data(raw, "fleet.yaml")


def test_scenario_targets_must_exist(raw):
    raw["scenarios"]["incident"]["plate_route"][1] = "cam-nowhere"
    with pytest.raises(FleetError, match="'cam-nowhere' is not a camera"):
        fleet_from_data(raw)


def test_unknown_unit_and_duplicate_id(raw):
    raw["devices"][0]["unit_id"] = "ha_noi"
    raw["devices"][2]["id"] = raw["devices"][1]["id"]
    with pytest.raises(FleetError) as err:
        fleet_from_data(raw)
    assert "unknown unit 'ha_noi'" in str(err.value)
    assert f"device {raw['devices'][1]['id']}: duplicate id" in str(err.value)


def test_missing_file_is_a_clear_error(tmp_path: Path):
    with pytest.raises(FleetError, match="cannot read the fleet file"):
        load_fleet(tmp_path / "nope.yaml")
