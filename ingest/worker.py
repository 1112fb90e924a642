"""The ingest worker: MQTT in, parse, batch, commit to PostgreSQL, then ack and update Redis.

Built on the worker skeleton of `ioc.worker` (signals, supervised threads, shutdown).
Three threads besides paho's network thread:
- the assembler parses inbox messages into a batch and hands it over when the flush policy
  says so;
- the committer writes each batch in one transaction (retrying temporary errors with back-off,
  splitting a batch the database refuses to dead-letter the offending message), then
  acknowledges the batch's messages and passes what it stored to the live feed
  (`ingest.committer`);
- the live feed updates Redis (latest values, last seen, the events stream).
This module owns the worker's life (start, stop), its membership (join, leave), heartbeat
and assembler; `ingest.run` runs it from the command line.
"""

from __future__ import annotations

import logging
import os
import queue
import socket
import threading
import time
from dataclasses import replace
from datetime import UTC, datetime

import psycopg

from ingest.batch import Entry, Rejection
from ingest.committer import Batch, Committer
from ingest.flush_policy import FlushPolicy, backoff_s
from ingest.formats import frigate_instance_id, parse
from ingest.live_feed import LiveFeed
from ingest.members_store import change, current, forget_view, load_view
from ingest.membership import CONTROL_TOPIC, View
from ingest.metrics import IngestMetrics
from ingest.receiver import Receiver
from ingest.records import PayloadError
from ingest.registry import DeviceRegistry
from ioc.config import Settings
from ioc.db.connect import connect
from ioc.ingest_sessions import HEARTBEAT_S, Heartbeat, SessionBoard
from ioc.live import LiveState, open_redis
from ioc.worker import supervise
from police.rules import load_rules

log = logging.getLogger(__name__)


class IngestWorker(Committer):
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
