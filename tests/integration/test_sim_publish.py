"""The simulator against the real database and broker: registration, publishing, stopping."""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import threading
import time
from datetime import UTC, datetime

import pytest

from ingest import formats
from ioc.config import settings_env
from ioc.db import connect
from ioc.mqtt import MqttClient
from ioc.supervisor import ioc_argv
from sensors_sim.cli import add_arguments, run_sim
from sensors_sim.fleet import load_fleet

pytestmark = pytest.mark.integration


def sim_args(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="ioc sim")
    add_arguments(parser)
    return parser.parse_args(list(argv))


def test_register_only_upserts_the_fleet(settings):
    fleet = load_fleet()
    assert run_sim(settings, sim_args("--register-only")) == 0
    assert run_sim(settings, sim_args("--register-only")) == 0  # idempotent
    with connect(settings.database) as conn:
        rows = conn.execute(
            "SELECT device_id, family, kind, name, lon, lat, unit_id, metadata, "
            "expected_interval_s FROM devices"
        ).fetchall()
    by_id = {r[0]: r for r in rows}
    assert set(by_id) == {d.id for d in fleet.devices}
    station = by_id["wl-red-lao-cai"]
    assert station[1:3] == ("disaster", "water_level")
    assert station[3] == "Trạm thủy văn Lào Cai (sông Hồng)"
    assert station[6] == "02647"  # Phường Lào Cai
    assert station[7]["alarm_levels"] == {"I": 80.0, "II": 82.0, "III": 83.5}
    assert station[8] == 300
    assert by_id["cnt-sa-pa-square"][7]["capacity"] == 6000
    assert by_id["cam-bg-lao-cai"][7]["protocol"] == "frigate"


def test_publisher_delivers_valid_messages_through_the_broker(settings):
    received: list[tuple[str, bytes]] = []
    lock = threading.Lock()
    sub = MqttClient(settings.mqtt, "sim-test-sub").connect()

    def on_message(message) -> None:
        with lock:
            received.append((sub.relative(message.topic), bytes(message.payload)))

    sub.subscribe("ioc/v1/#", on_message)
    sub.subscribe(f"{settings.mqtt.frigate_prefix}/#", on_message)
    time.sleep(0.5)
    try:
        started = time.monotonic()
        rc = run_sim(settings, sim_args("--scenario", "incident", "--speed", "60", "--seed", "3",
                                        "--duration", "4", "--fault-rate", "0"))
        elapsed = time.monotonic() - started
        deadline, seen = time.monotonic() + 5, -1
        while time.monotonic() < deadline and seen != len(received):  # until it settles
            seen = len(received)
            time.sleep(0.5)
    finally:
        sub.close()
    assert rc == 0
    assert 3.5 <= elapsed < 15
    topics = {t.split("/")[2] if t.startswith("ioc/") else t for t, _ in received}
    assert {"status", "environment", "senml", "disaster", "tourism", "camera",
            "frigate/events"} <= topics
    fleet = load_fleet()
    announced = {t.rsplit("/", 1)[1] for t, _ in received if t.startswith("ioc/v1/status/")}
    assert announced == {d.id for d in fleet.devices}
    now = datetime.now(UTC)
    for topic, payload in received:  # payload times are wall-clock times, never ahead
        formats.parse(topic, payload, frigate_prefix=settings.mqtt.frigate_prefix, now=now)


def test_sigterm_stops_the_simulator_cleanly(settings):
    env = {**os.environ, **settings_env(settings),
           "IOC_MQTT_CLIENT_ID_PREFIX": settings.mqtt.client_id_prefix}
    proc = subprocess.Popen(
        ioc_argv("sim", "--speed", "10", "--seed", "1"), env=env,
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(iter(proc.stderr.readline, "")),
                              daemon=True)
    reader.start()
    try:
        # SIGTERM only once the simulator is publishing (its handler is installed before it
        # says so); a fixed sleep raced the interpreter's start-up on a loaded machine, and
        # the default action of SIGTERM then killed it (returncode -15)
        deadline = time.monotonic() + 90
        while not any("simulating" in line for line in lines) and time.monotonic() < deadline:
            assert proc.poll() is None, "".join(lines)
            time.sleep(0.2)
        assert any("simulating" in line for line in lines), "".join(lines)
        time.sleep(1)  # a moment of publishing
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=60)
        reader.join(10)
    finally:
        if proc.poll() is None:
            proc.kill()
    err = "".join(lines)
    assert proc.returncode == 0, err
    assert "SIGTERM received" in err
    assert "messages published" in err
