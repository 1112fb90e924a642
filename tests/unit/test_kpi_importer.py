"""Reading and checking reported KPI figures: every bad row named with its line and reason."""

from __future__ import annotations

import datetime as dt

import pytest

from kpi.catalogue import DEFAULT_SEED, load_catalogue
from kpi.importer import check_rows, read_csv

TODAY = dt.date(2026, 11, 18)
UNITS = {"sa_pa", "bac_ha", "lao_cai_city"}
HEADER = "kpi_id,unit_id,breakdown,period,period_start,value,numerator,denominator,note\n"


def check(text: str | bytes, units=UNITS):
    rows, problems = read_csv(text)
    values, row_problems = check_rows(rows, load_catalogue(), units, TODAY)
    return values, problems + row_problems


def messages(problems) -> list[str]:
    return [p.describe() for p in problems]


def test_the_seed_file_is_valid():
    values, problems = check(DEFAULT_SEED.read_bytes())
    assert problems == []
    assert len(values) == 23
    full = {v.period_start.year: v for v in values if v.kpi_id == "egov_services_full_pct"}
    assert (full[2020].value, full[2020].numerator, full[2020].denominator) == (37, 753, 2018)
    pillars = [v for v in values if v.kpi_id == "dx_tasks_done_pct" and v.breakdown]
    assert len(pillars) == 11 and sum(v.numerator for v in pillars) == 101


def test_the_seed_stores_the_percentages_the_province_reported():
    """shared/specs/province-facts.md: the value column is the report's figure, the counts stay."""
    values, _ = check(DEFAULT_SEED.read_bytes())
    by_key = {(v.kpi_id, v.breakdown, v.period_start.year): v for v in values}
    reported = {
        ("egov_services_online_pct", "", 2019): (41.36, 850, 2000),
        ("egov_services_online_pct", "", 2020): (58, 1168, 2018),
        ("egov_services_full_pct", "", 2020): (37, 753, 2018),
        ("egov_dossiers_online_pct", "", 2020): (37, 80294, 218949),
        ("dx_tasks_done_pct", "", 2021): (70.6, 101, 143),
        ("dx_tasks_done_pct", "digital_infrastructure", 2021): (72, 17, 22),
        ("dx_tasks_done_pct", "cyber_security", 2021): (93, 13, 14),
        ("dx_tasks_done_pct", "government_data", 2021): (87.5, 7, 8),
        ("dx_tasks_done_pct", "online_services", 2021): (70, 9, 13),
        ("dx_tasks_done_pct", "digital_economy", 2021): (46.1, 6, 13),
        ("dx_tasks_done_pct", "digital_society", 2021): (55.5, 5, 9),
        ("dx_tasks_done_pct", "priority_sectors", 2021): (77, 10, 14),
    }
    for key, figures in reported.items():
        v = by_key[key]
        assert (v.value, v.numerator, v.denominator) == figures, key
    # where the report's percentage and its counts disagree, the note says so
    for key in [("egov_services_online_pct", "", 2019),
                ("dx_tasks_done_pct", "digital_infrastructure", 2021),
                ("dx_tasks_done_pct", "priority_sectors", 2021)]:
        assert "do not give" in by_key[key].note, key
    certificates = {v.breakdown: v.value for v in values if v.kpi_id == "dsig_certificates"}
    assert certificates == {"": 2719, "organisation": 660, "personal": 1600, "sim_ca": 459}
    assert by_key[("egov_edocs_month", "", 2020)].value == 81000
    assert by_key[("ict_index_rank", "", 2019)].value == 9


def test_short_period_forms_semicolons_a_bom_and_computed_percentages():
    text = ("\ufeffkpi_id;period;period_start;numerator;denominator;unit_id\n"
            "egov_dossiers_online_pct;quarter;2021-Q2;300;1200;sa_pa\n"
            "egov_dossiers_online_pct;month;2021-03;30;120;\n")
    values, problems = check(text.encode())
    assert problems == []
    assert [(v.period, v.period_start, v.value, v.unit_id) for v in values] == [
        ("quarter", dt.date(2021, 4, 1), 25.0, "sa_pa"),
        ("month", dt.date(2021, 3, 1), 25.0, ""),
    ]


