"""Opens psycopg connections and pools with the configured schema on the search path."""

from __future__ import annotations

from typing import Any

import psycopg
from psycopg_pool import ConnectionPool

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
    """A started connection pool; waits until the first connection works."""
    kw = connection_kwargs(db, application_name)
    conninfo = kw.pop("conninfo")
    pool = ConnectionPool(
        conninfo,
        kwargs=kw,
        min_size=pool_kw.pop("min_size", db.pool_min),
        max_size=pool_kw.pop("max_size", db.pool_max),
        open=False,
        name=application_name,
        **pool_kw,
    )
    pool.open(wait=True, timeout=30)
    return pool
