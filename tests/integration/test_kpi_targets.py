"""Targets per plan period stored by leadership: CLI, audit, and the judgement they change."""

from __future__ import annotations

import datetime as dt

import pytest

from dashboards.kpi_view import tile_for
from ioc.cli import main
from ioc.config import settings_env
from ioc.security import audit
from kpi.catalogue import Target, load_catalogue
from kpi.queries import latest_values
from kpi.targets import TargetError, effective_catalogue, set_target, stored_targets

pytestmark = pytest.mark.integration

D = dt.date


@pytest.fixture
def cli_env(settings, monkeypatch):
    for var, value in settings_env(settings).items():
        monkeypatch.setenv(var, value)
    return settings


def test_a_stored_target_replaces_the_catalogues_for_its_period_and_is_audited(
        cli_env, db_conn, capsys):
    assert main(["kpi", "targets", "set", "egov_dossiers_online_pct", "--value", "90",
                 "--start", "2026-01-01", "--due", "2030-12-31", "--basis", "plan",
                 "--document", "Kế hoạch 2026-2030 (thử)", "--actor", "chu.tich"]) == 0
    assert "stored" in capsys.readouterr().out
    catalogue = effective_catalogue(db_conn, load_catalogue())
    kpi = catalogue.get("egov_dossiers_online_pct")
    assert [(t.label(), t.value, t.basis) for t in kpi.targets] == [
        ("2021–2025", 50, "demo"), ("2026–2030", 90, "plan")]
    entries = audit.search(db_conn, action="kpi.target.set")
    assert [(e.actor, e.target, e.details["value"]) for e in entries] == [
        ("cli:chu.tich", "egov_dossiers_online_pct", 90.0)]
    assert main(["kpi", "targets", "list", "egov_dossiers_online_pct"]) == 0
    listed = capsys.readouterr().out
    assert "2026–2030 >= 90 (due 2030-12-31, plan, database)" in listed
    assert "2021–2025 >= 50 (due 2025-12-31, demo, catalogue)" in listed

    assert main(["kpi", "targets", "remove", "egov_dossiers_online_pct",
                 "--start", "2026-01-01"]) == 0
    assert stored_targets(db_conn) == {}
    assert len(audit.search(db_conn, action="kpi.target.remove")) == 1


def test_a_target_that_overlaps_another_period_is_refused_and_nothing_is_stored(
        cli_env, db_conn, capsys):
    assert main(["kpi", "targets", "set", "egov_dossiers_online_pct", "--value", "70",
                 "--start", "2025-01-01", "--due", "2027-12-31", "--basis", "plan",
                 "--document", "x"]) == 1
    err = capsys.readouterr().err
    assert "egov_dossiers_online_pct" in err and "overlap" in err
    assert main(["kpi", "targets", "set", "no_such_kpi", "--value", "1", "--start",
                 "2026-01-01", "--due", "2030-12-31", "--basis", "plan",
                 "--document", "x"]) == 1
    assert "unknown KPI 'no_such_kpi'" in capsys.readouterr().err
    assert main(["kpi", "targets", "set", "dti_rank", "--value", "5", "--start",
                 "2030-01-01", "--due", "2026-12-31", "--basis", "plan",
                 "--document", "x"]) == 2
    assert "before its `start`" in capsys.readouterr().err
    assert stored_targets(db_conn) == {}
    assert audit.search(db_conn, action="kpi.target.set") == []
    with pytest.raises(TargetError):
        set_target(db_conn, load_catalogue(), "dti_rank",
                   Target(value=3, start=D(2028, 1, 1), due=D(2032, 12, 31), basis="plan"),
                   actor="test")


def test_the_tile_judges_a_current_figure_against_the_stored_target(cli_env, db_conn):
    db_conn.execute(
        "INSERT INTO kpi_values (kpi_id, unit_id, breakdown, period, period_start, value, "
        "source, updated_at) VALUES ('egov_dossiers_online_pct', '', '', 'year', '2026-01-01', "
        "85, 'test', now())")
    db_conn.commit()
    today = D(2026, 12, 7)
    before = effective_catalogue(db_conn, load_catalogue())
    latest = latest_values(db_conn, before)["egov_dossiers_online_pct"]
    kpi = before.get("egov_dossiers_online_pct")
    assert tile_for(kpi, latest, today, "vi").status == "good"  # 85 >= the demo 80
    set_target(db_conn, before, "egov_dossiers_online_pct",
               Target(value=90, start=D(2026, 1, 1), due=D(2030, 12, 31), basis="plan",
                      document="Kế hoạch (thử)"), actor="test")
    db_conn.commit()
    after = effective_catalogue(db_conn, load_catalogue()).get("egov_dossiers_online_pct")
    tile = tile_for(after, latest, today, "vi")
    assert (tile.status, tile.demo_target) == ("warn", False)  # 5 points short, within the band
    assert tile.target.startswith("Mục tiêu 2026–2030: ≥ 90,0%")
