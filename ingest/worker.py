"""The ingest worker: MQTT in, parse, batch, commit to PostgreSQL, then ack and update Redis.

Built on the worker skeleton of `ioc.worker` (signals, supervised threads, shutdown).
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
import socket
import threading
import time
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime

import psycopg

from ingest.batch import Entry, Rejection, WritePlan, build_plan, reject_all
from ingest.db_errors import ErrorKind, classify, describe
from ingest.flush_policy import FlushPolicy, backoff_s
from ingest.formats import frigate_instance_id, parse
from ingest.live_feed import LiveFeed, live_updates
from ingest.members_store import change, current, forget_view, load_view, save_view
from ingest.membership import CONTROL_TOPIC, View
from ingest.metrics import IngestMetrics
from ingest.receiver import Receiver
from ingest.records import PayloadError
from ingest.registry import DeviceEntry, DeviceRegistry
from ingest.store import WriteCounts, prepare, write_plan
from ioc.config import Settings
from ioc.db.connect import connect
from ioc.ingest_sessions import HEARTBEAT_S, ONLINE_WITHIN_S, Heartbeat, SessionBoard
from ioc.live import LiveState, open_redis
from ioc.worker import stop_on_signals, supervise
from police.rules import load_rules

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
        self.run_id = f"{os.getpid()}-{int(time.time() * 1000) % 10**10}"
        self.board: SessionBoard | None = None
        self.committed_view: View | None = None  # the member list our commits have reached
        self._view_changed = threading.Condition()
        self._heartbeat_thread: threading.Thread | None = None
        self._last_stream = (time.monotonic(), 0)
        self.leaving = False

    # -- lifecycle ------------------------------------------------------------------------------
    def start(self, *, join: bool = True, stop: threading.Event | None = None) -> IngestWorker:
        """Start; `join=False` resumes the session without joining the members (to retire).

        The member list this worker decides ownership with comes from its own last commit
        (or, for a new worker, the current list) BEFORE the session resumes, so messages the
        broker redelivers are judged under the list they were published under.
        """
        self.metrics.serve(self.ingest.metrics_port)
        self.metrics.db_up.set(0)
        self._redis = open_redis(self.settings.redis)
        self.board = SessionBoard(self._redis, self.settings.redis.key_prefix)
        view = self._with_admin_db(lambda conn: load_view(conn, self.name) or current(conn),
                                   "read the member list", stop)
        self.receiver.ownership.view = view
        self.committed_view = view
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
        if self.name in view.members and not self.receiver.mqtt.features.session_present:
            log.warning("the broker had no session for member %s (expired, or lost in a broker "
                        "kill before its first save): what it queued for us is gone", self.name)
        self._heartbeat_thread = threading.Thread(target=self._heartbeat_loop,
                                                  name="ingest-heartbeat", daemon=True)
        self._heartbeat_thread.start()
        if join:
            self.join(stop)
        log.info("ingest worker %s started", self.name,
                 extra={"worker": self.name, "batch_size": self.ingest.batch_size,
                        "flush_interval_ms": self.ingest.flush_interval_ms})
        return self

    def stop(self, timeout: float = 15.0, *, end_session: bool = False) -> None:
        """Stop reading, commit what was gathered (within `timeout`), acknowledge, disconnect.

        `end_session=True` (after `leave()`) also deletes the broker session, and with it
        whatever the broker still queues for us: only when we are no longer a member.
        """
        self._stopping.set()
        deadline = time.monotonic() + timeout
        for t in self._threads:
            t.join(max(0.1, deadline - time.monotonic()))
        self.receiver.stop(end_session=end_session)
        if self.board is not None and self._heartbeat_thread is not None:
            self._heartbeat_thread.join(HEARTBEAT_S + 1)
            try:
                if end_session:
                    self.board.forget(self.name)
                else:  # the session stays and queues: the listing shows it away at once
                    self.board.beat(replace(self.heartbeat(), state="stopped"))
            except Exception as err:  # Redis away: the listing shows it away later, no harm
                log.warning("could not update %s's heartbeat: %s", self.name, err)
        if self.live is not None:
            self.live.stop(max(0.5, min(5.0, deadline - time.monotonic())))
        if self._conn is not None:
            self._conn.close()
        if self._redis is not None:
            self._redis.close()
        log.info("ingest worker %s stopped (%d batches, %d readings stored)", self.name,
                 self.committed_batches, self.stored_readings)

    # -- members ------------------------------------------------------------------------------
    def _admin_connection(self) -> psycopg.Connection:
        return connect(self.settings.database, application_name=f"ioc-ingest-{self.name}-members")

    def _with_admin_db(self, action, what: str, stop: threading.Event | None,
                       timeout: float = 60.0):
        """Run `action(conn)` on a connection of its own, retrying while the database is away
        (until `stop` is set, or `timeout` when there is no `stop`)."""
        deadline = time.monotonic() + timeout
        attempt = 0
        while True:
            try:
                with self._admin_connection() as conn:
                    return action(conn)
            except (psycopg.OperationalError, ConnectionError, TimeoutError) as err:
                attempt += 1
                if (stop is None and time.monotonic() > deadline) or (stop and stop.is_set()):
                    raise
                delay = backoff_s(attempt)
                if attempt == 1 or attempt % 10 == 0:
                    log.warning("could not %s (%s); retry %d in %.1f s", what, err, attempt, delay)
                time.sleep(delay)

    def _announce(self, view: View) -> None:
        """Publish a member list on the stream and wait for the broker's PUBACK."""
        mqtt = self.receiver.mqtt
        if not mqtt.wait_connected(15.0):
            raise ConnectionError("not connected to the MQTT broker: member list not announced")
        info = mqtt.publish(CONTROL_TOPIC, view.encode(), qos=1)
        try:
            info.wait_for_publish(15.0)
        except (RuntimeError, ValueError) as err:
            raise ConnectionError(f"member list not announced: {err}") from err
        if not info.is_published():
            raise ConnectionError("the broker did not acknowledge the member list within 15 s")

    def join(self, stop: threading.Event | None = None) -> View:
        """Become a member (after subscribing: from the announcement on, our session holds
        every message we own)."""
        return self._with_admin_db(
            lambda conn: change(conn, self._announce, add=self.name, actor=f"ingest:{self.name}"),
            "join the ingest members", stop)

    def leave(self, timeout: float = 300.0, *, actor: str | None = None) -> bool:
        """Hand our share to the other members: announce a list without us, then store what
        we own up to that announcement. True when done (then `stop(end_session=True)`)."""
        self.leaving = True
        view = self._with_admin_db(
            lambda conn: change(conn, self._announce, remove=self.name,
                                actor=actor or f"ingest:{self.name}"),
            "leave the ingest members", None)
        log.info("leaving the ingest members: storing what we own up to epoch %d", view.epoch)

        def done() -> bool:
            cv = self.committed_view
            return cv is not None and cv.epoch >= view.epoch and self.name not in cv.members

        with self._view_changed:
            if not self._view_changed.wait_for(done, timeout):
                log.error("%s did not reach its leaving point within %.0f s; its session is kept",
                          self.name, timeout)
                return False
        self._with_admin_db(lambda conn: self._forget(conn), "forget our view", None)
        return True

    def _forget(self, conn: psycopg.Connection) -> None:
        with conn.transaction():
            forget_view(conn, self.name)

    # -- heartbeat ------------------------------------------------------------------------------
    def heartbeat(self) -> Heartbeat:
        r = self.receiver
        now_m = time.monotonic()
        then, stream_then = self._last_stream
        rate = (r.stream - stream_then) / max(1e-3, now_m - then)
        self._last_stream = (now_m, r.stream)
        view = r.ownership.view
        return Heartbeat(self.name, time.time(), self.run_id, r.stream, r.pending, round(rate, 1),
                         view.epoch, r.ownership.member,
                         "leaving" if self.leaving else "running", socket.gethostname(),
                         os.getpid())

    def _heartbeat_loop(self) -> None:
        m = self.metrics
        last_rows = 0.0
        last_skipped = 0
        failures = 0
        while not self._stopping.wait(HEARTBEAT_S):
            try:
                self.receiver.flush_skipped()
                m.pending.set(self.receiver.pending)
                skipped = self.receiver.skipped_other
                m.skipped.inc(skipped - last_skipped)
                last_skipped = skipped
                m.member.set(1 if self.receiver.ownership.member else 0)
                beat = self.heartbeat()
                self.board.beat(beat)
                if time.monotonic() - last_rows >= 10.0:
                    last_rows = time.monotonic()
                    view = self.receiver.ownership.view
                    m.show_sessions(self.board.rows(view.members, view.members))
            except Exception as err:  # Redis away: the heartbeat is only for the listing
                failures += 1
                if failures == 1 or failures % 100 == 0:
                    log.warning("ingest heartbeat failed (%d times): %s", failures, err)
            else:
                failures = 0

    @property
    def threads(self) -> list[threading.Thread]:
        return self._threads

    def run_until(self, stop: threading.Event) -> bool:
        """Wait for `stop`; False if a worker thread died meanwhile (a bug: exit and restart)."""
        return supervise(stop, lambda: self._threads, check_s=1.0, on_check=self._show_pending,
                         what="ingest")

    def _show_pending(self) -> None:
        self.metrics.pending.set(self.receiver.pending)
        if self.live is not None:
            self.metrics.live_pending.set(self.live.pending)

    # -- assembler ------------------------------------------------------------------------------
    def _parse(self, inbound) -> Entry:
        if inbound.control is not None:  # a member list: no records, committed as our view
            return Entry(inbound)
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
                self.receiver.abandon([e.inbound for e in batch.entries])
            except Exception:  # a bug: keep the worker alive, the broker redelivers on reconnect
                log.exception("committing a batch of %d messages failed unexpectedly",
                              len(batch.entries))
                self.receiver.abandon([e.inbound for e in batch.entries])

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
                wanted = ids - self.exempt_devices
                misses = self.registry.misses(wanted)
                if self.registry.due(misses=misses):
                    self.registry.load(conn)
                elif misses:  # reloaded a moment ago: look up only the unknown ids
                    self.registry.load_missing(conn, wanted)
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
                if plan.control is not None:  # with the messages before it, or not at all
                    save_view(conn, self.name, plan.control)
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
        for plan, counts in zip(result.plans, result.counts, strict=True):
            for d in plan.dead_letters:
                m.dead_lettered.labels(d.reason_class).inc()
            for entry in plan.entries:
                parsed = entry.parsed
                if parsed is not None and parsed.records:
                    t = getattr(parsed.records[0], "time", None)
                    if t is not None:
                        observe_lag(committed_at - t.timestamp())
            if self.live is not None and (plan.stored_records or plan.dead_letters):
                latest, events = live_updates(plan, worker=self.name, committed_at=committed_at,
                                              new_readings=counts.new_readings)
                if latest or events:
                    self.live.add(latest, events)
        m.pending.set(self.receiver.pending)
        views = [p.control for p in result.plans if p.control is not None]
        if views:
            with self._view_changed:
                self.committed_view = views[-1]
                self._view_changed.notify_all()
        log.debug("batch committed: %d messages, %d readings new, %.1f ms (%s)",
                  len(batch.entries), readings, elapsed * 1000, batch.reason)


