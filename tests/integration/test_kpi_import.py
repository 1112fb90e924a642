"""`ioc kpi import` / `seed` and `import_rows` against the real database: all rows or none."""

from __future__ import annotations

import pytest

from ioc.cli import main
from ioc.config import settings_env
from kpi.catalogue import load_catalogue
from kpi.importer import import_rows
from kpi.queries import breakdown_values, freshness, latest_values

pytestmark = pytest.mark.integration

GOOD = """kpi_id,unit_id,breakdown,period,period_start,value,numerator,denominator,note
egov_dossiers_online_pct,,,year,2021,52.4,120000,229000,provincial report 2021
egov_dossiers_online_pct,sa_pa,,year,2021,61,,,
egov_edocs_month,,,month,2021-03,90500,,,
dx_tasks_done_pct,,awareness,year,2022,90,18,20,
"""

BAD = """kpi_id,unit_id,breakdown,period,period_start,value,numerator,denominator,note
egov_dossiers_online_pct,,,year,2021,52.4,120000,229000,fine on its own
egov_edocs_month,,,month,2021-03,"90.500,0",,,
aqi_today,,,day,2021-03-01,40,,,
egov_services_full_pct,,,year,2021,45,900,800,
"""


@pytest.fixture
def cli_env(settings, monkeypatch):
    for var, value in settings_env(settings).items():
        monkeypatch.setenv(var, value)
    return settings


def _count(conn) -> int:
    return conn.execute("SELECT count(*) FROM kpi_values").fetchone()[0]


def _units(conn) -> None:
    conn.execute("INSERT INTO devices (device_id, family, kind, name, unit_id) VALUES "
                 "('aq-1', 'environment', 'air_quality', 'Sa Pa', 'sa_pa')")
    conn.commit()


def test_seed_stores_the_reported_figures_once(cli_env, db_conn, capsys):
    assert main(["kpi", "seed"]) == 0
    assert "23 value(s) stored" in capsys.readouterr().out
    assert main(["kpi", "seed"]) == 0  # idempotent: the same rows replaced
    assert _count(db_conn) == 23
    catalogue = load_catalogue()
    latest = latest_values(db_conn, catalogue)
    full = latest["egov_services_full_pct"]
    assert (full.current.value, full.current.period_start.year) == (37, 2020)
    assert full.previous.value == 27.2
    # the percentages as the province reported them, the counts kept beside them
    (online_2019,) = db_conn.execute(
        "SELECT value, numerator, denominator, note FROM kpi_values "
        "WHERE kpi_id = 'egov_services_online_pct' AND period_start = '2019-01-01'").fetchall()
    assert online_2019[:3] == (41.36, 850, 2000) and "42.5%" in online_2019[3]
    parts = breakdown_values(db_conn, catalogue.get("dsig_certificates"))
    assert [(p.breakdown, p.value) for p in parts] == [
        ("organisation", 660), ("personal", 1600), ("sim_ca", 459)]
    assert freshness(db_conn).import_source == "seed:lao_cai_reported.csv"
    (audit,) = db_conn.execute(
        "SELECT count(*) FROM audit_log WHERE action = 'kpi.import'").fetchone()
    assert audit == 2


def test_a_good_file_is_imported(cli_env, db_conn, tmp_path, capsys):
    _units(db_conn)
    path = tmp_path / "bao_cao_2021.csv"
    path.write_text(GOOD, encoding="utf-8")
    assert main(["kpi", "import", str(path)]) == 0
    assert "4 value(s) stored from file:bao_cao_2021.csv" in capsys.readouterr().out
    rows = db_conn.execute(
        "SELECT kpi_id, unit_id, breakdown, period, value, source FROM kpi_values "
        "ORDER BY kpi_id, unit_id, breakdown").fetchall()
    assert rows[0] == ("dx_tasks_done_pct", "", "awareness", "year", 90.0,
                       "file:bao_cao_2021.csv")
    assert len(rows) == 4


