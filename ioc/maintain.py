"""`ioc maintain`: rollup refresh, KPI refresh, retention and the watch over the database jobs.

One process (run one, or more: each job takes an advisory lock, a second process waits its
turn), apart from `ioc alerts`, so alerts being down stops none of it. Jobs:
- `rollups` every minute: the (device, metric, hour) keys ingest marked dirty, and their days
  (`ioc.db.rollups.refresh_dirty`), whatever their age;
- `kpis` right after: the telemetry KPIs of every local day a refreshed hour fell in (two days
  at least, for today's running figures);
- `retention` every hour: every growing table (`ioc.db.retention`);
- `timescaledb` every minute, on TimescaleDB: the compression and retention policy jobs' runs
  are copied into maintenance_jobs.
Each run is recorded in `maintenance_jobs` (last run, result, next run, failures in a row),
which `ioc db status`, the status page and the Prometheus metrics read; a job failing twice
in a row opens an alert (rule `maintenance_job_failed`), resolved by its next success.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from zoneinfo import ZoneInfo

import psycopg
from psycopg import sql

from ioc import alert_titles
from ioc.alert_status import ACTIVE, active_sql
from ioc.config import Settings
from ioc.db import connect, retention, timescale
from ioc.db.rollups import DirtyRefresh, refresh_dirty
from ioc.db.status import JobState, job_states
from ioc.worker import ConnectionLoop, stop_on_signals

log = logging.getLogger("ioc.maintain")

ALERT_RULE = "maintenance_job_failed"
ALERT_TITLE = "maintenance_job"  # its built-in title (ioc.alert_titles)
FAILURES_TO_ALERT = 2
KPI_DAYS_MAX = 400
ZONE = ZoneInfo("Asia/Ho_Chi_Minh")
# job -> seconds between runs
SCHEDULE = {"rollups": 60.0, "retention": 3600.0, "timescaledb": 60.0}
_LOCK_KEY = "hashtext(current_schema() || ':ioc-maintain:' || %s)"


# -- decisions ------------------------------------------------------------------------------------
def kpi_days(refresh: DirtyRefresh, now: dt.datetime, zone: ZoneInfo = ZONE) -> int:
    """How many local days (today included) the KPI refresh must cover after `refresh`."""
    if refresh.first_hour is None:
        return 2
    today = now.astimezone(zone).date()
    first = refresh.first_hour.astimezone(zone).date()
    return max(2, min(KPI_DAYS_MAX, (today - first).days + 1))


def should_alert(consecutive_failures: int) -> bool:
    return consecutive_failures >= FAILURES_TO_ALERT


def alert_title(job: str) -> tuple[str, dict]:
    """The failed-job alert's stored (Vietnamese) title, and its `details.title_i18n`: the
    built-in template and parameters the pages render in the reader's language with."""
    params = {"job": job}
    return (alert_titles.render(ALERT_TITLE, params, "vi")[:200],
            {"template_id": ALERT_TITLE, "params": params})


# -- recording ------------------------------------------------------------------------------------
def record_run(conn: psycopg.Connection, job: str, *, started: dt.datetime, ok: bool,
               rows: int | None = None, ms: float | None = None, error: str | None = None,
               next_run: dt.datetime | None = None, finished: dt.datetime | None = None) -> int:
    """Store one run of `job`; opens (or resolves) its alert. Returns failures in a row."""
    with conn.transaction():
        (failures,) = conn.execute(
            """
            INSERT INTO maintenance_jobs AS j (job, last_start, last_finish, last_ok, last_error,
                last_rows, last_ms, consecutive_failures, next_run, updated_at)
            VALUES (%(job)s, %(started)s, %(finished)s, %(ok)s, %(error)s, %(rows)s, %(ms)s,
                    CASE WHEN %(ok)s THEN 0 ELSE 1 END, %(next)s, now())
            ON CONFLICT (job) DO UPDATE SET
                last_start = EXCLUDED.last_start, last_finish = EXCLUDED.last_finish,
                last_ok = EXCLUDED.last_ok, last_error = EXCLUDED.last_error,
                last_rows = EXCLUDED.last_rows, last_ms = EXCLUDED.last_ms,
                consecutive_failures = CASE WHEN EXCLUDED.last_ok THEN 0
                                            ELSE j.consecutive_failures + 1 END,
                next_run = EXCLUDED.next_run, updated_at = now()
            RETURNING consecutive_failures
            """,
            {"job": job, "started": started, "finished": finished or dt.datetime.now(dt.UTC),
             "ok": ok, "error": error, "rows": rows, "ms": ms, "next": next_run},
        ).fetchone()
        if should_alert(failures):
            _open_alert(conn, job, failures, error)
        elif ok:
            _resolve_alert(conn, job)
    return failures


