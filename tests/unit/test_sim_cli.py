"""`ioc sim` arguments, dry runs, load mode, pacing and device rows (no broker, no database)."""

from __future__ import annotations

import argparse
import json
import threading

import pytest

from ioc.cli import main
from sensors_sim.cli import add_arguments, fault_rates, resolve_options
from sensors_sim.fleet import FaultRates, load_fleet

START = "2025-07-12T08:00:00+07:00"


@pytest.fixture(autouse=True)
def clean_env(monkeypatch):
    for var in ("IOC_SIM_SCENARIO", "IOC_SIM_SEED", "IOC_SIM_SPEED", "IOC_SIM_FLEET_FILE",
                "IOC_DATABASE_URL", "IOC_MQTT_URL", "IOC_CONFIG_FILE"):
        monkeypatch.delenv(var, raising=False)


def sim_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="ioc sim")
    add_arguments(parser)
    return parser


def dry_run(capsys, *args: str) -> list[dict]:
    assert main(["sim", "--dry-run", *args]) == 0
    return [json.loads(line) for line in capsys.readouterr().out.splitlines()]


def test_dry_run_prints_json_lines_and_is_repeatable(capsys):
    args = ("--seed", "7", "--start", START, "--count", "300", "--scenario", "incident")
    first = dry_run(capsys, *args)
    assert len(first) == 300
    assert all(set(line) == {"topic", "payload"} for line in first)
    assert first[0]["topic"].startswith("ioc/v1/status/")
    assert json.loads(first[0]["payload"])["time"] == "2025-07-12T01:00:00.000+00:00"
    assert dry_run(capsys, *args) == first
    assert dry_run(capsys, "--seed", "8", "--start", START, "--count", "300",
                   "--scenario", "incident") != first


def test_dry_run_duration_covers_the_simulated_span_of_a_live_run(capsys):
    lines = dry_run(capsys, "--seed", "1", "--start", START, "--duration", "10", "--speed", "60")
    times = [json.loads(line["payload"]).get("time") for line in lines
             if line["topic"].startswith("ioc/v1/environment/")]
    assert times and max(times) <= "2025-07-12T01:00:10.000+00:00"  # 600 sim s at speed 60
    assert any("wl-" in line["topic"] for line in lines)


def test_load_mode_dry_run_has_the_requested_rate(capsys):
    lines = dry_run(capsys, "--devices", "50", "--rate", "100", "--duration", "2", "--seed", "1",
                    "--start", START, "--fault-rate", "0")
    assert 190 <= len(lines) <= 210
    devices = {line["topic"].rsplit("/", 1)[1] for line in lines}
    assert len(devices) == 50
    assert any(line["topic"].startswith("ioc/v1/senml/") for line in lines)


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--devices", "10"], "load mode needs both --devices N and --rate R"),
        (["--rate", "10"], "load mode needs both --devices N and --rate R"),
        (["--register-only", "--dry-run"], "exclude each other"),
        (["--register-only", "--count", "3"], "publishes nothing"),
    ],
)
def test_wrong_combinations_are_one_line_errors_with_exit_code_2(capsys, argv, message):
    assert main(["sim", *argv]) == 2
    err = capsys.readouterr().err.strip()
    assert message in err
    assert len(err.splitlines()) == 1


@pytest.mark.parametrize(
    "argv",
    [["--speed", "0"], ["--speed", "fast"], ["--scenario", "earthquake"], ["--seed", "x"],
     ["--fault-rate", "bogus=0.1"], ["--fault-rate", "2"], ["--devices", "-3", "--rate", "1"],
     ["--start", "yesterday"], ["--start", "2025-07-12T08:00:00"], ["--count", "0"]],
)
def test_bad_values_exit_with_code_2(argv, capsys):
    with pytest.raises(SystemExit) as exc:
        main(["sim", *argv])
    assert exc.value.code == 2
    assert "error: argument" in capsys.readouterr().err


