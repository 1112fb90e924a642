"""Per-commune computations on the demo units: disaster levels, KPI breakdowns, storm groups."""

from __future__ import annotations

import datetime as dt

from alerts.decisions import storm_subject
from ioc.domain import disaster_levels as dl
from kpi.store import PROVINCE
from kpi.telemetry_values import _fill, _sum_by_unit
from layers.catalog import former_district_units, unit_at

# Two wards of the former Lào Cai city, and a commune of the former Bát Xát district.
LAO_CAI, CAM_DUONG, BAT_XAT = "02647", "02671", "02683"
DAY = dt.date(2026, 7, 20)


def test_the_demo_places_fall_in_these_communes():
    assert unit_at(103.9755, 22.4950) == LAO_CAI  # Lào Cai hydrological station
    assert {LAO_CAI, CAM_DUONG} <= former_district_units()["lao_cai_city"]


def test_disaster_level_is_per_commune_not_per_former_district():
    seen = [
        dl.Observation(LAO_CAI, "flood", 3, {"device_id": "wl-red-lao-cai"}),
        dl.Observation(LAO_CAI, "flood", 2, {"device_id": "wl-nam-thi-kim-tan"}),
        dl.Observation(LAO_CAI, "heavy_rain", 3, {"device_id": "rain-coc-leu"}),
        dl.Observation(BAT_XAT, "heavy_rain", 1, {"device_id": "rain-bat-xat"}),
    ]
    levels = dl.levels_by_unit(seen, [LAO_CAI, CAM_DUONG, BAT_XAT], dl.Uplift())
    lao_cai, basis = levels[LAO_CAI]
    # worst station per hazard, then the combined-hazard uplift of Decision 18/2021
    assert (lao_cai.base_level, lao_cai.uplift, lao_cai.level) == (3, 2, 5)
    assert basis["flood"] == {"device_id": "wl-red-lao-cai"}
    # the neighbouring ward of the same former city has nothing: level 0, not the city's 5
    assert levels[CAM_DUONG][0].level == 0 and levels[CAM_DUONG][1] == {}
    assert levels[BAT_XAT][0].level == 1


def test_an_observed_unit_not_listed_still_gets_its_level():
    levels = dl.levels_by_unit([dl.Observation("04252", "flood", 2)], [], dl.Uplift())
    assert levels["04252"][0].level == 2


def test_kpi_breakdown_sums_per_commune_and_for_the_province():
    rows = [(DAY, LAO_CAI, 3), (DAY, LAO_CAI, 2), (DAY, BAT_XAT, 1), (DAY, None, 4)]
    sums = _sum_by_unit(rows)
    assert sums[DAY] == {LAO_CAI: 5.0, BAT_XAT: 1.0, PROVINCE: 10.0}
    filled = _fill([DAY, DAY + dt.timedelta(days=1)], sums, {LAO_CAI, CAM_DUONG, BAT_XAT})
    assert filled[DAY][CAM_DUONG] == 0.0  # a commune with the devices but no events: 0
    assert filled[DAY + dt.timedelta(days=1)] == {
        LAO_CAI: 0.0, CAM_DUONG: 0.0, BAT_XAT: 0.0, PROVINCE: 0.0}


def test_storms_group_per_commune():
    assert storm_subject("camera_fire", LAO_CAI) != storm_subject("camera_fire", CAM_DUONG)
    assert storm_subject("camera_fire", LAO_CAI) == f"camera_fire:{LAO_CAI}"
    assert storm_subject("cap_warning", None) == "cap_warning:province"
