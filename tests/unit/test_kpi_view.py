"""The KPI page's view models: numbers in both languages, tiles, trend words (no browser)."""

from __future__ import annotations

import datetime as dt

from dashboards.kpi_figures import trend_figure
from dashboards.kpi_view import fmt_number, tile_for, with_unit
from kpi.catalogue import load_catalogue
from kpi.queries import Latest, StoredValue

TODAY = dt.date(2026, 11, 18)
NOW = dt.datetime(2026, 11, 18, 8, 0, tzinfo=dt.UTC)


def value(kpi_id, v, day=TODAY, period="day", num=None, den=None) -> StoredValue:
    return StoredValue(kpi_id, "", "", period, day, v, num, den, None, "telemetry", NOW)


def test_numbers_use_the_languages_separators():
    assert fmt_number(57741, 0, "vi") == "57.741"
    assert fmt_number(57741, 0, "en") == "57,741"
    assert fmt_number(37.31, 1, "vi") == "37,3"
    assert fmt_number(1234.5, 1, "vi") == "1.234,5"
    assert fmt_number(None, 0, "vi") == "–"
    catalogue = load_catalogue()
    assert with_unit(catalogue.get("aqi_good_share"), 33, "vi") == "33%"
    assert with_unit(catalogue.get("incidents_today"), 85, "en") == "85 incidents"


def test_a_tile_against_its_target_and_yesterday():
    kpi = load_catalogue().get("aqi_today")
    tile = tile_for(kpi, Latest(value("aqi_today", 120),
                                value("aqi_today", 95, TODAY - dt.timedelta(days=1))), TODAY, "vi")
    assert (tile.value, tile.status, tile.status_text) == ("120", "warn", "Cần chú ý")
    assert tile.period == "Hôm nay"
    assert tile.trend == "▲ +25 so với hôm qua" and tile.trend_tone == "worse"
    assert tile.target.startswith("Mục tiêu 2026–2030: ≤ 100") and tile.target.endswith("*")
    assert tile.stale == ""
    assert tile.target_value.startswith("≤ 100")
    flat = tile_for(kpi, Latest(value("aqi_today", 60.2),
                                value("aqi_today", 60, TODAY - dt.timedelta(days=1))), TODAY, "en")
    assert flat.trend == "▶ unchanged vs yesterday" and flat.trend_tone == "same"


def test_an_old_reported_figure_is_shown_as_old_and_not_judged_against_today():
    kpi = load_catalogue().get("egov_services_full_pct")
    latest = Latest(value("egov_services_full_pct", 37.3, dt.date(2020, 1, 1), "year", 753, 2018),
                    value("egov_services_full_pct", 27.2, dt.date(2019, 1, 1), "year"))
    tile = tile_for(kpi, latest, TODAY, "vi")  # November 2026: the figure is of 2020
    assert tile.period == "Số liệu 2020" and tile.stale == "Số liệu cũ (2020)"
    assert (tile.status, tile.status_text) == ("info", "Chưa có số liệu kỳ này")
    assert tile.target.startswith("Mục tiêu 2026–2030: ≥ 100,0%")
    assert "lộ trình" not in tile.target  # the path of 2020-2025 is not today's goal
    assert tile.trend.startswith("▲ +10,1 so với số liệu 2019")
    assert tile.detail == "753 / 2.018"


def test_a_reported_tile_in_its_own_period_follows_the_path():
    kpi = load_catalogue().get("egov_services_full_pct")
    latest = Latest(value(kpi.id, 37.3, dt.date(2020, 1, 1), "year", 753, 2018), None)
    tile = tile_for(kpi, latest, dt.date(2021, 3, 1), "vi")
    assert (tile.status, tile.stale) == ("warn", "")
    assert tile.target.startswith("Mục tiêu 2020–2025: ≥ 100,0%")
    assert "lộ trình: 39,4%" in tile.target


def test_a_tile_without_a_value_and_a_chart_of_reported_figures():
    catalogue = load_catalogue()
    tile = tile_for(catalogue.get("incidents_verified_pct"), None, TODAY, "vi")
    assert (tile.value, tile.status, tile.status_text) == ("–", "none", "Chưa có số liệu")
    kpi = catalogue.get("egov_services_full_pct")
    points = [value(kpi.id, 27.2, dt.date(2019, 1, 1), "year"),
              value(kpi.id, 37.3, dt.date(2020, 1, 1), "year")]
    fig = trend_figure(kpi, points, "vi", 30, TODAY)
    assert list(fig.data[0].y) == [27.2, 37.3]
    # the 2020-2025 path from the 2019 baseline, then the 2026-2030 target, each in its period
    path, today_line = fig.data[1], fig.data[2]
    assert path.x[0] == dt.date(2020, 1, 1) and path.x[1] == dt.date(2025, 12, 31)
    assert path.y[0] == __import__("pytest").approx(27.2, abs=0.1) and path.y[1] == 100
    assert list(today_line.x) == [dt.date(2026, 1, 1), TODAY] and list(today_line.y) == [100, 100]
    # each point coloured against its own period: 2019 (the baseline year) has no target
    assert fig.data[0].marker.color[0] == "#4aa8ff"


def test_the_demo_history_is_said_to_be_demo_on_the_chart():
    kpi = load_catalogue().get("aqi_today")
    yesterday = TODAY - dt.timedelta(days=1)
    points = [StoredValue(kpi.id, "", "", "day", yesterday, 60, None, None, None,
                          "demo-history", NOW),
              value(kpi.id, 55)]
    fig = trend_figure(kpi, points, "vi", 30, TODAY)
    assert [a.text for a in fig.layout.annotations] == [
        f"○ Số liệu mẫu (demo) đến {yesterday:%d/%m/%Y}"]
    assert list(fig.data[0].marker.symbol) == ["circle-open", "circle"]
    assert not trend_figure(kpi, [value(kpi.id, 55)], "vi", 30, TODAY).layout.annotations
