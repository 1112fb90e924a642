"""`ioc devices`: import all or nothing, re-import updates, edit, levels history, retire."""

from __future__ import annotations

from pathlib import Path

import pytest

from ioc.cli import main
from ioc.config import settings_env
from ioc.devices.store import get_device, level_history
from ioc.security import audit

pytestmark = pytest.mark.integration

DATA = Path(__file__).resolve().parents[2] / "ioc" / "devices" / "data"


@pytest.fixture
def cli_env(settings, monkeypatch):
    for var, value in settings_env(settings).items():
        monkeypatch.setenv(var, value)
    return settings


def _count(conn) -> int:
    return conn.execute("SELECT count(*) FROM devices").fetchone()[0]


def test_import_the_river_stations_then_reimport_updates(cli_env, db_conn, tmp_path, capsys):
    assert main(["devices", "import", str(DATA / "river_stations.yaml"), "--actor", "an"]) == 0
    assert "5 device(s): 5 new, 0 updated" in capsys.readouterr().out
    lao_cai = get_device(db_conn, "wl-hong-lao-cai")
    assert lao_cai.unit == "02647" and lao_cai.family == "disaster"
    assert lao_cai.metadata["alarm_levels"] == {"I": 80.0, "II": 82.0, "III": 83.5}
    assert lao_cai.metadata["alarm_levels_version"] == 1
    assert "simulated" not in lao_cai.metadata
    # The same file again: nothing changes, no new level version.
    assert main(["devices", "import", str(DATA / "river_stations.yaml")]) == 0
    assert "0 new, 0 updated, 5 unchanged" in capsys.readouterr().out
    # A corrected file: one name and one station's levels change.
    text = (DATA / "river_stations.yaml").read_text(encoding="utf-8")
    text = text.replace("{I: 30.0, II: 31.0, III: 32.0}", "{I: 30.5, II: 31.0, III: 32.0}")
    text = text.replace("Trạm thủy văn Bảo Hà (sông Hồng)", "Trạm Bảo Hà")
    changed = tmp_path / "stations.yaml"
    changed.write_text(text, encoding="utf-8")
    assert main(["devices", "import", str(changed), "--reason", "QĐ mới", "--actor", "an"]) == 0
    assert "0 new, 2 updated, 3 unchanged; alarm levels changed at 1" in capsys.readouterr().out
    history = level_history(db_conn, "wl-thao-yen-bai")
    assert [(v.version, v.levels.I, v.changed_by, v.reason) for v in history] == [
        (2, 30.5, "cli:an", "QĐ mới"), (1, 30.0, "cli:an", "import file:river_stations.yaml")]
    assert get_device(db_conn, "wl-thao-yen-bai").metadata["alarm_levels_version"] == 2
    imports = audit.search(db_conn, action="device.import")
    assert len(imports) == 3 and imports[0].details["updated"] == 2


def test_a_bad_file_stores_nothing_and_names_every_problem(cli_env, db_conn, tmp_path, capsys):
    bad = tmp_path / "bad.csv"
    bad.write_text(
        "id,name,kind,lon,lat,river,datum,alarm_level_1,alarm_level_2,alarm_level_3\n"
        "wl-a,Trạm A,water_level,103.9,22.5,sông Hồng,VN-2000,80,82,83.5\n"
        "wl-b,Trạm B,water_level,103.9,22.5,sông Hồng,,80,82,81\n"
        "wl-c,Trạm C,water_level,east,22.5,sông Hồng,VN-2000,80,82,83.5\n", encoding="utf-8")
    assert main(["devices", "import", str(bad)]) == 1
    err = capsys.readouterr().err
    assert "nothing was stored" in err
    assert "line 3 (wl-b): datum: required" in err
    assert "line 3 (wl-b): alarm_level_1, alarm_level_2, alarm_level_3: must rise" in err
    assert "line 4 (wl-c): lon: not a number: 'east'" in err
    assert _count(db_conn) == 0
    assert audit.search(db_conn, action="device.import") == []


