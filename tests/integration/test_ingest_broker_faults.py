"""Every reading the broker PUBACKed is stored exactly once: broker restarts (SIGTERM and
SIGKILL, workers connected or away), a killed worker, a stopped database, workers that leave.

Two workers split the stream (ingest/membership.py). Each test counts what the broker
acknowledged to the publisher and what the database holds, and wants them equal.
"""

from __future__ import annotations

import json
import signal
import time

import pytest

from ingest.membership import View
from ingest.run import retire
from ingest.worker import IngestWorker
from tests.integration.test_ingest_faults import DEVICES, Feeder
from tests.integration.test_ingest_support import (
    Publisher,
    RunningWorker,
    count,
    register,
    wait_count,
    wait_for,
    with_ingest,
    worker_process,
)

pytestmark = [pytest.mark.integration, pytest.mark.slow]

READINGS = "SELECT count(*) FROM readings"
DISTINCT = "SELECT count(DISTINCT (device_id, metric, time)) FROM readings"


@pytest.fixture
def fast(settings):
    return with_ingest(settings, flush_interval_ms=50, batch_size=200)


@pytest.fixture
def broker(mqtt_broker):
    if mqtt_broker is None or not mqtt_broker.persistent_across_restart:
        pytest.skip("needs the embedded Mosquitto (restarted and killed here)")
    yield mqtt_broker
    if not mqtt_broker.running:
        mqtt_broker.start()


def _message(i: int, t0: float) -> tuple[str, str]:
    device = DEVICES[i % len(DEVICES)]
    return f"ioc/v1/environment/{device}", json.dumps({"time": t0 + i * 0.001,
                                                       "metrics": {"pm25": i % 500}})


def _publish(settings, start: int, stop: int, t0: float) -> int:
    """Publish readings start..stop; returns how many the broker acknowledged (all, or fail)."""
    pub = Publisher(settings)
    try:
        for i in range(start, stop):
            pub.publish(*_message(i, t0))
        pub.flush(60)
    finally:
        pub.close()
    return stop - start


def _exactly(conn, expected: int, timeout: float = 60) -> None:
    wait_count(conn, READINGS, expected, timeout)
    time.sleep(1.0)  # anything stored twice or extra would show up now
    assert count(conn, READINGS) == expected
    assert count(conn, DISTINCT) == expected


def _saved_after(broker, moment: float, timeout: float = 30) -> None:
    """Wait until Mosquitto's autosave has written its database after `moment`."""
    db = broker.root / "data" / "mosquitto.db"
    wait_for(lambda: db.exists() and db.stat().st_mtime > moment, timeout,
             "the broker's autosave")


def _two(settings) -> list[RunningWorker]:
    return [RunningWorker(settings, "wa"), RunningWorker(settings, "wb")]


@pytest.mark.timeout(120)
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGKILL], ids=["sigterm", "sigkill"])
def test_broker_restart_while_the_workers_are_away(fast, db_conn, broker, sig):
    """The case that lost every reading with `$share` subscriptions: published after the
    restart, before the workers came back."""
    register(db_conn, [(d, "environment") for d in DEVICES])
    t0 = time.time() - 3600
    workers = _two(fast)
    for w in workers:
        w.stop()
    started = time.time()
    _saved_after(broker, started)  # the sessions are on disk (SIGKILL keeps only that)
    broker.stop(sig=sig)
    broker.start()
    acked = _publish(fast, 0, 600, t0)
    if sig == signal.SIGKILL:
        published = time.time()
        _saved_after(broker, published)
        broker.stop(sig=sig)  # killed again, now with the readings queued in the sessions
        broker.start()
    workers = _two(fast)
    try:
        _exactly(db_conn, acked)
        stored = [w.worker.stored_readings for w in workers]
        assert all(stored), f"both workers store their share: {stored}"
    finally:
        for w in workers:
            w.stop()


@pytest.mark.timeout(150)
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGKILL], ids=["sigterm", "sigkill"])
def test_broker_restart_with_the_workers_connected(fast, db_conn, broker, sig):
    register(db_conn, [(d, "environment") for d in DEVICES])
    workers = _two(fast)
    total, t0 = 1000, time.time() - 3600
    feeder = Feeder(fast, 0, total, t0, rate=250)
    try:
        _saved_after(broker, time.time())
        feeder.start()
        wait_count(db_conn, READINGS, 200, 30)
        broker.stop(sig=sig)
        time.sleep(1.0)
        broker.start()
        feeder.finish(90)
        _exactly(db_conn, total)
        assert all(w.worker.receiver.mqtt.connect_count >= 2 for w in workers)
    finally:
        for w in workers:
            w.stop()


