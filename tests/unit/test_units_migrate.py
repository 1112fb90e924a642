"""The pure decisions of `ioc units migrate`, and the units records (search, picker)."""

from __future__ import annotations

from layers.catalog import demo_layers, unit_at
from layers.migrate_units import MigrationPlan, Move, plan_alerts, plan_devices, report
from layers.units import fold, picker_options, search_units, units_of

UNITS = {f["id"] for f in demo_layers()["units"]["features"]}


def test_a_device_keyed_by_a_former_district_moves_to_the_unit_it_lies_in():
    devices = [
        ("wl-red-lao-cai", "lao_cai_city", 103.9755, 22.4950),  # former district -> its ward
        ("rain-sa-pa", "03006", 103.843, 22.336),  # already a unit: left alone
        ("mobile-1", "sa_pa", None, None),  # no position: kept, reported as unmoved
        ("far-away", "ha_noi", 105.85, 21.03),  # outside every unit: kept
    ]
    moves = plan_devices(devices, unit_at, UNITS)
    assert moves == [Move("wl-red-lao-cai", "lao_cai_city", "02647")]


def test_the_plan_is_idempotent():
    devices = [("wl-red-lao-cai", "lao_cai_city", 103.9755, 22.4950)]
    moved = [(m.key, m.new, 103.9755, 22.4950) for m in plan_devices(devices, unit_at, UNITS)]
    assert plan_devices(moved, unit_at, UNITS) == []


def test_alerts_follow_their_device_and_the_rest_stay_history():
    alerts = [
        (1, "lao_cai_city", "wl-red-lao-cai"),  # the device moved: the alert follows
        (2, "bat_xat", None),  # a CAP warning of a former district: stays, before 1 July 2025
        (3, "02647", "wl-red-lao-cai"),  # already a unit
        (4, "sa_pa", "gone"),  # its device is unknown: stays
    ]
    moves = plan_alerts(alerts, {"wl-red-lao-cai": "02647"}, UNITS)
    assert moves == [Move("1", "lao_cai_city", "02647")]


def test_the_report_says_what_changed_and_what_stays_history():
    plan = MigrationPlan(devices=(Move("d", "sa_pa", "03006"),), kpi_history={"sa_pa": 12})
    text = report(plan, applied=True)
    assert "devices: 1 moved" in text and "before 1 July 2025: sa_pa (12)" in text
    assert "nothing to change" in report(MigrationPlan(), applied=False)


def test_units_are_records_with_their_type_and_are_searchable_without_diacritics():
    units = units_of(demo_layers()["units"])
    assert len(units) == 99
    sa_pa = next(u for u in units if u.code == "03006")
    assert (sa_pa.name, sa_pa.short_name, sa_pa.type, sa_pa.parent) == (
        "Phường Sa Pa", "Sa Pa", "phường", "15")
    assert [u.code for u in search_units(units, "bac ha")][:1] == ["02839"]  # Xã Bắc Hà
    assert search_units(units, "03006") == [sa_pa]
    assert {u.name for u in search_units(units, "yên bái")} >= {"Phường Yên Bái"}
    assert len(search_units(units, "")) == 99 and len(search_units(units, "", limit=10)) == 10
    assert fold("Phường Đông Cuông") == "phuong dong cuong"
    options = picker_options(units[:2])
    assert {"label", "value", "search"} == set(options[0])
    assert fold(options[0]["label"]) in options[0]["search"]


def test_the_unit_picker_offers_every_unit_with_its_type_and_finds_without_diacritics():
    from dashboards.ops_queries import BaseGeometry, unit_options

    layers = demo_layers()
    geo = BaseGeometry(layers["units"], layers["province"], layers["rivers"], layers["towns"],
                       poi=layers["poi"])
    options = unit_options(geo, "vi")
    assert len(options) == 99 and {o["value"] for o in options} == UNITS
    by_code = {o["value"]: o for o in options}
    assert by_code["03006"]["label"] == "Phường Sa Pa" and "phuong sa pa" in by_code["03006"]["search"]
    assert by_code["02839"]["label"] == "Xã Bắc Hà" and "bac ha" in by_code["02839"]["search"]
    assert unit_options(geo, "en")[0]["label"].endswith(("Commune", "Ward"))


def test_the_devices_page_lists_units_with_silent_devices_first():
    from dashboards.health_queries import HealthGroup, units_by_trouble

    groups = [
        HealthGroup("03006", "environment", 4, 4, 0, 0),
        HealthGroup("02683", "disaster", 3, 0, 3, 0),
        HealthGroup("02647", "camera", 5, 4, 1, 0),
        HealthGroup("02647", "disaster", 2, 1, 0, 1),
    ]
    names = {"03006": "Phường Sa Pa", "02683": "Xã Bát Xát", "02647": "Phường Lào Cai"}
    assert units_by_trouble(groups, names) == ["02683", "02647", "03006"]


def test_names_of_former_districts_say_before_1_july_2025():
    from dashboards.ops_queries import BaseGeometry, unit_names

    layers = demo_layers()
    geo = BaseGeometry(layers["units"], layers["province"], layers["rivers"], layers["towns"],
                       poi=layers["poi"], history=layers["legacy_districts"])
    names = unit_names(geo, "vi")
    assert names["03006"] == "Phường Sa Pa"
    assert names["sa_pa"] == "Thị xã Sa Pa (trước 1/7/2025)"
    assert unit_names(geo, "en")["bat_xat"] == "Bat Xat District (before 1 July 2025)"


def test_kpi_rows_of_former_districts_are_named_before_1_july_2025():
    from dashboards.kpi_queries import history_name

    assert history_name("sa_pa", "vi") == "Thị xã Sa Pa (trước 1/7/2025)"
    assert history_name("yen_bai_city", "en") == "Yen Bai City (before 1 July 2025)"
    assert history_name("03006", "vi") == "03006"  # not a former district: as it is


def test_units_of_reads_a_centre_stored_as_text():
    """A stored layer carries list properties as text after the importer (the demo's feed page
    failed on it); a centre that is not two numbers is no centre."""

    def unit(code, centre):
        return {"type": "Feature", "properties": {"id": code, "name": code, "centre": centre}}

    got = {u.code: u.centre for u in units_of({"features": [
        unit("a", [103.8, 22.3]), unit("b", "[103.9, 22.4]"), unit("c", "[oops"),
        unit("d", "[1]"), unit("e", None)]})}
    assert got == {"a": (103.8, 22.3), "b": (103.9, 22.4), "c": None, "d": None, "e": None}
