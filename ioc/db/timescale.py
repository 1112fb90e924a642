"""Every TimescaleDB-only statement, and the plain-PostgreSQL equivalent beside it."""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass

import psycopg
from psycopg import sql

from ioc.config import DatabaseSettings

log = logging.getLogger(__name__)


def installed_version(conn: psycopg.Connection) -> str | None:
    row = conn.execute(
        "SELECT extversion FROM pg_extension WHERE extname = 'timescaledb'"
    ).fetchone()
    return row[0] if row else None


def available(conn: psycopg.Connection) -> bool:
    row = conn.execute(
        "SELECT 1 FROM pg_available_extensions WHERE name = 'timescaledb'"
    ).fetchone()
    return row is not None


def _version_tuple(version: str) -> tuple[int, ...]:
    return tuple(int(p) for p in version.split("-")[0].split(".") if p.isdigit())


def apply(conn: psycopg.Connection, db: DatabaseSettings,
          changes: list[str] | None = None) -> str | None:
    """Make readings a compressed hypertable with retention when TimescaleDB is there.

    Idempotent. Returns the TimescaleDB version used, or None on plain PostgreSQL (where
    `enforce_retention` does the retention and there is no compression).
    """
    version = installed_version(conn)
    if version is None and available(conn):
        try:
            with conn.transaction():
                # In public, not in the first schema of the search path: that may be a
                # deployment's (or a test's) own schema, which can be dropped.
                conn.execute("CREATE EXTENSION IF NOT EXISTS timescaledb SCHEMA public")
        except psycopg.Error as err:
            log.warning("TimescaleDB is available but could not be enabled (%s)", err)
            return None
        version = installed_version(conn)
    if version is None:
        log.info("TimescaleDB not present: readings is a plain table, retention by DELETE")
        return None

    table = sql.Identifier(db.schema_name, "readings")
    qualified = f"{db.schema_name}.readings"
    with conn.transaction():
        if _version_tuple(version) >= (2, 13):
            conn.execute(
                "SELECT create_hypertable(%s::regclass, by_range('time', INTERVAL '1 day'),"
                " if_not_exists => TRUE, migrate_data => TRUE)",
                (qualified,),
            )
        else:
            conn.execute(
                "SELECT create_hypertable(%s::regclass, 'time',"
                " chunk_time_interval => INTERVAL '1 day',"
                " if_not_exists => TRUE, migrate_data => TRUE)",
                (qualified,),
            )
        # Compression settings can't change once chunks are compressed: set them only once.
        enabled = conn.execute(
            "SELECT compression_enabled FROM timescaledb_information.hypertables"
            " WHERE hypertable_schema = %s AND hypertable_name = 'readings'",
            (db.schema_name,),
        ).fetchone()
        if not (enabled and enabled[0]):
            conn.execute(
                sql.SQL(
                    "ALTER TABLE {} SET (timescaledb.compress,"
                    " timescaledb.compress_segmentby = 'device_id, metric',"
                    " timescaledb.compress_orderby = 'time DESC')"
                ).format(table)
            )
        made = sync_policies(conn, db)
    for change in made:
        log.info("TimescaleDB policy: %s", change)
    if changes is not None:
        changes.extend(made)
    log.info("TimescaleDB %s: readings is a hypertable with compression and retention", version)
    return version


def enforce_retention(conn: psycopg.Connection, db: DatabaseSettings) -> int:
    """Plain PostgreSQL: delete raw readings past the retention period (Timescale: a no-op)."""
    if installed_version(conn) is not None:
        return 0  # the retention policy job does it
    # rollups outlive raw readings: this DELETE must not mark their hours for a refresh
    conn.execute("SELECT set_config('ioc.rollups_untracked', 'on', true)")
    cur = conn.execute(
        "DELETE FROM readings WHERE time < now() - make_interval(days => %s)",
        (db.retention_days,),
    )
    conn.execute("SELECT set_config('ioc.rollups_untracked', '', true)")
    return cur.rowcount


class PolicyError(Exception):
    """A TimescaleDB policy could not be set to what the settings say."""


# (policy, job procedure, config key, setting, add function, remove function)
_POLICIES = (
    ("compression", "policy_compression", "compress_after", "compress_after_days",
     "add_compression_policy", "remove_compression_policy"),
    ("retention", "policy_retention", "drop_after", "retention_days",
     "add_retention_policy", "remove_retention_policy"),
)