@pytest.mark.timeout(150)
def test_killed_worker_of_two_loses_nothing(fast, db_conn, tmp_path):
    register(db_conn, [(d, "environment") for d in DEVICES])
    total, t0 = 1000, time.time() - 3600
    other = RunningWorker(fast, "kb")
    log = tmp_path / "worker.log"
    proc = worker_process(fast, "ka", log)
    try:
        wait_for(lambda: "ingest worker ka started" in log.read_text(errors="replace"), 60,
                 "worker start")
        feeder = Feeder(fast, 0, total, t0, rate=250)
        feeder.start()
        wait_count(db_conn, READINGS, 200, 30)
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
        time.sleep(1.0)
        proc = worker_process(fast, "ka", log)
        feeder.finish(90)
        _exactly(db_conn, total)
        assert 0 < other.worker.stored_readings < total
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            proc.wait(20)
        other.stop()


@pytest.mark.timeout(150)
def test_database_stopped_20_s_under_two_workers(fast, db_conn, pg_server):
    if pg_server is None:
        pytest.skip("the database is external (IOC_TEST_DATABASE_URL); cannot stop it")
    register(db_conn, [(d, "environment") for d in DEVICES])
    db_conn.close()
    workers = _two(fast)
    total, t0 = 1000, time.time() - 3600
    feeder = Feeder(fast, 0, total, t0, rate=40)
    try:
        feeder.start()
        time.sleep(2.0)
        pg_server.stop()
        time.sleep(20.0)
        pg_server.start()
        feeder.finish(90)
        from ioc.db import connect

        with connect(fast.database) as conn:
            _exactly(conn, total)
    finally:
        if not pg_server.running:
            pg_server.start()
        for w in workers:
            w.stop()


@pytest.mark.timeout(150)
def test_retiring_an_away_worker_hands_its_queue_over(fast, db_conn):
    """wb stops and its session queues; `--retire wb` stores what wb owned and deletes the
    session; from then on wa stores everything."""
    register(db_conn, [(d, "environment") for d in DEVICES])
    t0 = time.time() - 3600
    wa, wb = _two(fast)
    try:
        wb.stop()
        acked = _publish(fast, 0, 400, t0)
        wait_for(lambda: wa.worker.stored_readings > 0, 30, "wa's share")
        time.sleep(1.0)
        assert count(db_conn, READINGS) < acked  # wb's share waits in wb's session

        def seen_all() -> bool:
            beat = wa.worker.board.heartbeats().get("wa")
            return beat is not None and beat.stream >= 400

        wait_for(seen_all, 20, "wa's heartbeat")
        rows = {r.name: r for r in wa.worker.board.rows(["wa", "wb"], ["wa", "wb"])}
        assert rows["wa"].online and rows["wa"].consuming
        assert not rows["wb"].online and not rows["wb"].consuming
        assert rows["wb"].queued >= 400 and rows["wb"].state == "stopped"
        wait_for(lambda: wa.worker.metrics.session_consuming.labels("wb")._value.get() == 0
                 and wa.worker.metrics.session_queued.labels("wb")._value.get() >= 400,
                 30, "the metrics to show wb queueing")

        assert retire(fast, "wb", timeout=60, force=True) == 0
        _exactly(db_conn, acked)
        with db_conn.transaction():
            members = db_conn.execute("SELECT members FROM ingest_membership "
                                      "ORDER BY epoch DESC LIMIT 1").fetchone()[0]
            views = [r[0] for r in db_conn.execute("SELECT worker FROM ingest_views")]
        assert members == ["wa"] and "wb" not in views

        more = _publish(fast, 400, 700, t0)
        _exactly(db_conn, acked + more)
        actions = [r[0] for r in db_conn.execute(
            "SELECT action FROM audit_log WHERE target = 'wb' ORDER BY id")]
        assert actions == ["ingest.join", "ingest.retire"]
    finally:
        wa.stop()