def _open_alert(conn: psycopg.Connection, job: str, failures: int, error: str | None) -> None:
    title, title_i18n = alert_title(job)
    row = conn.execute(
        sql.SQL("""
        INSERT INTO alerts (rule_id, subject, kind, severity, title, details)
        VALUES (%s, %s, 'maintenance', 'moderate', %s, %s)
        ON CONFLICT (rule_id, subject) WHERE {active}
        DO UPDATE SET count = alerts.count + 1, last_seen_at = now(), updated_at = now(),
                      details = alerts.details || EXCLUDED.details
        RETURNING id, (xmax = 0)
        """).format(active=active_sql()),
        (ALERT_RULE, job, title,
         json.dumps({"job": job, "failures": failures, "error": (error or "")[:500],
                     "title_i18n": title_i18n}, ensure_ascii=False)),
    ).fetchone()
    if row[1]:
        log.error("maintenance job %s failed %d times in a row: alert %d opened", job, failures,
                  row[0])
        conn.execute(
            "INSERT INTO alert_events (alert_id, actor, action, data) VALUES (%s, %s, %s, %s)",
            (row[0], "system:maintain", "opened",
             json.dumps({"severity": "moderate", "job": job, "failures": failures})),
        )


def _resolve_alert(conn: psycopg.Connection, job: str) -> None:
    row = conn.execute(
        "UPDATE alerts SET status = 'resolved', resolved_at = now(), "
        "resolved_by = 'system:maintain', updated_at = now() "
        "WHERE rule_id = %s AND subject = %s AND status = ANY(%s) "
        "RETURNING id", (ALERT_RULE, job, list(ACTIVE))).fetchone()
    if row:
        conn.execute(
            "INSERT INTO alert_events (alert_id, actor, action, data) VALUES (%s, %s, %s, %s)",
            (row[0], "system:maintain", "resolved", json.dumps({"job": job})),
        )


# -- the jobs -------------------------------------------------------------------------------------
def watch_timescale(conn: psycopg.Connection) -> int:
    """Copy each new run of a TimescaleDB job into maintenance_jobs; returns runs copied."""
    seen = {s.job: s.last_start for s in job_states(conn)}
    copied = 0
    for job in timescale.job_runs(conn):
        name = f"timescaledb:{job.proc_name}:{job.job_id}"
        if job.last_start is None or job.last_status is None or seen.get(name) == job.last_start:
            continue  # never ran, running now, or this run is copied already
        failed = job.last_status == "Failed"
        record_run(conn, name, started=job.last_start, ok=not failed,
                   error=f"{job.proc_name} on {job.hypertable}: last run failed" if failed else None,
                   next_run=job.next_start, finished=job.last_finish)
        copied += 1
    return copied


@dataclass
class Maintainer:
    """The jobs of `ioc maintain`, each run when due (`run_due`) or in a loop (`run`)."""

    settings: Settings
    name: str = "maintain"
    on_run: Callable[[], None] | None = None  # after each round (the metrics)

    def __post_init__(self) -> None:
        self.due: dict[str, float] = dict.fromkeys(SCHEDULE, 0.0)
        self.timescale: bool | None = None

    def run_due(self, conn: psycopg.Connection, *, force: bool = False) -> list[str]:
        """Run every job that is due (all with force); returns the jobs that ran."""
        ran = []
        if self.timescale is None:
            self.timescale = timescale.installed_version(conn) is not None
        for job, every in SCHEDULE.items():
            if job == "timescaledb" and not self.timescale:
                continue
            if not force and time.monotonic() < self.due[job]:
                continue
            self.due[job] = time.monotonic() + every
            next_run = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=every)
            if self._run(conn, job, next_run):
                ran.append(job)
        if ran and self.on_run is not None:
            self.on_run()
        return ran

    def _run(self, conn: psycopg.Connection, job: str, next_run: dt.datetime) -> bool:
        # a session lock, held while the job runs: a second `ioc maintain` skips the job
        got = conn.execute("SELECT pg_try_advisory_lock(" + _LOCK_KEY + ")", (job,)).fetchone()[0]
        if not got:
            return False
        try:
            return self._run_locked(conn, job, next_run)
        finally:
            if not conn.closed:
                conn.execute("SELECT pg_advisory_unlock(" + _LOCK_KEY + ")", (job,))

    def _run_locked(self, conn: psycopg.Connection, job: str, next_run: dt.datetime) -> bool:
        started = dt.datetime.now(dt.UTC)
        t0 = time.perf_counter()
        try:
            if job == "rollups":
                rows = self.refresh(conn, next_run=next_run)[0].rows
            elif job == "retention":
                rows = sum(retention.enforce(conn, self.settings.database).values())
            else:
                watch_timescale(conn)
                return True
        except (psycopg.OperationalError, psycopg.InterfaceError):
            raise  # the connection: the loop reconnects
        except Exception as err:
            log.exception("maintenance job %s failed", job)
            if conn.info.transaction_status == psycopg.pq.TransactionStatus.INERROR:
                conn.rollback()
            record_run(conn, job, started=started, ok=False, error=str(err)[:1000],
                       ms=(time.perf_counter() - t0) * 1000, next_run=next_run)
            return True
        record_run(conn, job, started=started, ok=True, rows=rows,
                   ms=(time.perf_counter() - t0) * 1000, next_run=next_run)
        return True

    def refresh(self, conn: psycopg.Connection, *, now: dt.datetime | None = None,
                next_run: dt.datetime | None = None) -> tuple[DirtyRefresh, int]:
        """One round of the `rollups` job: the dirty hours and their days, then the KPIs of
        those days (recorded as the `kpis` job). Returns the refresh and KPI values written."""
        from kpi.telemetry import refresh_kpis

        now = now or dt.datetime.now(dt.UTC)
        horizon = now - dt.timedelta(days=self.settings.database.retention_days)
        refreshed = refresh_dirty(conn, horizon=horizon)
        if refreshed.keys:
            log.debug("rollups: %d dirty hour(s), %d row(s)", refreshed.keys, refreshed.rows)
        t1 = time.perf_counter()
        try:
            report = refresh_kpis(conn, days=kpi_days(refreshed, now), now=now)
        except Exception as err:
            if conn.info.transaction_status == psycopg.pq.TransactionStatus.INERROR:
                conn.rollback()
            record_run(conn, "kpis", started=now, ok=False, error=str(err)[:1000],
                       ms=(time.perf_counter() - t1) * 1000, next_run=next_run)
            log.exception("KPI refresh failed; the rollups are stored")
            return refreshed, 0
        record_run(conn, "kpis", started=now, ok=True, rows=report.values,
                   ms=(time.perf_counter() - t1) * 1000, next_run=next_run)
        return refreshed, report.values

    def run(self, stop: threading.Event) -> None:
        """Run the jobs until `stop` is set, in the calling thread; reconnects with back-off
        when the database goes (`ioc.worker.ConnectionLoop`)."""
        ConnectionLoop(
            f"ioc-{self.name}",
            lambda: connect(self.settings.database, autocommit=True,
                            application_name=f"ioc-{self.name}"[:63]),
            self._round, stop, idle_s=1.0,
            temporary=(psycopg.OperationalError, psycopg.InterfaceError), backoff_cap_s=30.0,
            on_connect=self._connected, on_error=_raise, logger=log).run()

    def _connected(self, _conn: psycopg.Connection) -> None:
        self.timescale = None

    def _round(self, conn: psycopg.Connection) -> bool:
        self.run_due(conn)
        return False


