"""`ioc alerts`: applies the alert rules to the live event stream and publishes alert changes.

One process (the skeleton of `ioc.worker`: signals, supervised threads, shutdown), these
threads besides paho's, each an `ioc.worker.ConnectionLoop` over its own connection:
- the evaluator reads the Redis stream through the workers' consumer group (several workers
  split it), hands each batch to `alerts.engine.Engine`, acknowledges it after the commit,
  and runs the engine's fast tick every `alerts.evaluate_interval_ms` (cleared levels,
  durations, silence, escalation, expiry);
- the scheduler runs the slow, scheduled work with its own Engine and connection (rain over
  1/12/24 h, air-quality indices, disaster levels per unit), so none of it delays alerts
  from the stream;
- the publisher sends new `alert_events` rows to Redis, MQTT and webhooks
  (`alerts.outbound`);
- the webhook senders POST in the background with retries (`alerts.webhooks`).

Rollups, KPI refresh, retention and pruning are not here: `ioc maintain` (ioc/maintain.py)
owns them, so they go on while the alerts are down.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from functools import partial
from pathlib import Path

import psycopg
import redis

from alerts import deliveries
from alerts.deliveries import MqttDestination, WebhookDestination
from alerts.engine import Engine, load_devices, load_unit_names
from alerts.outbound import AlertPublisher, alert_topic
from alerts.rules import RulesError, RuleSet, load_rules
from alerts.rules.store import effective_rules
from alerts.stream import EventStream
from alerts.webhooks import WebhookSender
from ioc.config import Settings
from ioc.db import connect
from ioc.events import Readings
from ioc.live import LiveState, open_redis
from ioc.worker import ConnectionLoop, join_all, stop_on_signals, supervise

log = logging.getLogger("alerts")

WATER_RULE = "water_level_alarm"
SILENT_RULE = "device_silent"
_TEMPORARY = (psycopg.OperationalError, redis.exceptions.ConnectionError,
              redis.exceptions.TimeoutError)

__all__ = ["AlertWorker", "evaluate_once", "load_devices", "run_worker"]


_default_rules: RuleSet | None = None


def evaluate_once(conn: psycopg.Connection, live: LiveState, devices, *,
                  ruleset: RuleSet | None = None) -> int:
    """One pass over the latest values of `devices` (as if each were just received) and the
    time-based rules; returns how many alerts opened. For scripts and tests; the worker
    itself follows the event stream."""
    global _default_rules
    if ruleset is None:
        _default_rules = _default_rules or load_rules()
        ruleset = _default_rules
    engine = Engine(conn, live, ruleset, devices)
    latest = live.latest_many(d.device_id for d in devices)
    readings = tuple((device_id, metric, item.value, item.time)
                     for device_id, values in latest.items() for metric, item in values.items())
    result = engine.handle_events([Readings(readings)])
    return len(result.opened) + len(engine.tick().opened)


class AlertWorker:
    """An alert worker's machinery: `start()`, then `stop()`; or `run(stop_event)`."""

    def __init__(self, settings: Settings, name: str | None = None, *,
                 live: LiveState | None = None, mqtt=None,
                 webhooks: WebhookSender | None = None) -> None:
        self.settings = settings
        self.name = name or f"{socket.gethostname()}-{os.getpid()}"
        self.live = live or LiveState(open_redis(settings.redis), settings.redis)
        self.mqtt = mqtt
        self.webhooks = webhooks
        self.destinations: list = []
        if mqtt is not None:
            self.destinations.append(MqttDestination(mqtt, topic_of=alert_topic))
        if webhooks is not None:
            self.destinations += [WebhookDestination(webhooks, url) for url in webhooks.urls]
        self.publisher = AlertPublisher(self.live, self.destinations, mqtt=mqtt)
        self._queued = threading.Event()  # wakes the delivery loops
        self.stream = EventStream(self.live, settings.alerts.consumer_group, self.name)
        self.engine: Engine | None = None
        self.scheduler: Engine | None = None
        self.events_handled = 0  # stream entries (of any type) this worker took
        self.readings_handled = 0
        self._stop = threading.Event()
        self._changed = threading.Event()
        self._threads: list[threading.Thread] = []
        self._rules_file: Path | None = settings.alerts.rules_file
        self._base_rules: RuleSet | None = None
        self._rules_mtime = 0.0
        self._next_sched_reload = 0.0

    # -- threads ------------------------------------------------------------------------------
    def _connector(self, role: str):
        return partial(connect, self.settings.database, autocommit=True,
                       application_name=f"ioc-{role}-{self.name}"[:63])

    def start(self) -> AlertWorker:
        self._stop.clear()
        evaluator = _Evaluator(self)
        self._threads = [
            ConnectionLoop(f"alerts-eval-{self.name}", self._connector("alerts"),
                           evaluator.step, self._stop, temporary=_TEMPORARY,
                           on_connect=evaluator.on_connect, on_error=evaluator.on_error,
                           error_wait_s=0.5, logger=log),
            ConnectionLoop(f"alerts-pub-{self.name}", self._connector("alerts-pub"),
                           self._publish_step, self._stop, self._changed, idle_s=0.25,
                           temporary=_TEMPORARY),
            ConnectionLoop(f"alerts-sched-{self.name}", self._connector("alerts-sched"),
                           self._schedule_step, self._stop, idle_s=1.0, temporary=_TEMPORARY,
                           on_connect=self._scheduler_connected,
                           on_error=lambda _err: log.exception(
                               "alerts scheduler %s: scheduled work failed", self.name),
                           error_wait_s=5.0, logger=log),
        ]
        self._threads += [
            ConnectionLoop(f"alerts-deliver-{d.name[:40]}", self._connector("alerts-out"),
                           partial(self._deliver_step, d), self._stop, self._queued,
                           temporary=(psycopg.Error,))
            for d in self.destinations
        ]
        for t in self._threads:
            t.start()
        return self

    @property
    def threads(self) -> list[threading.Thread]:
        return self._threads

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        self._changed.set()
        self._queued.set()
        join_all(self._threads, timeout)

    def run(self, stop: threading.Event) -> bool:
        """Run until `stop` is set; False when a thread died (then it stops as well)."""
        self.start()
        try:
            return supervise(stop, lambda: self._threads, check_s=0.5, what="alerts")
        finally:
            self.stop()

    # -- rules and devices --------------------------------------------------------------------
    def _rules(self, conn: psycopg.Connection) -> RuleSet:
        path = self._rules_file
        mtime = path.stat().st_mtime if path and path.exists() else 0.0
        if self._base_rules is None or mtime != self._rules_mtime:
            try:
                self._base_rules = load_rules(path)
                self._rules_mtime = mtime
            except RulesError as err:
                if self._base_rules is None:
                    raise
                log.error("%s; keeping the rules loaded before", err)
        ruleset, _problems = effective_rules(conn, base=self._base_rules)
        return ruleset

    def _load(self, conn: psycopg.Connection, engine: Engine | None) -> Engine:
        """A new Engine for `conn`, or `engine` with fresh rules and devices."""
        ruleset = self._rules(conn)
        devices = load_devices(conn)
        names = load_unit_names(conn)
        if engine is None or engine.conn is not conn:
            engine = Engine(conn, self.live, ruleset, devices, unit_names=names,
                            on_hazard=self.publisher.send_hazard, on_change=self._changed.set)
            log.info("alerts worker %s: %d rule(s), %d device(s)", self.name,
                     len(ruleset.active_rules), len(devices))
        else:
            engine.set_rules(ruleset, devices, names)
        return engine

    # -- the scheduler ------------------------------------------------------------------------
    def _scheduler_connected(self, _conn: psycopg.Connection) -> None:
        self.scheduler = None
        self._next_sched_reload = 0.0

    def _schedule_step(self, conn: psycopg.Connection) -> bool:
        """The slow, scheduled work (rain, air quality, disaster levels), with its own Engine."""
        now = time.monotonic()
        if self.scheduler is None or now >= self._next_sched_reload:
            self.scheduler = self._load(conn, self.scheduler)
            self._next_sched_reload = now + self.settings.alerts.reload_s
        self.scheduler.tick(fast=False)
        return False

    # -- the publisher ------------------------------------------------------------------------
    def _publish_step(self, conn: psycopg.Connection) -> bool:
        sent = self.publisher.publish_pending(conn)
        if sent:
            self._queued.set()
        return sent >= 500

    @staticmethod
    def _deliver_step(destination, conn: psycopg.Connection) -> bool:
        return deliveries.deliver_due(conn, destination) > 0