@pytest.mark.timeout(150)
def test_a_worker_that_leaves_on_stop_hands_over_without_loss(fast, db_conn):
    register(db_conn, [(d, "environment") for d in DEVICES])
    total, t0 = 1000, time.time() - 3600
    wa, wb = _two(fast)
    feeder = Feeder(fast, 0, total, t0, rate=250)
    try:
        feeder.start()
        wait_count(db_conn, READINGS, 200, 30)
        assert wb.worker.leave(60)
        wb.worker.stop(end_session=True)
        feeder.finish(90)
        _exactly(db_conn, total)
        assert wa.worker.receiver.ownership.view.members == ("wa",)
        # wb's session is gone: a new wb starts from scratch and joins again.
        again = IngestWorker(fast, "wb")
        again.start()
        try:
            assert not again.receiver.mqtt.features.session_present
            assert again.receiver.ownership.view.epoch > 0
        finally:
            again.stop()
    finally:
        wa.stop()


def test_a_malformed_member_list_changes_nothing(fast, db_conn):
    register(db_conn, [(d, "environment") for d in DEVICES])
    t0 = time.time() - 3600
    w = RunningWorker(fast, "solo")
    try:
        before = w.worker.receiver.ownership.view
        pub = Publisher(fast)
        pub.send("ioc/v1/ctl/ingest/members", b"{not json")
        pub.close()
        acked = _publish(fast, 0, 100, t0)
        _exactly(db_conn, acked, 30)
        assert w.worker.receiver.ownership.view == before
        assert w.worker.receiver.bad_control == 1
        assert isinstance(before, View) and before.members == ("solo",)
    finally:
        w.stop()


def test_a_reading_stored_before_is_not_announced_again(fast, db_conn, redis_client):
    """Copies (a redelivery, a restored broker snapshot) are one row AND one live event, so
    the alert rules and the live map do not see a reading twice."""
    from ioc.live import LiveState

    register(db_conn, [(d, "environment") for d in DEVICES])
    t0 = time.time() - 3600
    w = RunningWorker(fast, "once")
    live = LiveState(redis_client, fast.redis)
    try:
        topic, payload = _message(0, t0)
        pub = Publisher(fast)
        pub.publish(topic, payload)
        pub.publish(topic, payload)  # two copies, most likely in one batch
        pub.flush(30)
        _exactly(db_conn, 1, 30)
        pub.send(topic, payload)  # a third copy, in a batch of its own
        pub.send(*_message(1, t0))
        _exactly(db_conn, 2, 30)
        pub.close()

        def announced() -> list:
            return [r for _id, e in live.read_events("0", count=10_000)
                    if e.get("type") == "readings" for r in e["readings"]]

        wait_for(lambda: len(announced()) >= 2, 20, "the live events")
        time.sleep(1.0)
        assert sorted(r[2] for r in announced()) == [0, 1]
    finally:
        w.stop()


@pytest.mark.timeout(150)
def test_retire_finishes_a_leave_that_was_interrupted(fast, db_conn):
    """wb announced it was leaving and died before storing its share: the list says wa alone,
    wb's session still holds wb's share of what came before. --retire stores it."""
    from ingest.members_store import change
    from ingest.membership import CONTROL_TOPIC
    from ioc.db import connect
    from ioc.mqtt import MqttClient

    register(db_conn, [(d, "environment") for d in DEVICES])
    t0 = time.time() - 3600
    wa, wb = _two(fast)
    announcer = MqttClient(fast.mqtt, "announcer").connect()
    try:
        wb.stop()
        acked = _publish(fast, 0, 300, t0)

        def announce(view):
            info = announcer.publish(CONTROL_TOPIC, view.encode(), qos=1)
            info.wait_for_publish(15)
            assert info.is_published()

        with connect(fast.database) as conn:
            assert change(conn, announce, remove="wb", actor="test").members == ("wa",)
        more = _publish(fast, 300, 500, t0)
        wait_for(lambda: wa.worker.receiver.ownership.view.members == ("wa",), 30, "the list")
        time.sleep(2.0)
        assert count(db_conn, READINGS) < acked + more  # wb's share of 0..300 is missing
        assert retire(fast, "wb", timeout=60, force=True) == 0
        _exactly(db_conn, acked + more)
    finally:
        announcer.close()
        wa.stop()
