"""Shared helpers of the ingest integration tests: a worker, a publisher, waits, devices."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterable

import pytest

from ingest.worker import IngestWorker
from ioc.config import Settings, settings_env
from ioc.mqtt import MqttClient


def with_ingest(settings: Settings, **changes) -> Settings:
    """Settings with ingest options changed (metrics off unless given)."""
    changes.setdefault("metrics_port", 0)
    return settings.model_copy(update={"ingest": settings.ingest.model_copy(update=changes)})


def register(conn, devices: Iterable[tuple[str, str]], *, enabled: bool = True) -> None:
    """Put (device_id, family) pairs in the device registry."""
    with conn.transaction():
        for device_id, family in devices:
            conn.execute(
                "INSERT INTO devices (device_id, family, kind, name, enabled) "
                "VALUES (%s, %s, %s, %s, %s)",
                (device_id, family, family, device_id, enabled),
            )


def count(conn, query: str, params=()) -> int:
    with conn.transaction():
        return conn.execute(query, params).fetchone()[0]


def wait_for(check: Callable[[], bool], timeout: float, what: str, step: float = 0.1) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(step)
    pytest.fail(f"timed out after {timeout:.0f} s waiting for {what}")


def wait_count(conn, query: str, expected: int, timeout: float, params=()) -> None:
    last = [None]

    def check() -> bool:
        last[0] = count(conn, query, params)
        return last[0] >= expected

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.1)
    pytest.fail(f"timed out after {timeout:.0f} s: {query} = {last[0]}, expected {expected}")


class Publisher:
    """A QoS 1 publisher on the test's topic prefix; `send` waits for the broker's PUBACK."""

    def __init__(self, settings: Settings, name: str | None = None) -> None:
        self.client = MqttClient(settings.mqtt, name or f"pub-{uuid.uuid4().hex[:8]}")
        self.client.connect(15)
        self._infos: list = []

    def publish(self, topic: str, payload: bytes | str | dict) -> None:
        if isinstance(payload, dict):
            payload = json.dumps(payload)
        self._infos.append(self.client.publish(topic, payload, qos=1))

    def flush(self, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        for info in self._infos:
            info.wait_for_publish(max(0.1, deadline - time.monotonic()))
            assert info.is_published(), "broker did not acknowledge a publish in time"
        self._infos.clear()

    def send(self, topic: str, payload: bytes | str | dict, timeout: float = 60.0) -> None:
        self.publish(topic, payload)
        self.flush(timeout)

    def close(self) -> None:
        self.client.close()


def reading(value: float, t: float, metric: str = "pm25") -> dict:
    return {"time": t, "metrics": {metric: value}}


class RunningWorker:
    """An in-process worker, stopped at the end of the test."""

    def __init__(self, settings: Settings, name: str) -> None:
        self.worker = IngestWorker(settings, name).start()

    def stop(self) -> None:
        self.worker.stop(timeout=10)


# Runs the worker like the CLI does, for when the CLI cannot be built (a subcommand's module
# missing while the project grows); the kill test is about the worker, not argparse.
_DIRECT = (
    "import sys; from ioc.config import load_settings; from ioc.logs import setup_logging; "
    "from ingest.run import run_worker; s = load_settings(); setup_logging(s); "
    "sys.exit(run_worker(s, name=sys.argv[1]))"
)


def cli_available() -> bool:
    probe = subprocess.run(
        [sys.executable, "-m", "ioc", "ingest", "--help"], capture_output=True, timeout=60,
    )
    return probe.returncode == 0


def worker_process(settings: Settings, name: str, log_path) -> subprocess.Popen:
    """`python -m ioc ingest --name NAME` with the test's settings in its environment."""
    env = {**os.environ, **settings_env(settings), "IOC_INGEST_METRICS_PORT": "0",
           "IOC_INGEST_FLUSH_INTERVAL_MS": str(settings.ingest.flush_interval_ms),
           "IOC_INGEST_BATCH_SIZE": str(settings.ingest.batch_size)}
    argv = [sys.executable, "-m", "ioc", "ingest", "--name", name]
    if not cli_available():
        argv = [sys.executable, "-c", _DIRECT, name]
    with open(log_path, "ab") as logfile:
        return subprocess.Popen(
            argv, env=env, stdout=logfile, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
        )