class _GiveUp(Exception):
    """The worker is stopping while the database is still away."""


def default_name() -> str:
    """The worker name when none is given: the host name, stable across restarts."""
    return socket.gethostname().split(".")[0] or f"pid{os.getpid()}"


def _check_urls(settings: Settings) -> bool:
    for what, url in (("IOC_DATABASE_URL", settings.database.url),
                      ("IOC_MQTT_URL", settings.mqtt.url), ("IOC_REDIS_URL", settings.redis.url)):
        if not url:
            log.error("%s is not set: the ingest worker needs the database, broker and Redis", what)
            return False
    return True


def run_worker(settings: Settings, name: str | None = None, *, leave_on_stop: bool = False) -> int:
    """Run an ingest worker until SIGTERM or SIGINT; returns the exit code.

    `leave_on_stop`: on SIGTERM/SIGINT hand our share to the other members and delete our
    broker session (scaling down for good); otherwise the session stays and queues our
    share until a worker with this name comes back.
    """
    if not _check_urls(settings):
        return 2
    if name is None:
        name = default_name()
        log.info("no --name given: using %r (give each worker on a host its own name)", name)
    stop = stop_on_signals()
    worker = IngestWorker(settings, name)
    try:
        worker.start(stop=stop)
    except Exception as err:
        log.error("ingest worker could not start: %s", err)
        worker.stop(timeout=2.0)
        return 1
    left = False
    try:
        healthy = worker.run_until(stop)
        if healthy and leave_on_stop:
            left = worker.leave()
    finally:
        worker.stop(end_session=left)
    if leave_on_stop and healthy:
        log.info("%s %s", name, "left the members; its broker session is deleted" if left
                 else "could not finish leaving; its session is kept (run --retire later)")
    return 0 if healthy and (left or not leave_on_stop) else 1