def test_edit_levels_retire_and_restore_are_audited(cli_env, db_conn, capsys):
    assert main(["devices", "import", str(DATA / "example.yaml")]) == 0
    assert main(["devices", "edit", "gate-fansipan-01", "--set", "capacity=4500",
                 "--lon", "103.83", "--lat", "22.33", "--actor", "an"]) == 0
    gate = get_device(db_conn, "gate-fansipan-01")
    assert gate.metadata["capacity"] == 4500 and gate.lon == 103.83
    # A bad edit changes nothing and says why.
    assert main(["devices", "edit", "gate-fansipan-01", "--set", "capacity=-1"]) == 1
    assert "capacity: Input should be greater than 0" in capsys.readouterr().err
    assert main(["devices", "edit", "wl-hong-lao-cai", "--alarm-levels", "80.5,82,83.5"]) == 1
    assert "--reason" in capsys.readouterr().err
    assert main(["devices", "levels", "wl-hong-lao-cai", "80.5,82,83.5", "--reason",
                 "QĐ 2026", "--actor", "an"]) == 0
    with pytest.raises(SystemExit):
        main(["devices", "levels", "wl-hong-lao-cai", "83,82,84", "--reason", "x"])
    assert "must rise I < II < III, got 83, 82, 84" in capsys.readouterr().err
    station = get_device(db_conn, "wl-hong-lao-cai")
    assert station.metadata["alarm_levels"]["I"] == 80.5
    assert station.metadata["alarm_levels_version"] == 2
    assert main(["devices", "retire", "rg-bat-xat-01", "--reason", "hỏng", "--actor", "an"]) == 0
    rg = get_device(db_conn, "rg-bat-xat-01")
    assert rg.retired and not rg.enabled and rg.retire_reason == "hỏng"
    assert main(["devices", "retire", "rg-bat-xat-01", "--reason", "again"]) == 1
    capsys.readouterr()
    assert main(["devices", "list", "--state", "retired"]) == 0
    out = capsys.readouterr().out
    assert "rg-bat-xat-01" in out and "gate-fansipan-01" not in out
    assert main(["devices", "show", "wl-hong-lao-cai"]) == 0
    out = capsys.readouterr().out
    assert "# alarm levels v2: I 80.5, II 82, III 83.5" in out and "QĐ 2026" in out
    assert main(["devices", "restore", "rg-bat-xat-01", "--actor", "an"]) == 0
    assert get_device(db_conn, "rg-bat-xat-01").enabled
    actions = [e.action for e in audit.search(db_conn, actor="cli:an")]
    assert actions == ["device.restore", "device.retire", "device.alarm_levels", "device.edit"]


def test_list_csv_reads_back(cli_env, db_conn, tmp_path, capsys):
    assert main(["devices", "import", str(DATA / "example.geojson")]) == 0
    capsys.readouterr()
    assert main(["devices", "list", "--format", "csv"]) == 0
    exported = tmp_path / "export.csv"
    exported.write_text(capsys.readouterr().out, encoding="utf-8")
    assert main(["devices", "import", str(exported)]) == 0
    assert "0 new, 0 updated, 2 unchanged" in capsys.readouterr().out


def test_a_retired_device_is_never_silent(settings, db_conn, redis_settings):
    """The silence rule skips retired devices; a quiet active one still gets its alert."""
    from alerts.engine import Engine, load_devices
    from alerts.rules import load_rules
    from ioc.devices.formats import parse_registry
    from ioc.devices.store import import_entries, retire_device
    from ioc.live import LatestValue, LiveState, open_redis

    entries = [e for _, e in parse_registry((DATA / "river_stations.yaml").read_bytes(),
                                            "yaml").entries]
    import_entries(db_conn, entries, actor="t", source="t")
    retire_device(db_conn, "wl-thao-yen-bai", actor="t", reason="di dời")
    db_conn.commit()
    db_conn.autocommit = True
    client = open_redis(redis_settings)
    live = LiveState(client, redis_settings)
    try:
        now = 1_800_000_000.0
        quiet = now - 3600  # an hour: 12 report intervals
        live.record([LatestValue("wl-thao-yen-bai", "water_level_m", 29.0, quiet),
                     LatestValue("wl-hong-lao-cai", "water_level_m", 78.0, quiet)], [])
        engine = Engine(db_conn, live, load_rules(), load_devices(db_conn))
        engine.tick(now, slow=False)
        silent = db_conn.execute(
            "SELECT subject FROM alerts WHERE rule_id = 'device_silent'").fetchall()
        assert silent == [("wl-hong-lao-cai",)]
    finally:
        client.close()


def test_the_simulator_does_not_bring_a_retired_device_back(settings, db_conn):
    from ioc.devices.store import retire_device
    from sensors_sim.fleet import load_fleet
    from sensors_sim.registry import register_fleet

    fleet = load_fleet()
    register_fleet(settings.database, fleet)
    device_id = fleet.devices[0].id
    retire_device(db_conn, device_id, actor="t", reason="hỏng")
    db_conn.commit()
    register_fleet(settings.database, fleet)  # every `ioc sim` run registers again
    device = get_device(db_conn, device_id)
    assert device.retired and not device.enabled
    assert "simulated" not in device.metadata
    assert get_device(db_conn, fleet.devices[1].id).enabled
