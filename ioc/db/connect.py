"""Opens psycopg connections and pools with the configured schema on the search path."""

from __future__ import annotations

from typing import Any

import psycopg
from psycopg_pool import ConnectionPool, PoolTimeout

from ioc.config import DatabaseSettings


def connection_kwargs(db: DatabaseSettings, application_name: str = "ioc") -> dict[str, Any]:
    """Connection keywords: the schema goes on the search path, times are UTC."""
    if not db.url:
        raise ValueError("database.url is not set (start the embedded database first)")
    return {
        "conninfo": db.url,
        "options": f"-c search_path={db.schema_name},public -c timezone=UTC",
        "application_name": application_name,
        "connect_timeout": 10,
    }


def connect(db: DatabaseSettings, *, autocommit: bool = False, application_name: str = "ioc"):
    """One connection; the caller closes it (use it as a context manager)."""
    kw = connection_kwargs(db, application_name)
    return psycopg.connect(kw.pop("conninfo"), autocommit=autocommit, **kw)


def open_pool(db: DatabaseSettings, *, application_name: str = "ioc", **pool_kw) -> ConnectionPool:
    """A started connection pool; waits until the first connection works.

    Every connection is checked before it is handed out (a round trip), so one that died
    with a database restart is replaced instead of failing the caller's first query.
    """
    kw = connection_kwargs(db, application_name)
    conninfo = kw.pop("conninfo")
    pool = ConnectionPool(
        conninfo,
        kwargs=kw,
        min_size=pool_kw.pop("min_size", db.pool_min),
        max_size=pool_kw.pop("max_size", db.pool_max),
        timeout=pool_kw.pop("timeout", db.pool_timeout_s),
        check=pool_kw.pop("check", ConnectionPool.check_connection),
        open=False,
        name=application_name,
        **pool_kw,
    )
    pool.open(wait=True, timeout=30)
    return pool


def _chain(err: BaseException | None):
    seen: set[int] = set()
    while err is not None and id(err) not in seen:
        seen.add(id(err))
        yield err
        err = err.__cause__ or err.__context__


def is_connection_lost(err: BaseException) -> bool:
    """The error (or its cause) means the connection broke, not that the query was wrong.

    A read that failed this way may be run once more on a fresh connection. A statement
    timeout and a pool that had no connection to give within its timeout are not retried.
    """
    for e in _chain(err):
        if isinstance(e, (PoolTimeout, psycopg.errors.QueryCanceled)):
            return False
        if isinstance(e, psycopg.OperationalError):
            return True
    return False


def is_database_unavailable(err: BaseException) -> bool:
    """The database could not be reached or lost the connection (a pool timeout included)."""
    for e in _chain(err):
        if isinstance(e, psycopg.errors.QueryCanceled):
            return False
        if isinstance(e, psycopg.OperationalError):
            return True
    return False
