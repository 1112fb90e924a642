"""Prometheus metrics of one ingest worker, in a registry of its own."""

from __future__ import annotations

import logging

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, start_http_server

log = logging.getLogger(__name__)

_LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)
_LAG_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 3600)
_BATCH_BUCKETS = (1, 10, 50, 100, 250, 500, 1000, 2000, 5000, 10000, 50000)


class IngestMetrics:
    """The worker's counters, gauges and histograms (names start with `ioc_ingest_`)."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        r = self.registry
        self.received = Counter(
            "ioc_ingest_messages_received", "MQTT messages received.", registry=r)
        self.acked = Counter(
            "ioc_ingest_messages_acked", "MQTT messages acknowledged after commit.", registry=r)
        self.readings_stored = Counter(
            "ioc_ingest_readings_stored", "Readings added to the database (duplicates excluded).",
            registry=r)
        self.records_stored = Counter(
            "ioc_ingest_records_stored", "Other records written, by kind.", ["kind"], registry=r)
        self.dead_lettered = Counter(
            "ioc_ingest_dead_lettered", "Messages sent to dead_letters, by reason class.",
            ["reason"], registry=r)
        self.batches = Counter(
            "ioc_ingest_batches", "Batches committed, by flush reason.", ["reason"], registry=r)
        self.batch_messages = Histogram(
            "ioc_ingest_batch_messages", "Messages per committed batch.",
            buckets=_BATCH_BUCKETS, registry=r)
        self.batch_rows = Histogram(
            "ioc_ingest_batch_rows", "Records per committed batch.",
            buckets=_BATCH_BUCKETS, registry=r)
        self.commit_seconds = Histogram(
            "ioc_ingest_commit_seconds", "Time to write and commit one batch.",
            buckets=_LATENCY_BUCKETS, registry=r)
        self.lag_seconds = Histogram(
            "ioc_ingest_lag_seconds", "Commit time minus the message's own time.",
            buckets=_LAG_BUCKETS, registry=r)
        self.pending = Gauge(
            "ioc_ingest_pending_messages", "Messages received but not yet acknowledged.",
            registry=r)
        self.db_retries = Counter(
            "ioc_ingest_db_retries", "Batch attempts that failed with a temporary error.",
            registry=r)
        self.db_up = Gauge(
            "ioc_ingest_db_up", "1 when the last database attempt worked.", registry=r)
        self.data_splits = Counter(
            "ioc_ingest_batch_splits", "Batches split to isolate rows the database refused.",
            registry=r)
        self.live_errors = Counter(
            "ioc_ingest_redis_errors", "Failed Redis updates (retried).", registry=r)
        self.live_dropped = Counter(
            "ioc_ingest_redis_events_dropped",
            "Live events dropped because Redis was away too long.", registry=r)
        self.live_pending = Gauge(
            "ioc_ingest_redis_pending", "Latest values and events waiting for Redis.", registry=r)

        self.skipped = Counter(
            "ioc_ingest_messages_skipped",
            "Messages acknowledged without storing: another member stores them.", registry=r)
        self.member = Gauge(
            "ioc_ingest_member", "1 while this worker is in the ingest member list.", registry=r)
        self.session_online = Gauge(
            "ioc_ingest_session_online",
            "1 when the ingest session's worker sent a heartbeat within 10 s.", ["session"],
            registry=r)
        self.session_queued = Gauge(
            "ioc_ingest_session_queued",
            "Messages the broker holds for the ingest session (estimate; see docs/ingest.md).",
            ["session"], registry=r)
        self.session_consuming = Gauge(
            "ioc_ingest_session_consuming",
            "0 for a session that queues messages nobody consumes (its worker is away).",
            ["session"], registry=r)
        self._sessions: set[str] = set()

    def show_sessions(self, rows) -> None:
        """Set the per-session gauges from `sessions.session_rows`; drop sessions now gone."""
        names = set()
        for row in rows:
            names.add(row.name)
            self.session_online.labels(row.name).set(1 if row.online else 0)
            self.session_queued.labels(row.name).set(row.queued if row.queued is not None
                                                     else float("nan"))
            self.session_consuming.labels(row.name).set(1 if row.consuming else 0)
        for gone in self._sessions - names:
            for gauge in (self.session_online, self.session_queued, self.session_consuming):
                try:
                    gauge.remove(gone)
                except KeyError:
                    pass
        self._sessions = names

    def serve(self, port: int, addr: str = "0.0.0.0") -> None:
        """Expose /metrics on `port` (0: do nothing)."""
        if port:
            start_http_server(port, addr=addr, registry=self.registry)
            log.info("Prometheus metrics on port %d", port)