def sync_policies(conn: psycopg.Connection, db: DatabaseSettings) -> list[str]:
    """Make the readings policies match the settings; returns what changed, in words.

    A policy missing is added; one with another interval is removed and added again (its
    job id changes; `alter_job` cannot change a policy's interval on every 2.x); one that
    matches is left alone. Any error is a PolicyError, not a warning lost in the log.
    """
    qualified = f"{db.schema_name}.readings"
    changes: list[str] = []
    for name, proc, key, setting, add_fn, remove_fn in _POLICIES:
        days = getattr(db, setting)
        try:
            rows = conn.execute(
                "SELECT job_id, config->>%s, (config->>%s)::interval = make_interval(days => %s)"
                " FROM timescaledb_information.jobs WHERE proc_name = %s"
                " AND hypertable_schema = %s AND hypertable_name = 'readings'",
                (key, key, days, proc, db.schema_name),
            ).fetchall()
            if len(rows) == 1 and rows[0][2]:
                continue
            old = ", ".join(str(r[1]) for r in rows) or None
            if rows:
                conn.execute(
                    sql.SQL("SELECT {}(%s::regclass, if_exists => TRUE)").format(
                        sql.Identifier(remove_fn)), (qualified,))
            conn.execute(
                sql.SQL("SELECT {}(%s::regclass, make_interval(days => %s))").format(
                    sql.Identifier(add_fn)), (qualified, days))
        except psycopg.Error as err:
            raise PolicyError(
                f"the {name} policy of {qualified} could not be set to {days} days "
                f"({setting}): {err.diag.message_primary or err}") from err
        changes.append(f"{name} of {qualified}: {old or 'none'} -> {days} days"
                       if old else f"{name} of {qualified}: added, {days} days")
    return changes


@dataclass(frozen=True)
class JobRun:
    """One TimescaleDB background job and its last run."""

    job_id: int
    proc_name: str
    hypertable: str | None
    config: dict | None
    schedule_interval: dt.timedelta | None
    last_start: dt.datetime | None
    last_finish: dt.datetime | None
    last_status: str | None  # 'Success' | 'Failed' | None (never ran)
    next_start: dt.datetime | None
    total_failures: int | None


def job_runs(conn: psycopg.Connection) -> list[JobRun]:
    """Every TimescaleDB job on the tables of the current schema (none on plain PostgreSQL)."""
    if installed_version(conn) is None:
        return []
    return [JobRun(*row) for row in conn.execute(
        "SELECT j.job_id, j.proc_name, j.hypertable_name, j.config, j.schedule_interval,"
        # job_stats says -infinity for "never", which Python's datetime cannot hold
        " nullif(s.last_run_started_at, '-infinity'), nullif(s.last_successful_finish, '-infinity'),"
        " s.last_run_status,"
        " nullif(coalesce(s.next_start, j.next_start), '-infinity'), s.total_failures"
        " FROM timescaledb_information.jobs j"
        " LEFT JOIN timescaledb_information.job_stats s ON s.job_id = j.job_id"
        " WHERE j.hypertable_schema = current_schema() ORDER BY j.job_id"
    )]


def compress_old_chunks(conn: psycopg.Connection, db: DatabaseSettings) -> int:
    """Compress the readings chunks older than compress_after_days now, as the policy would
    (benchmarks, tests); returns chunks compressed. 0 on plain PostgreSQL."""
    if installed_version(conn) is None:
        return 0
    chunks = [r[0] for r in conn.execute(
        "SELECT format('%%I.%%I', chunk_schema, chunk_name) FROM timescaledb_information.chunks"
        " WHERE hypertable_schema = %s AND hypertable_name = 'readings' AND NOT is_compressed"
        " AND range_end < now() - make_interval(days => %s) ORDER BY range_start",
        (db.schema_name, db.compress_after_days),
    )]
    done = 0
    for chunk in chunks:
        try:
            with conn.transaction():
                conn.execute("SELECT compress_chunk(%s::regclass, if_not_compressed => TRUE)",
                             (chunk,))
            done += 1
        except psycopg.errors.DuplicateObject:
            pass  # the compression policy got there first
    return done


def storage_kind(conn: psycopg.Connection, db: DatabaseSettings) -> str:
    """What readings is: "hypertable+compressed", "hypertable" or "table" (benchmark JSON)."""
    if installed_version(conn) is None:
        return "table"
    row = conn.execute(
        "SELECT count(*), count(*) FILTER (WHERE is_compressed)"
        " FROM timescaledb_information.chunks"
        " WHERE hypertable_schema = %s AND hypertable_name = 'readings'",
        (db.schema_name,),
    ).fetchone()
    hyper = conn.execute(
        "SELECT 1 FROM timescaledb_information.hypertables"
        " WHERE hypertable_schema = %s AND hypertable_name = 'readings'",
        (db.schema_name,),
    ).fetchone()
    if hyper is None:
        return "table"
    return "hypertable+compressed" if row[1] else "hypertable"