def test_live_run_without_database_is_a_configuration_error(capsys):
    assert main(["sim", "--duration", "1"]) == 2
    assert "IOC_DATABASE_URL" in capsys.readouterr().err


def test_bad_fleet_file_is_a_configuration_error(tmp_path, capsys):
    bad = tmp_path / "fleet.yaml"
    bad.write_text("province: X\nunits: {a: A}\ndevices: [{id: x, kind: toaster}]\n")
    assert main(["sim", "--dry-run", "--count", "1", "--fleet", str(bad)]) == 2
    err = capsys.readouterr().err
    assert "configuration error" in err and str(bad) in err


def test_options_fall_back_to_settings():
    from ioc.config import Settings, SimSettings

    settings = Settings(sim=SimSettings(scenario="flood", speed=30, seed=99))
    options = resolve_options(settings, sim_parser().parse_args([]))
    assert (options.scenario, options.speed, options.seed) == ("flood", 30, 99)
    options = resolve_options(settings, sim_parser().parse_args(
        ["--scenario", "outage", "--speed", "2", "--seed", "5"]))
    assert (options.scenario, options.speed, options.seed) == ("outage", 2, 5)


def test_fault_rate_overrides_apply_in_order():
    base = FaultRates(silent=0.1, stuck=0.1, out_of_range=0.1, malformed=0.1, clock_skew=0.1)
    args = sim_parser().parse_args(["--fault-rate", "0", "--fault-rate", "malformed=0.5"])
    rates = fault_rates(base, tuple(args.fault_rate))
    assert rates.malformed == 0.5
    assert rates.silent == rates.stuck == rates.out_of_range == rates.clock_skew == 0


def test_pace_follows_simulated_time_times_speed():
    from sensors_sim.generator import Message
    from sensors_sim.publisher import pace

    now = [100.0]
    waits: list[float] = []

    class FakeStop(threading.Event):
        def wait(self, timeout=None):
            waits.append(timeout)
            now[0] += timeout
            return False

    msgs = [Message(1000.0 + 60 * i, "t", b"{}", "d", 0.0) for i in range(10)]
    sent: list[Message] = []
    stats = pace(iter(msgs), sent.append, start_ts=1000.0, speed=60, stop=FakeStop(),
                 duration_s=5.5, clock=lambda: now[0])
    assert [m.sim_ts for m in sent] == [1000.0 + 60 * i for i in range(6)]  # one per second
    assert stats.published == 6
    assert waits[:5] == pytest.approx([1.0] * 5)
    assert now[0] == pytest.approx(105.5)  # waited out the whole duration


def test_pace_stops_when_asked():
    from sensors_sim.generator import Message
    from sensors_sim.publisher import pace

    stop = threading.Event()
    stop.set()
    msgs = [Message(1000.0 + i, "t", b"{}", "d", 0.0) for i in range(5)]
    sent: list[Message] = []
    pace(iter(msgs), sent.append, start_ts=1000.0, speed=1, stop=stop)
    assert len(sent) <= 1


def test_device_rows_carry_metadata_for_the_devices_table():
    from sensors_sim.registry import device_rows

    fleet = load_fleet()
    rows = {row[0]: row for row in device_rows(fleet)}
    assert len(rows) == len(fleet.devices)
    device_id, family, kind, name, lon, lat, unit_id, metadata, expected = rows["wl-red-lao-cai"]
    assert (family, kind, unit_id, expected) == ("disaster", "water_level", "02647", 300)
    assert metadata.obj["alarm_levels"] == {"I": 80.0, "II": 82.0, "III": 83.5}
    assert metadata.obj["protocol"] == "ioc-json"
    counter = rows["cnt-fansipan-summit"]
    assert counter[1] == "tourism" and counter[7].obj["capacity"] == 2500
    camera = rows["cam-bg-lao-cai"]
    assert camera[7].obj["protocol"] == "frigate" and camera[7].obj["zones"]
    assert camera[8] == 3600