def retire(settings: Settings, name: str, *, timeout: float = 600.0, force: bool = False) -> int:
    """`ioc ingest --retire NAME`: hand NAME's share to the other members and delete its
    broker session, storing first what its session still holds. NAME must not be running."""
    if not _check_urls(settings):
        return 2
    settings = settings.model_copy(
        update={"ingest": settings.ingest.model_copy(update={"metrics_port": 0})})
    redis = open_redis(settings.redis)
    try:
        beat = SessionBoard(redis, settings.redis.key_prefix).heartbeats().get(name)
    except Exception as err:
        log.warning("cannot read heartbeats from Redis (%s): assuming %s is not running", err, name)
        beat = None
    finally:
        redis.close()
    if beat is not None and time.time() - beat.at <= ONLINE_WITHIN_S and not force:
        print(f"ingest worker {name!r} is running (heartbeat {time.time() - beat.at:.0f} s ago "
              f"from {beat.host} pid {beat.pid}): stop it first, or run it with --leave-on-stop "
              f"and stop it")
        return 1
    worker = IngestWorker(settings, name)
    try:
        worker.start(join=False)
    except Exception as err:
        print(f"could not resume {name!r}'s session: {err}")
        worker.stop(timeout=2.0)
        return 1
    left = False
    try:
        left = worker.leave(timeout, actor=f"cli:retire:{default_name()}")
    finally:
        worker.stop(end_session=left)
    if left:
        print(f"retired {name!r}: its share goes to the other members; {worker.stored_readings} "
              f"readings it still held were stored; its broker session is deleted")
        return 0
    print(f"{name!r} did not finish within {timeout:.0f} s; its session is kept: run again")
    return 1