def _raise(err: Exception) -> None:
    raise err


def run_maintain(settings: Settings, *, once: bool = False, metrics_port: int | None = None,
                 name: str = "maintain") -> int:
    """The `ioc maintain` process (or one round of every job with once)."""
    metrics = MaintenanceMetrics(settings.database) if metrics_port else None
    maintainer = Maintainer(settings, name, on_run=metrics.update if metrics else None)
    if once:
        with connect(settings.database, autocommit=True, application_name="ioc-maintain") as conn:
            ran = maintainer.run_due(conn, force=True)
            failed = [s.job for s in job_states(conn) if s.job in ran and s.last_ok is False]
        for job in ran:
            log.info("ran %s", job)
        return 1 if failed else 0
    if metrics is not None:
        metrics.serve(metrics_port)
        log.info("maintenance metrics at http://0.0.0.0:%d/metrics", metrics_port)
    stop = stop_on_signals()
    log.info("maintenance running: rollups and KPIs every minute, retention every hour")
    maintainer.run(stop)
    return 0


class MaintenanceMetrics:
    """Prometheus gauges of every job in maintenance_jobs, refreshed after each round."""

    def __init__(self, db) -> None:
        from prometheus_client import CollectorRegistry, Gauge

        self.db = db
        self.registry = CollectorRegistry()
        labels = ["job"]
        self.last_run = Gauge("ioc_maintenance_job_last_run_timestamp_seconds",
                              "When the job last started", labels, registry=self.registry)
        self.last_ok = Gauge("ioc_maintenance_job_last_success",
                             "1 when the job's last run succeeded, 0 when it failed", labels,
                             registry=self.registry)
        self.next_run = Gauge("ioc_maintenance_job_next_run_timestamp_seconds",
                              "When the job runs next", labels, registry=self.registry)
        self.failures = Gauge("ioc_maintenance_job_consecutive_failures",
                              "Failed runs in a row", labels, registry=self.registry)
        self.duration = Gauge("ioc_maintenance_job_last_duration_seconds",
                              "How long the last run took", labels, registry=self.registry)

    def set_from(self, states: list[JobState]) -> None:
        for s in states:
            if s.last_start:
                self.last_run.labels(s.job).set(s.last_start.timestamp())
            if s.last_ok is not None:
                self.last_ok.labels(s.job).set(1 if s.last_ok else 0)
            if s.next_run:
                self.next_run.labels(s.job).set(s.next_run.timestamp())
            self.failures.labels(s.job).set(s.consecutive_failures)
            if s.last_ms is not None:
                self.duration.labels(s.job).set(s.last_ms / 1000)

    def update(self) -> None:
        try:
            with connect(self.db, autocommit=True, application_name="ioc-maintain-metrics") as c:
                self.set_from(job_states(c))
        except psycopg.Error as err:
            log.warning("maintenance metrics not updated: %s", err)

    def serve(self, port: int, addr: str = "0.0.0.0") -> None:
        from prometheus_client import start_http_server

        start_http_server(port, addr=addr, registry=self.registry)
