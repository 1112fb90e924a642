"""Reading and checking reported KPI figures: every bad row named with its line and reason."""

from __future__ import annotations

import datetime as dt

import pytest

from ioc.kpi.catalogue import DEFAULT_SEED, load_catalogue
from ioc.kpi.importer import check_rows, read_csv

TODAY = dt.date(2026, 11, 18)
DISTRICTS = {"sa_pa", "bac_ha", "lao_cai_city"}
HEADER = "kpi_id,district,breakdown,period,period_start,value,numerator,denominator,note\n"


def check(text: str | bytes, districts=DISTRICTS):
    rows, problems = read_csv(text)
    values, row_problems = check_rows(rows, load_catalogue(), districts, TODAY)
    return values, problems + row_problems


def messages(problems) -> list[str]:
    return [p.describe() for p in problems]


def test_the_seed_file_is_valid():
    values, problems = check(DEFAULT_SEED.read_bytes())
    assert problems == []
    assert len(values) == 23
    full = {v.period_start.year: v for v in values if v.kpi_id == "egov_services_full_pct"}
    assert (full[2020].value, full[2020].numerator, full[2020].denominator) == (37.3, 753, 2018)
    pillars = [v for v in values if v.kpi_id == "dx_tasks_done_pct" and v.breakdown]
    assert len(pillars) == 11 and sum(v.numerator for v in pillars) == 101


def test_short_period_forms_semicolons_a_bom_and_computed_percentages():
    text = ("\ufeffkpi_id;period;period_start;numerator;denominator;district\n"
            "egov_dossiers_online_pct;quarter;2021-Q2;300;1200;sa_pa\n"
            "egov_dossiers_online_pct;month;2021-03;30;120;\n")
    values, problems = check(text.encode())
    assert problems == []
    assert [(v.period, v.period_start, v.value, v.district) for v in values] == [
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
        ("ict_index_rank,sa_pa,,year,2020,9,,,", "district: ict_index_rank is province-wide"),
        ("egov_dossiers_online_pct,hanoi,,year,2020,9,,,", "district: unknown district 'hanoi'"),
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
    ],
)
def test_a_bad_row_is_named_with_its_line_and_reason(row, expected):
    values, problems = check(HEADER + row + "\n")
    assert values == []
    assert any(m.startswith("line 2: " + expected) for m in messages(problems)), messages(problems)


def test_every_problem_of_a_file_is_reported_with_its_line():
    text = (HEADER
            + "ict_index_rank,,,year,2019,9,,,\n"           # line 2: good
            + "\n"                                           # line 3: blank, skipped
            + "ict_index_rank,,,year,2019,8,,,\n"           # line 4: same key as line 2
            + 'egov_edocs_month,,,year,2020,81000,,,"a\nnote"\n'  # lines 5-6: good
            + "egov_edocs_month,,,year,2031,1,,,\n")         # line 7: future
    values, problems = check(text)
    assert messages(problems) == [
        "line 4: the same KPI, district, breakdown and period as line 2",
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
    ]
    values, problems = check_rows(enumerate(rows, 1), load_catalogue(), None, TODAY)
    assert [v.value for v in values] == [90000]
    assert [p.describe("row") for p in problems] == [
        "row 2: value: True is not a number",
        "row 3: unknown field(s) 'colour'",
        "row 4: expected an object of column: value",
    ]
