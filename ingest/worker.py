"""The ingest worker: MQTT in, parse, batch, commit to PostgreSQL, then ack and update Redis.

Three threads besides paho's network thread:
- the assembler parses inbox messages into a batch and hands it over when the flush policy
  says so;
- the committer writes each batch in one transaction (retrying temporary errors with back-off,
  splitting a batch the database refuses to dead-letter the offending message), then
  acknowledges the batch's messages and passes what it stored to the live feed;
- the live feed updates Redis (latest values, last seen, the events stream).
"""

from __future__ import annotations

import logging
import os
import queue
import signal
import socket
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime

import psycopg

from ingest.batch import Entry, Rejection, WritePlan, build_plan, reject_all
from ingest.db_errors import ErrorKind, classify, describe
from ingest.flush_policy import FlushPolicy, backoff_s
from ingest.formats import frigate_instance_id, parse
from ingest.live_feed import LiveFeed, live_updates
from ingest.metrics import IngestMetrics
from ingest.receiver import Receiver
from ingest.records import PayloadError
from ingest.registry import DeviceEntry, DeviceRegistry
from ingest.store import WriteCounts, prepare, write_plan
from ioc.config import Settings
from ioc.db.connect import connect
from ioc.live import LiveState, open_redis
from ioc.police.rules import load_rules

log = logging.getLogger(__name__)


@dataclass
class Batch:
    """Messages gathered for one transaction."""

    entries: list[Entry] = field(default_factory=list)
    rows: int = 0
    started: float = 0.0  # monotonic time of the first message
    reason: str = ""


@dataclass
class CommitResult:
    plans: list[WritePlan]
    counts: list[WriteCounts]
    refused: int = 0  # messages dead-lettered because the database refused their rows


