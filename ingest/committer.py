"""The ingest worker's committer: one transaction per batch, then the acks and the live feed.

Owns what happens to a batch the assembler handed over: the database write (temporary errors
retried with back-off and the batch kept; a batch the database refuses split until the
offending message is dead-lettered), and, only after the commit, the PUBACKs of the batch's
messages, the metrics, the Redis updates and the member list our commits have reached.
`Committer` is a part of `ingest.worker.IngestWorker`, which owns the state it uses.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import psycopg

from ingest.batch import Entry, Rejection, WritePlan, build_plan, reject_all
from ingest.db_errors import ErrorKind, classify, describe
from ingest.flush_policy import backoff_s
from ingest.live_feed import LiveFeed, live_updates
from ingest.members_store import save_view
from ingest.registry import DeviceEntry, DeviceRegistry
from ingest.store import WriteCounts, prepare, write_plan
from ioc.db.connect import connect

if TYPE_CHECKING:
    from ingest.membership import View
    from ingest.metrics import IngestMetrics
    from ingest.receiver import Receiver
    from ioc.config import IngestSettings, Settings
    from police.rules import QueueRules

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


class Committer:
    """The committer thread's work (`_commit_loop`), a part of `IngestWorker`."""

    # set by IngestWorker.__init__
    settings: Settings
    name: str
    ingest: IngestSettings
    queue_rules: QueueRules
    metrics: IngestMetrics
    receiver: Receiver
    registry: DeviceRegistry
    exempt_devices: set[str]
    live: LiveFeed | None
    committed_batches: int
    stored_readings: int
    committed_view: View | None
    _batches: queue.Queue[Batch | None]
    _stopping: threading.Event
    _assembler_done: threading.Event
    _conn: psycopg.Connection | None
    _view_changed: threading.Condition

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