@pytest.mark.parametrize(
    ("row", "expected"),
    [
        ("nope,,,year,2020,1,,,", "kpi_id: unknown KPI 'nope'"),
        ("aqi_today,,,day,2020-01-01,50,,,", "kpi_id: aqi_today is computed from telemetry"),
        ("ict_index_rank,,,month,2020-01,9,,,", "period: ict_index_rank is reported per year"),
        ("ict_index_rank,,,year,2020-02-01,9,,,", "period_start: 2020-02-01 does not start a year"),
        ("ict_index_rank,,,year,2030,9,,,", "period_start: 2030-01-01 is in the future"),
        ("ict_index_rank,,,year,2020,0,,,", "value: 0 is outside 1..63"),
        ("ict_index_rank,,,year,2020,9.5,,,", "value: 9.5: ict_index_rank counts whole numbers"),
        ("ict_index_rank,sa_pa,,year,2020,9,,,", "unit_id: ict_index_rank is province-wide"),
        ("egov_dossiers_online_pct,hanoi,,year,2020,9,,,", "unit_id: unknown unit 'hanoi'"),
        ("egov_edocs_month,,,year,2020,\"81.000,5\",,,", "value: '81.000,5': write numbers"),
        ("egov_edocs_month,,,year,2020,many,,,", "value: 'many' is not a number"),
        ("egov_edocs_month,,,year,2020,,,,", "value: required"),
        ("egov_services_full_pct,,,year,2020,37,753,,", "denominator: give both"),
        ("egov_services_full_pct,,,year,2020,,900,800,", "numerator: numerator 900 is larger"),
        ("egov_services_full_pct,,,year,2020,137,,,", "value: 137 is outside 0..100"),
        ("dx_tasks_done_pct,,pillar9,year,2021,50,,,",
         "breakdown: dx_tasks_done_pct has no breakdown 'pillar9'"),
        ("egov_edocs_month,,,decade,2020,1,,,", "period: 'decade' is not one of"),
        ("egov_edocs_month,,,year,,1,,,", "period_start: required"),
        ("egov_edocs_month,,,year,2020,1,,", "8 field(s) where the header has 9"),
        ("egov_services_full_pct,,,year,2020,90,1,20,",
         "value: 90 contradicts numerator/denominator 1/20 = 5.00 % (more than 0.5 percentage "
         "points apart)"),
        ("egov_services_full_pct,,,year,2020,38,753,2018,",
         "value: 38 contradicts numerator/denominator 753/2018 = 37.31 %"),
    ],
)
def test_a_bad_row_is_named_with_its_line_and_reason(row, expected):
    values, problems = check(HEADER + row + "\n")
    assert values == []
    assert any(m.startswith("line 2: " + expected) for m in messages(problems)), messages(problems)


REPORTED_HEADER = HEADER.rstrip("\n") + ",as_reported\n"


@pytest.mark.parametrize(
    ("row", "expected"),
    [
        ("egov_services_online_pct,,,year,2019,41.36,850,2000,,yes",
         "note: required with as_reported"),
        ("egov_services_online_pct,,,year,2019,41.36,850,2000,report 2019,maybe",
         "as_reported: 'maybe': write yes or no"),
        ("egov_services_online_pct,,,year,2019,41.36,850,2000,report 2019,no",
         "value: 41.36 contradicts numerator/denominator 850/2000 = 42.50 %"),
    ],
)
def test_a_value_against_its_counts_needs_as_reported_and_a_note(row, expected):
    values, problems = check(REPORTED_HEADER + row + "\n")
    assert values == []
    assert len(problems) == 1
    assert any(m.startswith("line 2: " + expected) for m in messages(problems)), messages(problems)


