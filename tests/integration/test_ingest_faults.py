"""Ingest under faults: database and broker restarts, a killed worker, two workers sharing."""

from __future__ import annotations

import json
import signal
import threading
import time
import warnings

import pytest

from tests.integration.test_ingest_support import (
    Publisher,
    RunningWorker,
    cli_available,
    count,
    register,
    wait_count,
    wait_for,
    with_ingest,
    worker_process,
)

pytestmark = [pytest.mark.integration, pytest.mark.slow]

DEVICES = [f"env-{i:03d}" for i in range(20)]
READINGS = "SELECT count(*) FROM readings"


def _message(i: int, t0: float) -> tuple[str, str]:
    """Message i: its own device and time, so every message is one distinct reading."""
    device = DEVICES[i % len(DEVICES)]
    return f"ioc/v1/environment/{device}", json.dumps({"time": t0 + i * 0.001,
                                                       "metrics": {"pm25": i % 500}})


class Feeder(threading.Thread):
    """Publishes messages start..stop at about `rate` per second, retrying unconfirmed ones
    (a republished message is the same reading, so the count of distinct readings is exact)."""

    def __init__(self, settings, start: int, stop: int, t0: float, rate: float = 500) -> None:
        super().__init__(daemon=True)
        self.settings, self.range, self.t0, self.rate = settings, (start, stop), t0, rate
        self.error: BaseException | None = None
        self.done = threading.Event()

    def run(self) -> None:
        pub = Publisher(self.settings)
        try:
            began = time.monotonic()
            start, stop = self.range
            for i in range(start, stop):
                delay = began + (i - start) / self.rate - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
                topic, payload = _message(i, self.t0)
                self._publish_confirmed(pub, topic, payload)
        except BaseException as err:  # reported by the test
            self.error = err
        finally:
            self.done.set()
            pub.close()

    @staticmethod
    def _publish_confirmed(pub: Publisher, topic: str, payload: str) -> None:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            info = pub.client.publish(topic, payload, qos=1)
            try:
                info.wait_for_publish(3.0)
            except (RuntimeError, ValueError):
                time.sleep(0.2)
                continue
            if info.is_published():
                return
        raise TimeoutError(f"could not publish to {topic} within 60 s")

    def finish(self, timeout: float) -> None:
        assert self.done.wait(timeout), "publisher did not finish in time"
        if self.error:
            raise self.error


@pytest.fixture
def fast(settings):
    return with_ingest(settings, flush_interval_ms=50, batch_size=200)


@pytest.mark.timeout(180)
def test_database_restart_mid_stream(fast, db_conn, pg_server):
    if pg_server is None:
        pytest.skip("the database is external (IOC_TEST_DATABASE_URL); cannot restart it")
    register(db_conn, [(d, "environment") for d in DEVICES])
    db_conn.close()
    running = RunningWorker(fast, "dbr")
    total, t0 = 3000, time.time() - 3600
    feeder = Feeder(fast, 0, total, t0, rate=500)
    try:
        feeder.start()
        time.sleep(2.0)
        pg_server.stop()
        time.sleep(3.0)  # publishing goes on; the worker keeps the messages unacknowledged
        assert running.worker.receiver.pending > 0
        pg_server.start()
        feeder.finish(90)
        from ioc.db import connect

        with connect(fast.database) as conn:
            wait_count(conn, READINGS, total, 60)
            time.sleep(0.5)
            assert count(conn, READINGS) == total
            assert count(conn, "SELECT count(*) FROM dead_letters") == 0
        assert running.worker.metrics.db_retries._value.get() >= 1
    finally:
        if not pg_server.running:
            pg_server.start()
        running.stop()


@pytest.mark.timeout(240)
def test_killed_worker_loses_nothing(fast, db_conn, tmp_path):
    if not cli_available():
        warnings.warn("`python -m ioc ingest` does not start (CLI incomplete); running the "
                      "worker module directly", stacklevel=1)
    register(db_conn, [(d, "environment") for d in DEVICES])
    total, t0 = 4000, time.time() - 3600
    log = tmp_path / "worker.log"
    proc = worker_process(fast, "killme", log)
    try:
        # Wait until the worker has subscribed (its persistent session exists) before publishing.
        wait_for(lambda: "subscribed" in log.read_text(errors="replace"), 60, "worker start")
        feeder = Feeder(fast, 0, total, t0, rate=800)
        feeder.start()
        wait_count(db_conn, READINGS, 500, 60)
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
        stored_at_kill = count(db_conn, READINGS)
        time.sleep(1.0)
        proc = worker_process(fast, "killme", log)
        feeder.finish(120)
        wait_count(db_conn, READINGS, total, 90)
        time.sleep(0.5)
        assert count(db_conn, READINGS) == total
        assert stored_at_kill < total
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(20)
            except Exception:
                proc.kill()
    assert proc.returncode == 0, log.read_text(errors="replace")[-3000:]


@pytest.mark.timeout(240)
def test_broker_restart_mid_stream(fast, db_conn, mqtt_broker):
    if mqtt_broker is None or not mqtt_broker.persistent_across_restart:
        pytest.skip("needs the embedded Mosquitto, whose sessions survive a restart")
    register(db_conn, [(d, "environment") for d in DEVICES])
    running = RunningWorker(fast, "brk")
    total, t0 = 3000, time.time() - 3600
    feeder = Feeder(fast, 0, total, t0, rate=500)
    try:
        feeder.start()
        wait_count(db_conn, READINGS, 300, 30)
        mqtt_broker.stop()
        time.sleep(2.0)
        mqtt_broker.start()
        feeder.finish(150)
        wait_count(db_conn, READINGS, total, 90)
        time.sleep(0.5)
        assert count(db_conn, READINGS) == total
        assert running.worker.receiver.mqtt.connect_count >= 2
    finally:
        if not mqtt_broker.running:
            mqtt_broker.start()
        running.stop()


@pytest.mark.timeout(120)
def test_two_workers_share_the_stream(fast, db_conn):
    register(db_conn, [(d, "environment") for d in DEVICES])
    workers = [RunningWorker(fast, "share-a"), RunningWorker(fast, "share-b")]
    total, t0 = 4000, time.time() - 3600
    pub = Publisher(fast)
    try:
        for i in range(total):
            pub.publish(*_message(i, t0))
            if i % 500 == 499:
                pub.flush(60)
        pub.flush(60)
        wait_count(db_conn, READINGS, total, 60)
        received = [w.worker.metrics.received._value.get() for w in workers]
        wait_for(lambda: sum(w.worker.metrics.acked._value.get() for w in workers) >= total,
                 20, "all messages acknowledged")
        received = [w.worker.metrics.received._value.get() for w in workers]
        stored = [w.worker.stored_readings for w in workers]
        assert count(db_conn, READINGS) == total
        assert sum(received) == total, f"a message reached both workers: {received}"
        assert sum(stored) == total
        assert all(r > 0 for r in received), f"one worker got nothing: {received}"
    finally:
        pub.close()
        for w in workers:
            w.stop()
