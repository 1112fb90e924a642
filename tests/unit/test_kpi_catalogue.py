"""The KPI catalogue: validated as data, and the pure judgements (goal, status, trend, periods)."""

from __future__ import annotations

import datetime as dt

import pytest

from kpi.catalogue import (
    COMPUTED,
    DEFAULT_CATALOGUE,
    CatalogueError,
    goal_at,
    goal_on_path,
    load_catalogue,
    parse_catalogue,
    period_end,
    stale_year,
    status_of,
    trend_of,
)
from kpi.periods import PeriodError, parse_period_start, period_label

D = dt.date


def test_the_demo_catalogue_covers_the_issue():
    catalogue = load_catalogue()
    ids = {k.id for k in catalogue.kpis}
    assert {k.id for k in catalogue.telemetry()} == COMPUTED
    assert {"egov_services_full_pct", "egov_services_online_pct", "egov_dossiers_online_pct",
            "egov_edocs_month", "dsig_certificates", "dx_tasks_done_pct"} <= ids
    for kpi in catalogue.kpis:
        assert kpi.name.vi and kpi.name.en and kpi.definition.vi and kpi.definition.en
        assert kpi.targets or kpi.id == "visitors_today"
    assert len(catalogue.get("dx_tasks_done_pct").breakdowns) == 11


def _with(text: str, old: str, new: str) -> str:
    assert old in text
    return text.replace(old, new, 1)


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        ("    decimals: 0\n", "    decimals: 0\n    colour: red\n",
         "Extra inputs are not permitted"),
        ("  - id: aqi_good_share\n", "  - id: aqi_today\n", "duplicate KPI ids: ['aqi_today']"),
        ("    group: air\n", "    group: weather\n", "unknown group 'weather'"),
        ("  - id: aqi_today\n", "  - id: aqi_tomorrow\n", "'aqi_tomorrow' has no computation"),
        ("timezone: Asia/Ho_Chi_Minh", "timezone: Mars/Olympus", "unknown time zone"),
        ("    target: 100\n    tolerance: 50\n    due: 2030-12-31\n",
         "    target: 100\n    tolerance: 50\n    due: null\n", "needs `due` and `target_basis`"),
    ],
)
def test_a_broken_catalogue_is_refused_with_the_reason(old, new, expected):
    text = _with(DEFAULT_CATALOGUE.read_text(encoding="utf-8"), old, new)
    with pytest.raises(CatalogueError, match="catalogue.yaml") as info:
        parse_catalogue(text, "catalogue.yaml")
    assert expected in str(info.value)


def test_goal_follows_the_path_from_the_baseline_until_due():
    kpi = load_catalogue().get("egov_services_full_pct")  # 27.2 at end 2019 -> 100 at end 2025
    assert goal_on_path(kpi.targets[0], D(2019, 12, 31)) == 27.2
    assert goal_at(kpi, D(2020, 12, 31)) == pytest.approx(27.2 + 72.8 * 366 / 2192)
    assert goal_at(kpi, D(2026, 6, 30)) == 100  # the 2026-2030 target
    # 37 % (as reported) at the end of 2020 is 2.4 points behind the path: amber, not red
    assert status_of(kpi, 37, D(2020, 12, 31)) == "warn"
    assert status_of(kpi, 45, D(2020, 12, 31)) == "good"
    assert status_of(kpi, 20, D(2020, 12, 31)) == "bad"


def test_a_figure_is_never_judged_against_a_target_of_another_period():
    catalogue = load_catalogue()
    years = range(2015, 2033)
    for kpi in catalogue.kpis:
        for year in years:
            start, end = D(year, 1, 1), D(year, 12, 31)
            goal = goal_at(kpi, end, start)
            own = [t for t in kpi.targets if t.start <= start and end <= t.due]
            assert (goal is None) == (not own), (kpi.id, year)
            if not own:
                assert status_of(kpi, 1.0, end, start) == "info", (kpi.id, year)
    full = catalogue.get("egov_services_full_pct")
    assert goal_at(full, D(2019, 12, 31), D(2019, 1, 1)) is None  # the baseline year: no target
    assert goal_at(full, D(2027, 12, 31), D(2027, 1, 1)) == 100  # 2026-2030's own target
    dossiers = catalogue.get("egov_dossiers_online_pct")  # 50 for 2021-2025, 80 for 2026-2030
    assert status_of(dossiers, 60, D(2025, 12, 31), D(2025, 1, 1)) == "good"
    assert status_of(dossiers, 60, D(2026, 12, 31), D(2026, 1, 1)) == "bad"
    assert status_of(dossiers, 37, D(2020, 12, 31), D(2020, 1, 1)) == "info"
    # a year figure that straddles two periods (a fiscal year, say) belongs to neither
    assert goal_at(dossiers, D(2026, 6, 30), D(2025, 7, 1)) is None


