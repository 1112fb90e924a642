"""ioc.domain.disaster_levels: Decision 18/2021-style levels from alarm levels and rain, with uplift."""

from __future__ import annotations

import pytest

from ioc.domain.disaster_levels import (
    RISK_LEVELS,
    FloodBand,
    RainBand,
    Uplift,
    combine,
    flood_level,
    rain_level,
    rain_level_with_hysteresis,
    risk_level,
)

ALARM = (80.0, 82.0, 83.5)  # báo động I, II, III of one station, metres
BANDS = [FloodBand.parse("II", 1), FloodBand.parse("III", 2), FloodBand.parse("III+1.0", 3),
         FloodBand.parse("historical", 4), FloodBand.parse("historical + 1 m", 5)]


def test_flood_band_references():
    assert FloodBand.parse("III+1.0", 3) == FloodBand("III", 1.0, 3)
    assert FloodBand.parse(" II - 0.5 m", 1) == FloodBand("II", -0.5, 1)
    assert FloodBand.parse("III+1.0", 3).threshold(ALARM, None) == 84.5
    assert FloodBand.parse("historical", 4).threshold(ALARM, None) is None
    with pytest.raises(ValueError, match="expected I, II, III or historical"):
        FloodBand.parse("IV", 1)


@pytest.mark.parametrize(("water", "historical", "expected"), [
    (80.5, None, 0),  # above I only: an alarm, but no risk level in these bands
    (82.0, None, 1), (83.5, None, 2), (84.4, None, 2), (84.5, None, 3), (90.0, None, 3),
    (86.0, 86.0, 4), (87.1, 86.0, 5),
])
def test_flood_level_against_the_stations_own_alarm_levels(water, historical, expected):
    assert flood_level(water, ALARM, BANDS, historical) == expected


def test_rain_levels_with_antecedent_rain():
    heavy = [RainBand(12, 50, 1), RainBand(24, 100, 1), RainBand(24, 200, 2)]
    assert rain_level({12: 40, 24: 90}, heavy) == 0
    assert rain_level({12: 55, 24: 90}, heavy) == 1
    assert rain_level({12: 55, 24: 210}, heavy) == 2
    flash = [RainBand(24, 100, 1, antecedent_min_mm=50), RainBand(24, 200, 2, 50)]
    assert rain_level({24: 150}, flash, antecedent_mm=20) == 0  # dry ground before
    assert rain_level({24: 150}, flash, antecedent_mm=60) == 1
    assert rain_level({24: 150}, flash) == 0
    # 10 % hysteresis: level 2 holds at 185 mm (needs < 180 to fall), level 1 holds at 95.
    assert rain_level_with_hysteresis({24: 185}, heavy, 2, 0.1) == 2
    assert rain_level_with_hysteresis({24: 175}, heavy, 2, 0.1) == 1
    assert rain_level_with_hysteresis({24: 95}, heavy, 1, 0.1) == 1
    assert rain_level_with_hysteresis({24: 85}, heavy, 1, 0.1) == 0


def test_combined_hazards_raise_the_level_never_above_five():
    assert combine({}).level == 0
    single = combine({"flood": 2})
    assert (single.level, single.base_level, single.uplift) == (2, 2, 0)
    two = combine({"flood": 2, "heavy_rain": 1})
    assert (two.level, two.uplift) == (3, 1)
    serious = combine({"flood": 3, "flash_flood_landslide": 3})
    assert (serious.level, serious.uplift) == (5, 2)
    assert combine({"flood": 5, "heavy_rain": 4}).level == 5
    assert combine({"flood": 2, "heavy_rain": 1}, Uplift(enabled=False)).level == 2
    assert combine({"flood": 2, "heavy_rain": 1}, Uplift(combined_min_level=2)).level == 2
    assert combine({"flood": 2, "heavy_rain": 0}).hazards == {"flood": 2}


def test_colours():
    assert [RISK_LEVELS[i].colour_en for i in range(1, 6)] == [
        "light blue", "light yellow", "orange", "red", "purple"]
    assert risk_level(9).level == 5 and risk_level(-1).level == 0
    assert combine({"flood": 4}).risk.hex == RISK_LEVELS[4].hex
