"""Data quality KPIs ("đúng, đủ, sạch, sống"): the arithmetic against a hand computation."""

from __future__ import annotations

import datetime as dt

import pytest

from kpi.quality import DeviceDay, figures

DAY = dt.date(2026, 12, 6)
FULL = 86400.0


def _by(figs):
    return {(f.kpi_id, f.unit, f.family): f for f in figs}


def test_complete_live_clean_and_silent_by_hand():
    rows = [
        # a 10-minute air station: 144 due; 120 arrived in 20 of 24 hours; 2 dead letters;
        # 9 readings of a stuck sensor
        DeviceDay(DAY, "environment", "sa_pa", 600, FULL, 120, 20, 240, 9, 2, False),
        # a 5-minute water-level gauge: 288 due, 300 arrived (a chatty device counts 288), all
        # in a burst over 6 hours of the 24
        DeviceDay(DAY, "disaster", "sa_pa", 300, FULL, 300, 6, 300, 0, 0, False),
        # a 1-minute visitor counter silent all day, registered long ago
        DeviceDay(DAY, "tourism", "bac_ha", 60, FULL, 0, 0, 0, 0, 0, True),
        # a 3-hour rain gauge registered at noon: 4 due over 12 hours, expected in 4 hours
        DeviceDay(DAY, "disaster", None, 10800, FULL / 2, 4, 4, 4, 0, 1, False),
    ]
    by = _by(figures(rows))
    province = by[("data_complete_pct", "", "")]
    assert (province.numerator, province.denominator) == (120 + 288 + 0 + 4, 144 + 288 + 1440 + 4)
    assert province.value == pytest.approx(100 * 412 / 1876)
    live = by[("data_live_pct", "", "")]
    assert (live.numerator, live.denominator) == (20 + 6 + 0 + 4, 24 + 24 + 24 + 4)
    clean = by[("data_clean_pct", "", "")]
    assert (clean.numerator, clean.denominator) == ((240 - 9) + 300 + 0 + 4, 242 + 300 + 0 + 5)
    assert by[("devices_silent_long", "", "")].value == 1
    # per unit and per family
    sa_pa = by[("data_complete_pct", "sa_pa", "")]
    assert (sa_pa.numerator, sa_pa.denominator) == (120 + 288, 144 + 288)
    assert by[("data_live_pct", "sa_pa", "disaster")].value == pytest.approx(100 * 6 / 24)
    assert by[("devices_silent_long", "bac_ha", "tourism")].value == 1
    disaster = by[("data_clean_pct", "", "disaster")]
    assert (disaster.numerator, disaster.denominator) == (304, 305)
    # the unit-less gauge counts for the province only
    assert not any(f.unit is None for f in figures(rows))


def test_no_expectation_no_percentage():
    rows = [DeviceDay(DAY, "environment", "sa_pa", 600, 0, 0, 0, 0, 0, 0, False)]
    by = _by(figures(rows))
    assert ("data_complete_pct", "", "") not in by and ("data_clean_pct", "", "") not in by
    assert by[("devices_silent_long", "", "")].value == 0
