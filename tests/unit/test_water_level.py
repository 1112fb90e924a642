"""Water level against alarm levels I/II/III, with hysteresis."""

import pytest

from ioc.domain.water_level import AlarmLevels, alarm_level

LEVELS = AlarmLevels(80.0, 82.0, 83.5)


@pytest.mark.parametrize(
    ("value", "expected"), [(79.99, 0), (80.0, 1), (81.9, 1), (82.0, 2), (83.49, 2), (83.5, 3), (90, 3)]
)
def test_levels_on_the_way_up(value, expected):
    assert alarm_level(value, LEVELS) == expected


def test_hysteresis_on_the_way_down():
    assert alarm_level(81.97, LEVELS, current=2) == 2  # within 5 cm of II: hold
    assert alarm_level(81.94, LEVELS, current=2) == 1
    assert alarm_level(79.96, LEVELS, current=1) == 1
    assert alarm_level(79.0, LEVELS, current=3) == 0


def test_levels_from_metadata():
    assert AlarmLevels.from_metadata({"alarm_levels": [1, 2, 3]}) == AlarmLevels(1, 2, 3)
    assert AlarmLevels.from_metadata({"alarm_levels": {"I": 1, "II": 2, "III": 3}}) == AlarmLevels(1, 2, 3)
    assert AlarmLevels.from_metadata({}) is None
    with pytest.raises(ValueError, match="must rise"):
        AlarmLevels.from_metadata({"alarm_levels": [3, 2, 1]})
    with pytest.raises(ValueError, match="three numbers"):
        AlarmLevels.from_metadata({"alarm_levels": [1, "x", 3]})
