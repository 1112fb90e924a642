"""`ioc` reports an unreachable service as one line naming the setting, without a traceback."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest
import redis

from ioc.cli import service_error_message
from ioc.config import Settings
from ioc.db.migrate import MigrationError
from ioc.services.process import ServiceError

ROOT = Path(__file__).resolve().parents[2]
NOWHERE_DB = "postgresql://x:secret-pw@127.0.0.1:1/x"


def run_ioc(*argv: str, tmp_path: Path, **env: str) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("IOC_")}
    clean.update(IOC_STATE_DIR=str(tmp_path), **env)
    return subprocess.run([sys.executable, "-m", "ioc", *argv], cwd=ROOT, env=clean,
                          capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize("argv", [("db", "migrate"), ("users", "list"),
                                  ("alerts", "rules", "list")])
def test_unreachable_database_is_one_line(tmp_path, argv):
    done = run_ioc(*argv, tmp_path=tmp_path, IOC_DATABASE_URL=NOWHERE_DB)
    assert done.returncode == 1
    assert "Traceback" not in done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("ioc: cannot reach the database at 127.0.0.1:1 "
                               "(IOC_DATABASE_URL): ")
    assert "secret-pw" not in done.stderr


def test_messages_name_the_setting_of_each_service():
    settings = Settings(database={"url": NOWHERE_DB}, redis={"url": "redis://:pw@10.0.0.9:6390/0"},
                        mqtt={"url": "mqtt://u:pw@broker.example:8883"})
    refused = redis.exceptions.ConnectionError("Error 111 connecting to 10.0.0.9:6390.")
    assert service_error_message(refused, settings) == (
        "ioc: cannot reach Redis at 10.0.0.9:6390 (IOC_REDIS_URL): "
        "Error 111 connecting to 10.0.0.9:6390.")
    mqtt = ConnectionError("MQTT broker at broker.example:8883 did not accept ioc-sim within 15 s")
    assert service_error_message(mqtt, settings).startswith(
        "ioc: cannot reach the MQTT broker at broker.example:8883 (IOC_MQTT_URL): MQTT broker")
    db = psycopg.OperationalError("connection failed: refused\n\tIs the server running?")
    assert service_error_message(db, settings) == (
        "ioc: cannot reach the database at 127.0.0.1:1 (IOC_DATABASE_URL): "
        "connection failed: refused Is the server running?")
    assert service_error_message(MigrationError("0007_x.sql: boom"), settings) == (
        "ioc: database migration failed: 0007_x.sql: boom")
    assert "could not be started" in service_error_message(ServiceError("no initdb"), None)
    assert all("pw" not in service_error_message(e, settings) for e in (refused, mqtt, db))