def test_rounded_and_as_reported_percentages_are_accepted():
    values, problems = check(
        REPORTED_HEADER
        + "egov_services_full_pct,,,year,2020,37,753,2018,rounded as reported,\n"   # 37.31
        + "egov_services_online_pct,,,year,2019,41.36,850,2000,\"the report: 41.36%\",yes\n"
        + "egov_dossiers_online_pct,,,year,2020,,80294,218949,,\n")
    assert problems == []
    assert [v.value for v in values] == [37, 41.36, 36.67]


def test_a_file_with_a_value_against_its_counts_is_refused_as_a_whole():
    text = (HEADER
            + "egov_edocs_month,,,year,2020,81000,,,\n"                 # line 2: good
            + "dx_tasks_done_pct,,awareness,year,2021,75,15,20,\n"      # line 3: good
            + "dx_tasks_done_pct,,institutions,year,2021,90,1,20,\n"    # line 4: 1/20 is 5 %
            + "egov_services_full_pct,,,year,2020,37,753,2018,\n")      # line 5: good
    values, problems = check(text)
    assert messages(problems) == [
        "line 4: value: 90 contradicts numerator/denominator 1/20 = 5.00 % (more than 0.5 "
        "percentage points apart); correct the value or the counts, or, when the report itself "
        "gives both, set as_reported to yes and say in note how they differ"]


def test_every_problem_of_a_file_is_reported_with_its_line():
    text = (HEADER
            + "ict_index_rank,,,year,2019,9,,,\n"           # line 2: good
            + "\n"                                           # line 3: blank, skipped
            + "ict_index_rank,,,year,2019,8,,,\n"           # line 4: same key as line 2
            + 'egov_edocs_month,,,year,2020,81000,,,"a\nnote"\n'  # lines 5-6: good
            + "egov_edocs_month,,,year,2031,1,,,\n")         # line 7: future
    values, problems = check(text)
    assert messages(problems) == [
        "line 4: the same KPI, unit_id, breakdown and period as line 2",
        "line 7: period_start: 2031-01-01 is in the future",
    ]


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (b"", "file: the file is empty"),
        (HEADER.encode(), "file: no data rows after the header"),
        (b"kpi_id,period,period_start,value,colour\nx,year,2020,1,red\n",
         "line 1: unknown column(s) 'colour'"),
        (b"kpi_id,period,value\n", "line 1: missing column(s) period_start"),
        ((HEADER + "egov_edocs_month,,,year,2020,1,,,caf\xe9\n").encode("latin-1"),
         "line 2: not UTF-8 text"),
    ],
)
def test_a_bad_file_is_refused_as_a_whole(data, expected):
    values, problems = check(data)
    assert values == []
    assert messages(problems)[0].startswith(expected), messages(problems)


def test_rows_from_the_api_may_be_json_numbers_and_are_counted_from_one():
    rows = [
        {"kpi_id": "egov_edocs_month", "period": "month", "period_start": "2021-03",
         "value": 90000},
        {"kpi_id": "egov_edocs_month", "period": "month", "period_start": "2021-04",
         "value": True},
        {"kpi_id": "egov_edocs_month", "period": "month", "period_start": "2021-05", "value": 1,
         "colour": "red"},
        ["not", "an", "object"],
        {"kpi_id": "dx_tasks_done_pct", "breakdown": "priority_sectors", "period": "year",
         "period_start": "2021", "value": 77, "numerator": 10, "denominator": 14},
        {"kpi_id": "dx_tasks_done_pct", "breakdown": "priority_sectors", "period": "year",
         "period_start": "2022", "value": 77, "numerator": 10, "denominator": 14,
         "as_reported": True, "note": "the report says 77 %; 10/14 is 71.4 %"},
    ]
    values, problems = check_rows(enumerate(rows, 1), load_catalogue(), None, TODAY)
    assert [v.value for v in values] == [90000, 77]
    assert [p.describe("row") for p in problems] == [
        "row 2: value: True is not a number",
        "row 3: unknown field(s) 'colour'",
        "row 4: expected an object of column: value",
        "row 5: value: 77 contradicts numerator/denominator 10/14 = 71.43 % (more than 0.5 "
        "percentage points apart); correct the value or the counts, or, when the report itself "
        "gives both, set as_reported to yes and say in note how they differ",
    ]
