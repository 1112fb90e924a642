"""Classes and colours of devices on the map: VN_AQI, alarm levels, rain, crowds, landslides."""

from __future__ import annotations

import pytest

from dashboards import classify
from ioc.domain import aqi as aqi_scale
from ioc.domain.disaster_levels import RISK_LEVELS


@pytest.mark.parametrize(
    ("aqi", "key", "colour"),
    [
        (0, "good", "#00E400"),
        (50, "good", "#00E400"),
        (51, "moderate", "#FFFF00"),
        (100, "moderate", "#FFFF00"),
        (101, "poor", "#FF7E00"),
        (151, "bad", "#FF0000"),
        (201, "very_bad", "#8F3F97"),
        (301, "hazardous", "#7E0023"),
        (650, "hazardous", "#7E0023"),
    ],
)
def test_aqi_classes_follow_vn_aqi_bands(aqi, key, colour):
    assert classify.aqi_class(aqi) == classify.Classed(key, colour)


def test_aqi_class_without_a_value_is_no_data():
    assert classify.aqi_class(None).key == "no_data"


def test_live_aqi_is_the_largest_sub_index_and_needs_pm():
    values = {"pm25": 32.0, "pm10": 60.0, "no2": 40.0}
    expected = max(
        aqi_scale.vn_sub_index("pm25", 32.0),
        aqi_scale.vn_sub_index("pm10", 60.0),
        aqi_scale.vn_sub_index("no2", 40.0),
    )
    assert classify.live_aqi(values) == expected
    assert classify.live_aqi({"no2": 400.0}) is None  # no PM: no index
    assert classify.live_aqi({"pm25": "broken", "pm10": True}) is None


def test_disaster_level_colours_are_decision_18_colours():
    for level in range(1, 6):
        assert classify.disaster_level_colour(level) == RISK_LEVELS[level].hex
    assert classify.disaster_level_colour(0).startswith("rgba(")
    assert classify.disaster_level_colour(9) == RISK_LEVELS[5].hex


def test_water_class_counts_alarm_levels_passed():
    levels = classify.alarm_levels_of({"alarm_levels": {"I": 80.0, "II": 82.0, "III": 83.5}})
    assert classify.water_class(79.0, levels)[1] == 0
    assert classify.water_class(80.0, levels) == (
        classify.Classed("level_1", classify.WATER_COLOURS[1]),
        1,
    )
    assert classify.water_class(82.5, levels)[1] == 2
    assert classify.water_class(90.0, levels)[1] == 3
    assert classify.water_class(None, levels)[0].key == "no_data"
    assert classify.water_class(90.0, None)[1] == 0  # a station without alarm levels
    assert classify.alarm_levels_of({"alarm_levels": [3, 2, 1]}) is None  # not rising


@pytest.mark.parametrize(
    ("mm", "key"),
    [
        (0.0, "dry"),
        (10, "light"),
        (16, "moderate"),
        (50, "heavy"),
        (99.9, "heavy"),
        (140, "very_heavy"),
    ],
)
def test_rain_classes(mm, key):
    assert classify.rain_class(mm).key == key


def test_occupancy_against_capacity():
    assert classify.occupancy_class(500, 1000) == (classify.Classed("low", "#3ddc97"), 0.5)
    assert classify.occupancy_class(950, 1000)[0].key == "near_full"
    assert classify.occupancy_class(1200, 1000)[0].key == "over"
    assert classify.occupancy_class(10, None)[0].key == "no_data"


def test_landslide_uses_the_device_thresholds():
    warning = {"soil_moisture_pct": 80, "tilt_deg": 1.5, "displacement_mm": 20}
    assert classify.landslide_class({"soil_moisture_pct": 40}, warning).key == "normal"
    assert classify.landslide_class({"soil_moisture_pct": 70}, warning).key == "watch"
    assert classify.landslide_class({"displacement_mm": 25}, warning).key == "warning"
    assert classify.landslide_class({}, warning).key == "no_data"


def test_camera_incidents_serious_or_not():
    assert classify.camera_class(None).key == "clear"
    assert classify.camera_class("fire").key == "serious"
    assert classify.camera_class("crowd").key == "incident"


def test_silent_after_three_missed_reports():
    assert not classify.is_silent(None, 60, 1000)  # never heard from: not silent
    assert not classify.is_silent(1000 - 180, 60, 1000)
    assert classify.is_silent(1000 - 181, 60, 1000)
    # a device reporting every 10 s is silent after 2 minutes, not 30 s (the rule's floor)
    assert not classify.is_silent(1000 - 119, 10, 1000)
    assert classify.is_silent(1000 - 121, 10, 1000)
