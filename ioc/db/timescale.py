"""Every TimescaleDB-only statement, and the plain-PostgreSQL equivalent beside it."""

from __future__ import annotations

import logging

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


def apply(conn: psycopg.Connection, db: DatabaseSettings) -> str | None:
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
        conn.execute(
            "SELECT add_compression_policy(%s::regclass, make_interval(days => %s),"
            " if_not_exists => TRUE)",
            (qualified, db.compress_after_days),
        )
        conn.execute(
            "SELECT add_retention_policy(%s::regclass, make_interval(days => %s),"
            " if_not_exists => TRUE)",
            (qualified, db.retention_days),
        )
    log.info("TimescaleDB %s: readings is a hypertable with compression and retention", version)
    return version


def enforce_retention(conn: psycopg.Connection, db: DatabaseSettings) -> int:
    """Plain PostgreSQL: delete raw readings past the retention period (Timescale: a no-op)."""
    if installed_version(conn) is not None:
        return 0  # the retention policy job does it
    cur = conn.execute(
        "DELETE FROM readings WHERE time < now() - make_interval(days => %s)",
        (db.retention_days,),
    )
    return cur.rowcount