def list_sessions(settings: Settings) -> int:
    """`ioc ingest sessions`: every ingest session, online or away, and what it has queued."""
    from ingest.members_store import known_workers

    if not _check_urls(settings):
        return 2
    with connect(settings.database, application_name="ioc-cli") as conn:
        members = current(conn)
        names = known_workers(conn)
    redis = open_redis(settings.redis)
    try:
        rows = SessionBoard(redis, settings.redis.key_prefix).rows(names, members.members)
    finally:
        redis.close()
    print(f"members (epoch {members.epoch}): {', '.join(members.members) or 'none'}")
    print(f"{'session':<24} {'member':<7} {'state':<9} {'last seen':>10} {'queued':>12} "
          f"{'msgs/s':>8}")
    now = time.time()
    for r in rows:
        seen = f"{now - r.last_seen:.0f} s ago" if r.last_seen else "never"
        queued = "?" if r.queued is None else (f">={r.queued}" if r.at_least else str(r.queued))
        state = ("online" if r.online else "AWAY") if r.consuming or not r.online else "STALLED"
        if not r.online and r.queued:
            state = "QUEUEING"
        print(f"{r.name:<24} {'yes' if r.member else 'no':<7} {state:<9} {seen:>10} "
              f"{queued:>12} {r.rate:>8.0f}")
    return 0