def test_overlapping_targets_and_a_target_ending_before_it_starts_are_refused():
    text = DEFAULT_CATALOGUE.read_text(encoding="utf-8")
    overlap = _with(text, "        start: 2026-01-01\n        due: 2030-12-31\n        basis: demo\n"
                    "        document: \"demo: to be replaced by the province's 2026-2030 plan\"\n"
                    "        note: {vi: \"Giả định cho bản demo (đối chiếu",
                    "        start: 2025-01-01\n        due: 2030-12-31\n        basis: demo\n"
                    "        document: \"demo: to be replaced by the province's 2026-2030 plan\"\n"
                    "        note: {vi: \"Giả định cho bản demo (đối chiếu")
    with pytest.raises(CatalogueError, match="overlap"):
        parse_catalogue(overlap, "catalogue.yaml")
    backwards = _with(text, "        start: 2026-01-01\n        due: 2030-12-31\n        basis: demo\n"
                      "        document: \"demo: to be replaced by the province's 2026-2030 plan\"\n"
                      "        note: {vi: \"Giả định cho bản demo\", en: \"Demo assumption\"}\n"
                      "    units: false\n    periods: [year]\n    decimals: 1\n    maximum: 1000",
                      "        start: 2031-01-01\n        due: 2030-12-31\n        basis: demo\n"
                      "        document: \"demo: to be replaced by the province's 2026-2030 plan\"\n"
                      "        note: {vi: \"Giả định cho bản demo\", en: \"Demo assumption\"}\n"
                      "    units: false\n    periods: [year]\n    decimals: 1\n    maximum: 1000")
    with pytest.raises(CatalogueError, match="before its `start`"):
        parse_catalogue(backwards, "catalogue.yaml")


def test_staleness_is_shown_for_figures_older_than_a_year():
    today = D(2026, 12, 7)
    assert stale_year(D(2020, 12, 31), today) == 2020
    assert stale_year(D(2025, 12, 31), today) is None  # within a year
    assert stale_year(D(2025, 12, 6), today) == 2025
    assert stale_year(today, today) is None


def test_status_for_lower_is_better_and_for_no_target():
    catalogue = load_catalogue()
    aqi = catalogue.get("aqi_today")  # <= 100, amber to 150
    when = D(2026, 11, 18)
    assert [status_of(aqi, v, when) for v in (40, 100, 120, 150, 151)] == [
        "good", "good", "warn", "warn", "bad"]
    assert status_of(aqi, None, when) == "none"
    assert status_of(catalogue.get("visitors_today"), 5000, when) == "info"


def test_trend_says_whether_a_change_is_an_improvement():
    catalogue = load_catalogue()
    aqi, share = catalogue.get("aqi_today"), catalogue.get("aqi_good_share")
    assert trend_of(aqi, 80, 90) == ("down", True)
    assert trend_of(share, 80, 90) == ("down", False)
    assert trend_of(aqi, 80.2, 80) == ("flat", None)
    assert trend_of(aqi, 80, None) == ("none", None)


@pytest.mark.parametrize(
    ("period", "text", "start", "end", "label"),
    [
        ("year", "2020", D(2020, 1, 1), D(2020, 12, 31), "2020"),
        ("quarter", "2021-Q2", D(2021, 4, 1), D(2021, 6, 30), "Q2/2021"),
        ("quarter", "2021-10-01", D(2021, 10, 1), D(2021, 12, 31), "Q4/2021"),
        ("month", "2024-02", D(2024, 2, 1), D(2024, 2, 29), "02/2024"),
        ("week", "2026-11-16", D(2026, 11, 16), D(2026, 11, 22), "tuần 16/11/2026"),
        ("day", "2026-11-18", D(2026, 11, 18), D(2026, 11, 18), "18/11/2026"),
    ],
)
def test_periods_read_in_short_forms(period, text, start, end, label):
    assert parse_period_start(period, text) == start
    assert period_end(period, start) == end
    assert period_label(period, start) == label


@pytest.mark.parametrize(("period", "text"), [("week", "2026-11-18"), ("month", "2024-13"),
                                              ("quarter", "2021-05-01"), ("year", "20")])
def test_a_period_start_must_start_its_period(period, text):
    with pytest.raises(PeriodError):
        parse_period_start(period, text)