def test_a_bad_file_stores_nothing_and_names_every_bad_line(cli_env, db_conn, tmp_path, capsys):
    path = tmp_path / "bad.csv"
    path.write_text(BAD, encoding="utf-8")
    assert main(["kpi", "import", str(path)]) == 1
    err = capsys.readouterr().err
    assert "bad.csv was not imported: 3 problem(s) in 4 row(s); nothing was stored" in err
    assert "line 3: value: '90.500,0': write numbers with '.'" in err
    assert "line 4: kpi_id: aqi_today is computed from telemetry" in err
    assert "line 5: numerator: numerator 900 is larger than denominator 800" in err
    assert _count(db_conn) == 0  # line 2 was good, and it was not stored either


CONTRADICTING = """kpi_id,unit_id,breakdown,period,period_start,value,numerator,denominator,note
egov_edocs_month,,,month,2021-03,90500,,,
dx_tasks_done_pct,,awareness,year,2022,90,18,20,
dx_tasks_done_pct,,institutions,year,2022,90,1,20,typed in the wrong column
egov_services_full_pct,,,year,2021,45,900,2000,
"""


def test_a_value_against_its_own_counts_refuses_the_file(cli_env, db_conn, tmp_path, capsys):
    path = tmp_path / "contradicting.csv"
    path.write_text(CONTRADICTING, encoding="utf-8")
    assert main(["kpi", "import", str(path)]) == 1
    err = capsys.readouterr().err
    assert "contradicting.csv was not imported: 1 problem(s) in 4 row(s); nothing was stored" in err
    assert ("line 4: value: 90 contradicts numerator/denominator 1/20 = 5.00 % (more than 0.5 "
            "percentage points apart)") in err
    assert _count(db_conn) == 0  # lines 2, 3 and 5 were good, and were not stored either


def test_missing_file_and_unknown_unit(cli_env, db_conn, tmp_path, capsys):
    assert main(["kpi", "import", str(tmp_path / "none.csv")]) == 1
    assert "cannot read" in capsys.readouterr().err
    _units(db_conn)
    path = tmp_path / "d.csv"
    path.write_text("kpi_id,unit_id,period,period_start,value\n"
                    "egov_dossiers_online_pct,ha_noi,year,2021,40\n", encoding="utf-8")
    assert main(["kpi", "import", str(path)]) == 1
    assert "line 2: unit_id: unknown unit 'ha_noi'; known: sa_pa" in capsys.readouterr().err


def test_import_rows_for_the_api(db_conn):
    rows = [
        {"kpi_id": "egov_edocs_month", "period": "month", "period_start": "2021-04",
         "value": 91000},
        {"kpi_id": "egov_edocs_month", "period": "month", "period_start": "2021-05",
         "value": -1},
    ]
    report = import_rows(db_conn, rows, source="api:test")
    assert not report.ok and report.stored == 0 and report.unit == "row"
    assert report.to_dict()["problems"] == [
        {"row": 2, "column": "value", "reason": "-1 is outside 0..∞ for egov_edocs_month"}]
    assert _count(db_conn) == 0
    report = import_rows(db_conn, rows[:1], source="api:test", actor="user:alice")
    assert report.ok and report.stored == 1 and report.kpis == ("egov_edocs_month",)
    db_conn.commit()
    assert db_conn.execute(
        "SELECT actor, target FROM audit_log WHERE action = 'kpi.import'").fetchone() == (
        "user:alice", "api:test")


def test_import_rows_refuses_a_value_against_its_counts(db_conn):
    rows = [
        {"kpi_id": "egov_edocs_month", "period": "month", "period_start": "2021-04",
         "value": 91000},
        {"kpi_id": "egov_services_full_pct", "period": "year", "period_start": "2021",
         "value": 90, "numerator": 1, "denominator": 20},
    ]
    report = import_rows(db_conn, rows, source="api:test")
    assert not report.ok and report.stored == 0
    (problem,) = report.to_dict()["problems"]
    assert (problem["row"], problem["column"]) == (2, "value")
    assert problem["reason"].startswith("90 contradicts numerator/denominator 1/20 = 5.00 %")
    assert _count(db_conn) == 0
    # the report's own figure beside counts that disagree: accepted when said so, with a note
    rows[1] = {**rows[1], "value": 77, "numerator": 10, "denominator": 14, "as_reported": True,
               "note": "reported as 77 %; 10/14 is 71.4 %"}
    report = import_rows(db_conn, rows, source="api:test")
    assert report.ok and report.stored == 2
