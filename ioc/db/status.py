"""`ioc db status`: storage mode, retention settings, and each maintenance job's runs."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import psycopg

from ioc.config import Settings
from ioc.db import connect, retention, timescale


@dataclass(frozen=True)
class JobState:
    """One row of maintenance_jobs."""

    job: str
    last_start: dt.datetime | None
    last_finish: dt.datetime | None
    last_ok: bool | None
    last_error: str | None
    last_rows: int | None
    last_ms: float | None
    consecutive_failures: int
    next_run: dt.datetime | None


def job_states(conn: psycopg.Connection) -> list[JobState]:
    return [JobState(*row) for row in conn.execute(
        "SELECT job, last_start, last_finish, last_ok, last_error, last_rows, last_ms, "
        "consecutive_failures, next_run FROM maintenance_jobs ORDER BY job")]


def _when(value: dt.datetime | None) -> str:
    return value.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M:%SZ") if value else "-"


def status_lines(conn: psycopg.Connection, settings: Settings) -> tuple[list[str], bool]:
    """The report's lines, and whether every job's last run succeeded."""
    db = settings.database
    version = timescale.installed_version(conn)
    lines = [f"storage: {'TimescaleDB ' + version + ' hypertable' if version else 'plain PostgreSQL table'}"
             f" (readings), schema {db.schema_name}"]
    (dirty,) = conn.execute("SELECT count(*) FROM rollup_dirty").fetchone()
    lines.append(f"rollup hours waiting for a refresh: {dirty}")
    lines.append("retention (days):")
    lines += [f"  {table:<26} {days:>6}  IOC_DATABASE_{setting.upper()}"
              for table, setting, days in retention.settings_table(db)]
    if version:
        lines.append(f"compression after (days): {db.compress_after_days}")
    ok = True
    lines.append("jobs (last start, result, next run, failures in a row):")
    states = job_states(conn)
    for s in states:
        result = "ok" if s.last_ok else ("FAILED" if s.last_ok is False else "-")
        ok = ok and s.last_ok is not False
        line = (f"  {s.job:<40} {_when(s.last_start)}  {result:<6}  next {_when(s.next_run)}"
                f"  {s.consecutive_failures}")
        if s.last_error and not s.last_ok:
            line += f"  ({s.last_error.splitlines()[0][:120]})"
        lines.append(line)
    if not states:
        lines.append("  none has run yet: is `ioc maintain` running?")
    for job in timescale.job_runs(conn):
        lines.append(f"  timescaledb job {job.job_id} {job.proc_name} on {job.hypertable}: "
                     f"last {_when(job.last_start)} {job.last_status or '-'}, "
                     f"next {_when(job.next_start)}, config {job.config}")
        ok = ok and job.last_status != "Failed"
    return lines, ok


def print_status(settings: Settings) -> int:
    with connect(settings.database, autocommit=True, application_name="ioc-db-status") as conn:
        lines, ok = status_lines(conn, settings)
    print("\n".join(lines))
    return 0 if ok else 1
