"""The demo's seeded KPI history: plausible, deterministic, per unit, and within the catalogue."""

from __future__ import annotations

import datetime as dt

from kpi.catalogue import load_catalogue
from kpi.history import history_values

D = dt.date


def test_a_year_of_every_telemetry_kpi_province_wide_and_per_unit():
    catalogue = load_catalogue()
    first, last = D(2025, 12, 7), D(2026, 12, 6)
    values = history_values(catalogue, first, last, ["sa_pa", "bac_ha"])
    days = (last - first).days + 1
    province = [v for v in values if v.unit_id == ""]
    assert len(province) == days * len(catalogue.telemetry())
    per_unit = {k.id for k in catalogue.telemetry() if k.units}
    assert {v.kpi_id for v in values if v.unit_id == "sa_pa"} == per_unit
    for v in values:
        kpi = catalogue.get(v.kpi_id)
        assert first <= v.period_start <= last and v.period == "day"
        assert v.value >= kpi.minimum and (kpi.maximum is None or v.value <= kpi.maximum), v
    assert history_values(catalogue, first, last, ["sa_pa"])[:50] == history_values(
        catalogue, first, last, ["sa_pa"])[:50]  # deterministic


def test_the_seven_day_sum_is_the_sum_of_the_days():
    catalogue = load_catalogue()
    values = history_values(catalogue, D(2026, 1, 1), D(2026, 1, 31), [])
    daily = {v.period_start: v.value for v in values if v.kpi_id == "incidents_today"}
    week = {v.period_start: v.value for v in values if v.kpi_id == "incidents_7d"}
    day = D(2026, 1, 20)
    assert week[day] == sum(daily[day - dt.timedelta(days=i)] for i in range(7))


def test_visitors_peak_at_weekends_and_in_summer():
    catalogue = load_catalogue()
    values = history_values(catalogue, D(2026, 1, 1), D(2026, 12, 31), [])
    visitors = {v.period_start: v.value for v in values if v.kpi_id == "visitors_today"}
    weekends = [x for d, x in visitors.items() if d.weekday() >= 5]
    weekdays = [x for d, x in visitors.items() if d.weekday() < 5]
    assert sum(weekends) / len(weekends) > 1.3 * sum(weekdays) / len(weekdays)
    july = [x for d, x in visitors.items() if d.month == 7]
    january = [x for d, x in visitors.items() if d.month == 1]
    assert sum(july) / len(july) > sum(january) / len(january)