class IngestWorker:
    """One ingest worker process's machinery; `start()`, then `stop()` (or `run_until`)."""

    def __init__(self, settings: Settings, name: str) -> None:
        self.settings = settings
        self.name = name
        self.ingest = settings.ingest
        self.queue_rules = load_rules(settings.police.queue_rules_file)
        self.metrics = IngestMetrics()
        self.receiver = Receiver(settings, name, on_received=self.metrics.received.inc)
        self.policy = FlushPolicy.from_settings(self.ingest, self.receiver.receive_window)
        self.registry = DeviceRegistry()
        self.exempt_devices = {frigate_instance_id(settings.mqtt.frigate_prefix)}
        self._batches: queue.Queue[Batch | None] = queue.Queue(maxsize=1)
        self._stopping = threading.Event()
        self._assembler_done = threading.Event()
        self._conn: psycopg.Connection | None = None
        self._threads: list[threading.Thread] = []
        self._redis = None
        self.live: LiveFeed | None = None
        self.committed_batches = 0
        self.stored_readings = 0

    # -- lifecycle ------------------------------------------------------------------------------
    def start(self) -> IngestWorker:
        self.metrics.serve(self.ingest.metrics_port)
        self.metrics.db_up.set(0)
        self._redis = open_redis(self.settings.redis)
        m = self.metrics
        self.live = LiveFeed(
            LiveState(self._redis, self.settings.redis),
            on_error=m.live_errors.inc,
            on_dropped=m.live_dropped.inc,
        ).start()
        self._threads = [
            threading.Thread(target=self._commit_loop, name="ingest-commit", daemon=True),
            threading.Thread(target=self._assemble_loop, name="ingest-assemble", daemon=True),
        ]
        for t in self._threads:
            t.start()
        self.receiver.start()
        log.info("ingest worker %s started", self.name,
                 extra={"worker": self.name, "batch_size": self.ingest.batch_size,
                        "flush_interval_ms": self.ingest.flush_interval_ms})
        return self

    def stop(self, timeout: float = 15.0) -> None:
        """Stop reading, commit what was gathered (within `timeout`), acknowledge, disconnect."""
        self._stopping.set()
        deadline = time.monotonic() + timeout
        for t in self._threads:
            t.join(max(0.1, deadline - time.monotonic()))
        self.receiver.stop()
        if self.live is not None:
            self.live.stop(max(0.5, min(5.0, deadline - time.monotonic())))
        if self._conn is not None:
            self._conn.close()
        if self._redis is not None:
            self._redis.close()
        log.info("ingest worker %s stopped (%d batches, %d readings stored)", self.name,
                 self.committed_batches, self.stored_readings)

    def run_until(self, stop: threading.Event) -> bool:
        """Wait for `stop`; False if a worker thread died meanwhile (a bug: exit and restart)."""
        while not stop.wait(1.0):
            self.metrics.pending.set(self.receiver.pending)
            if self.live is not None:
                self.metrics.live_pending.set(self.live.pending)
            dead = [t.name for t in self._threads if not t.is_alive()]
            if dead:
                log.error("ingest thread(s) %s died; stopping so the supervisor restarts us",
                          ", ".join(dead))
                return False
        return True

    # -- assembler ------------------------------------------------------------------------------
    def _parse(self, inbound) -> Entry:
        try:
            parsed = parse(
                inbound.topic,
                inbound.payload,
                frigate_prefix=self.settings.mqtt.frigate_prefix,
                now=datetime.now(UTC),
                max_future_s=self.ingest.max_future_s,
                max_payload_bytes=self.ingest.max_payload_bytes,
            )
        except PayloadError as err:
            return Entry(inbound, rejection=Rejection(err.reason, "payload", err.format,
                                                      err.device_id))
        except Exception as err:  # a parser bug must cost one message, not the worker
            log.exception("parser failed on %s", inbound.topic)
            return Entry(inbound, rejection=Rejection(
                f"parser error {type(err).__name__}: {err}", "parser_bug"))
        return Entry(inbound, parsed=parsed)

    def _assemble_loop(self) -> None:
        inbox = self.receiver.inbox
        policy = self.policy
        batch = Batch()
        try:
            while not self._stopping.is_set():
                age = time.monotonic() - batch.started if batch.entries else 0.0
                try:
                    inbound = inbox.get(timeout=max(0.001, policy.wait_s(len(batch.entries), age)))
                except queue.Empty:
                    inbound = None
                while inbound is not None:
                    if not batch.entries:
                        batch.started = time.monotonic()
                    entry = self._parse(inbound)
                    batch.entries.append(entry)
                    batch.rows += entry.rows
                    if policy.reason(batch.rows, len(batch.entries), 0.0):
                        break
                    try:
                        inbound = inbox.get_nowait()
                    except queue.Empty:
                        inbound = None
                age = time.monotonic() - batch.started if batch.entries else 0.0
                reason = policy.reason(batch.rows, len(batch.entries), age)
                if reason:
                    batch.reason = reason
                    self._hand_over(batch)
                    batch = Batch()
            if batch.entries:
                batch.reason = "stop"
                self._hand_over(batch)
        finally:
            self._assembler_done.set()
            self._put_batch(None)

    def _hand_over(self, batch: Batch) -> None:
        self._put_batch(batch)

    def _put_batch(self, batch: Batch | None) -> None:
        while True:
            try:
                self._batches.put(batch, timeout=0.5)
                return
            except queue.Full:
                if self._stopping.is_set() and batch is None:
                    return

    # -- committer ------------------------------------------------------------------------------
    def _commit_loop(self) -> None:
        while True:
            try:
                batch = self._batches.get(timeout=0.5)
            except queue.Empty:
                if self._assembler_done.is_set():
                    return
                continue
            if batch is None:
                return
            try:
                self._commit_batch(batch)
            except _GiveUp:
                log.warning("stopping with %d messages not stored; the broker will redeliver them",
                            len(batch.entries))
                self.receiver.release(len(batch.entries))
            except Exception:  # a bug: keep the worker alive, the broker redelivers on reconnect
                log.exception("committing a batch of %d messages failed unexpectedly",
                              len(batch.entries))
                self.receiver.release(len(batch.entries))

    def _connection(self) -> psycopg.Connection:
        if self._conn is None or self._conn.closed:
            self._conn = connect(self.settings.database, application_name=f"ioc-ingest-{self.name}")
            prepare(self._conn)
        return self._conn

    def _drop_connection(self) -> None:
        if self._conn is not None:
            try:
                self._conn.close()
            except Exception:  # already broken
                pass
        self._conn = None

    def _lookup(self, device_id: str) -> DeviceEntry | None:
        if device_id in self.exempt_devices:
            return DeviceEntry("camera", True)
        return self.registry.get(device_id)

    def _plan(self, entries: list[Entry]) -> WritePlan:
        return build_plan(entries, self._lookup, auto_register=self.ingest.auto_register,
                          payload_cap=self.ingest.dead_letter_payload_cap)

    def _commit_batch(self, batch: Batch) -> None:
        attempt = 0
        while True:
            try:
                conn = self._connection()
                ids = {d for e in batch.entries if e.parsed is not None for d in e.device_ids()}
                if self.registry.due(misses=self.registry.misses(ids - self.exempt_devices)):
                    self.registry.load(conn)
                started = time.monotonic()
                result = self._write(conn, batch.entries)
                elapsed = time.monotonic() - started
                break
            except psycopg.Error as err:
                attempt += 1
                self._drop_connection()
                self.metrics.db_retries.inc()
                self.metrics.db_up.set(0)
                delay = backoff_s(attempt)
                if attempt == 1 or attempt % 10 == 0:
                    log.warning("database unavailable (%s); batch of %d messages kept, "
                                "retry %d in %.1f s", describe(err), len(batch.entries),
                                attempt, delay)
                if self._stopping.wait(delay) and attempt >= 3:
                    raise _GiveUp from err
        if attempt:
            log.info("database back after %d failed attempts; batch committed", attempt)
        self.metrics.db_up.set(1)
        self._after_commit(batch, result, elapsed)

    def _write(self, conn: psycopg.Connection, entries: list[Entry]) -> CommitResult:
        """Write entries in one transaction; if the database refuses the data, split them."""
        plan = self._plan(entries)
        try:
            with conn.transaction():
                counts = write_plan(conn, plan, self.queue_rules)
        except Exception as err:
            if conn.closed or (isinstance(err, psycopg.Error)
                               and classify(err) is ErrorKind.TEMPORARY):
                raise
            if not isinstance(err, psycopg.Error):
                log.exception("writing a batch failed unexpectedly; isolating the message")
            self.metrics.data_splits.inc()
            if len(entries) == 1:
                return self._refuse(conn, entries[0], err)
            half = len(entries) // 2
            log.info("database refused a batch of %d messages (%s); splitting it",
                     len(entries), describe(err))
            first = self._write(conn, entries[:half])
            second = self._write(conn, entries[half:])
            return CommitResult(first.plans + second.plans, first.counts + second.counts,
                                first.refused + second.refused)
        for device_id, family in plan.new_devices.items():
            self.registry.add(device_id, family)
        return CommitResult([plan], [counts])

    def _refuse(self, conn: psycopg.Connection, entry: Entry, err: Exception) -> CommitResult:
        parsed = entry.parsed
        rejection = Rejection(
            f"rejected by the database: {describe(err)}", "database",
            parsed.format if parsed else None, parsed.device_id if parsed else None,
        )
        log.warning("message on %s dead-lettered: %s", entry.inbound.topic, rejection.reason)
        plan = reject_all([entry], rejection, self.ingest.dead_letter_payload_cap)
        with conn.transaction():
            counts = write_plan(conn, plan)
        return CommitResult([plan], [counts], refused=1)

    def _after_commit(self, batch: Batch, result: CommitResult, elapsed: float) -> None:
        committed_at = time.time()
        m = self.metrics
        inbounds = [e.inbound for e in batch.entries]
        acked = self.receiver.ack(inbounds)
        m.acked.inc(acked)
        m.batches.labels(batch.reason or "?").inc()
        m.batch_messages.observe(len(batch.entries))
        m.batch_rows.observe(batch.rows)
        m.commit_seconds.observe(elapsed)
        readings = sum(c.readings for c in result.counts)
        self.stored_readings += readings
        self.committed_batches += 1
        m.readings_stored.inc(readings)
        for kind in ("incidents", "snapshots", "reviews", "caps", "statuses"):
            n = sum(getattr(c, kind) for c in result.counts)
            if n:
                m.records_stored.labels(kind).inc(n)
        observe_lag = m.lag_seconds.observe
        for plan in result.plans:
            for d in plan.dead_letters:
                m.dead_lettered.labels(d.reason_class).inc()
            for entry in plan.entries:
                parsed = entry.parsed
                if parsed is not None and parsed.records:
                    t = getattr(parsed.records[0], "time", None)
                    if t is not None:
                        observe_lag(committed_at - t.timestamp())
            if self.live is not None and (plan.stored_records or plan.dead_letters):
                latest, events = live_updates(plan, worker=self.name, committed_at=committed_at)
                if latest or events:
                    self.live.add(latest, events)
        m.pending.set(self.receiver.pending)
        log.debug("batch committed: %d messages, %d readings new, %.1f ms (%s)",
                  len(batch.entries), readings, elapsed * 1000, batch.reason)


class _GiveUp(Exception):
    """The worker is stopping while the database is still away."""


def default_name() -> str:
    """The worker name when none is given: the host name, stable across restarts."""
    return socket.gethostname().split(".")[0] or f"pid{os.getpid()}"


def run_worker(settings: Settings, name: str | None = None) -> int:
    """Run an ingest worker until SIGTERM or SIGINT; returns the exit code."""
    for what, url in (("IOC_DATABASE_URL", settings.database.url),
                      ("IOC_MQTT_URL", settings.mqtt.url), ("IOC_REDIS_URL", settings.redis.url)):
        if not url:
            log.error("%s is not set: the ingest worker needs the database, broker and Redis", what)
            return 2
    if name is None:
        name = default_name()
        log.info("no --name given: using %r (give each worker on a host its own name)", name)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    worker = IngestWorker(settings, name)
    try:
        worker.start()
    except Exception as err:
        log.error("ingest worker could not start: %s", err)
        worker.stop(timeout=2.0)
        return 1
    try:
        healthy = worker.run_until(stop)
    finally:
        worker.stop()
    return 0 if healthy else 1
