"""The database: the one owner of psycopg connections, migrations and Timescale-only DDL."""

from ioc.db.connect import connect, connection_kwargs, open_pool

__all__ = ["connect", "connection_kwargs", "open_pool"]