def _mqtt_client(settings: Settings, name: str):
    if not (settings.alerts.mqtt_out and settings.mqtt.url):
        return None
    from ioc.mqtt import MqttClient

    client = MqttClient(settings.mqtt, f"alerts-{name}"[:60])
    try:
        client.connect(timeout=15, keep_trying=True)
    except ConnectionError as err:
        log.warning("%s; alert changes go out on MQTT once the broker is back", err)
    return client


def run_worker(settings: Settings, name: str | None = None) -> int:
    stop = stop_on_signals()
    name = name or f"{socket.gethostname()}-{os.getpid()}"
    try:
        load_rules(settings.alerts.rules_file)
    except RulesError as err:
        log.error("%s", err)
        return 2
    mqtt = _mqtt_client(settings, name)
    webhooks = WebhookSender.from_settings(settings.alerts)
    worker = AlertWorker(settings, name, mqtt=mqtt, webhooks=webhooks)
    log.info("alerts worker %s running (group %s)", name, settings.alerts.consumer_group)
    try:
        worker.run(stop)
    finally:
        if mqtt is not None:
            mqtt.close()
    return 0


class _Evaluator:
    """The evaluator thread's step: read the stream through the consumer group, hand each
    batch to the Engine, acknowledge it after the commit; the engine's fast tick every
    `alerts.evaluate_interval_ms`; a summary in the log every 5 minutes."""

    def __init__(self, worker: AlertWorker) -> None:
        self.w = worker
        self.interval = worker.settings.alerts.evaluate_interval_ms / 1000
        self.next_tick = self.next_reload = self.next_claim = 0.0
        self.summary_at = time.monotonic() + 300
        self.opened = self.resolved = self.readings = 0
        self.entries: list = []  # the batch in hand (acknowledged even when it fails)

    def on_connect(self, _conn: psycopg.Connection) -> None:
        self.w.engine = None
        self.w.stream.reset()
        self.w.stream.ensure_group()

    def step(self, conn: psycopg.Connection) -> bool:
        w = self.w
        self.entries = []
        now = time.monotonic()
        if w.engine is None or now >= self.next_reload:
            w.engine = w._load(conn, w.engine)
            self.next_reload = now + w.settings.alerts.reload_s
        wait_ms = int(max(0.0, min(0.2, self.next_tick - now)) * 1000)
        self.entries = entries = w.stream.read(count=200, block_ms=max(1, wait_ms))
        if now >= self.next_claim:
            entries += w.stream.claim_stale()
            self.next_claim = now + 30
        if entries:
            result = w.engine.handle_events([e for _, e in entries])
            w.stream.ack([i for i, _ in entries])
            w.events_handled += len(entries)
            w.readings_handled += result.readings
            self.readings += result.readings
            self.opened += len(result.opened)
            self.resolved += result.resolved
        if time.monotonic() >= self.summary_at:
            log.info("alerts worker %s: %d readings, %d alert(s) opened, %d resolved "
                     "in the last 5 minutes", w.name, self.readings, self.opened, self.resolved)
            self.readings = self.opened = self.resolved = 0
            self.summary_at = time.monotonic() + 300
        if time.monotonic() >= self.next_tick:
            w.engine.tick(slow=False)
            self.next_tick = time.monotonic() + self.interval
        return True

    def on_error(self, _err: Exception) -> None:
        # A bad event or a bug in one rule must not stop every alert: log it, drop the batch
        # (acknowledged, so it is not retried forever) and go on.
        log.exception("alerts worker %s: batch failed; skipped", self.w.name)
        try:
            self.w.stream.ack([i for i, _ in self.entries])
        except Exception:  # the connection error shows up in the next round
            pass
