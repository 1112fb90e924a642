"""Applies the numbered SQL migrations in order, each in its own transaction, once."""

from __future__ import annotations

import hashlib
import logging
import re
from dataclasses import dataclass
from importlib import resources

import psycopg
from psycopg import sql

from ioc.config import DatabaseSettings
from ioc.db import timescale
from ioc.db.connect import connect
from ioc.db.privileges import PrivilegeError, grant_runtime_privileges, url_user

log = logging.getLogger(__name__)

_NAME = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")
# Any constant works; it only has to be the same for every migrator of one database.
_LOCK_KEY = 0x10C_0001


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode()).hexdigest()


@dataclass(frozen=True)
class MigrationReport:
    applied: list[str]
    already: int
    timescale: str | None


class MigrationError(Exception):
    """A migration failed or the recorded history does not match the files."""


def available_migrations() -> list[Migration]:
    """The migration files shipped in ioc/db/migrations, in version order."""
    found = []
    for entry in resources.files("ioc.db.migrations").iterdir():
        match = _NAME.match(entry.name)
        if match:
            found.append(Migration(int(match[1]), match[2], entry.read_text(encoding="utf-8")))
    found.sort(key=lambda m: m.version)
    versions = [m.version for m in found]
    if len(set(versions)) != len(versions):
        raise MigrationError(f"two migration files share a version number: {versions}")
    return found


def _ensure_history(conn: psycopg.Connection, schema: str) -> None:
    conn.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(schema)))
    conn.execute(
        """
        CREATE TABLE IF NOT EXISTS schema_migrations (
            version    integer PRIMARY KEY,
            name       text NOT NULL,
            checksum   text NOT NULL,
            applied_at timestamptz NOT NULL DEFAULT now()
        )
        """
    )


def runtime_role(db: DatabaseSettings) -> str | None:
    """The role the processes connect as, when it is not the owner (None: one role for all).

    Raises MigrationError when both URLs name the same role: the processes would own the
    tables, and append-only could not be enforced against them.
    """
    if not db.owner_url or not db.url:
        return None
    runtime, owner = url_user(db.url), url_user(db.owner_url)
    if not runtime or runtime == owner:
        raise MigrationError(
            f"IOC_DATABASE_URL and IOC_DATABASE_OWNER_URL both connect as {owner!r}: the "
            "processes must connect as a runtime role that owns nothing. Set "
            "IOC_DATABASE_URL to that role (docs/security.md, \"Database roles\")"
        )
    return runtime


def owner_settings(db: DatabaseSettings) -> DatabaseSettings:
    """The settings migrate connects with: the owner's URL when one is set."""
    return db.model_copy(update={"url": db.owner_url}) if db.owner_url else db


def migrate(db: DatabaseSettings, *, timescale_enabled: bool = True) -> MigrationReport:
    """Bring the database up to date; safe to run again and from several processes at once.

    Connects as the owner (`owner_url`, else `url`). When `owner_url` is set, the role of
    `url` then gets the runtime privileges (ioc/db/privileges.py), re-granted on every run.
    """
    migrations = available_migrations()
    applied: list[str] = []
    runtime = runtime_role(db)
    with connect(owner_settings(db), autocommit=True, application_name="ioc-migrate") as conn:
        if runtime is None and not db.owner_url:
            log.warning(
                "IOC_DATABASE_OWNER_URL is not set: migrating as the role of IOC_DATABASE_URL; "
                "processes using that URL own the tables, so append-only is not enforced "
                "against them (docs/security.md)"
            )
        # A session-level advisory lock serialises concurrent migrators.
        conn.execute("SELECT pg_advisory_lock(%s)", (_LOCK_KEY,))
        try:
            try:
                with conn.transaction():
                    _ensure_history(conn, db.schema_name)
            except psycopg.errors.InsufficientPrivilege as err:
                raise MigrationError(
                    f"role {conn.info.user!r} may not create or change schema "
                    f"{db.schema_name} ({err.diag.message_primary}); migrations run as the "
                    "owner: set IOC_DATABASE_OWNER_URL to the owner's URL (docs/security.md)"
                ) from err
            done = {
                row[0]: row[1]
                for row in conn.execute("SELECT version, checksum FROM schema_migrations")
            }
            for m in migrations:
                if m.version in done:
                    if done[m.version] != m.checksum:
                        raise MigrationError(
                            f"migration {m.version:04d}_{m.name} was changed after it was applied; "
                            "add a new migration instead of editing an applied one"
                        )
                    continue
                log.info("applying migration %04d_%s", m.version, m.name)
                try:
                    with conn.transaction():
                        conn.execute(m.sql)
                        conn.execute(
                            "INSERT INTO schema_migrations (version, name, checksum) "
                            "VALUES (%s, %s, %s)",
                            (m.version, m.name, m.checksum),
                        )
                except psycopg.Error as err:
                    raise MigrationError(
                        f"migration {m.version:04d}_{m.name} failed and was rolled back: "
                        f"{err.diag.message_primary or err}"
                    ) from err
                applied.append(f"{m.version:04d}_{m.name}")
            ts_version = None
            if timescale_enabled:
                ts_version = timescale.apply(conn, db)
            if runtime is not None:
                try:
                    grant_runtime_privileges(conn, db.schema_name, runtime)
                except PrivilegeError as err:
                    raise MigrationError(str(err)) from err
        finally:
            conn.execute("SELECT pg_advisory_unlock(%s)", (_LOCK_KEY,))
    return MigrationReport(applied, len(migrations) - len(applied), ts_version)
