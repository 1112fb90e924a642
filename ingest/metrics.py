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

    def serve(self, port: int, addr: str = "0.0.0.0") -> None:
        """Expose /metrics on `port` (0: do nothing)."""
        if port:
            start_http_server(port, addr=addr, registry=self.registry)
            log.info("Prometheus metrics on port %d", port)
