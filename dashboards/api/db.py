"""Database and Redis access for API requests: the web process's pool, errors as 503s."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator

import psycopg
import redis
from psycopg_pool import PoolTimeout

from dashboards.api.problems import UNAVAILABLE, ApiProblem
from dashboards.context import context
from ioc.config import Settings
from ioc.live import LiveState

log = logging.getLogger(__name__)

# A request's queries are cancelled after this long: the API must never tie up the database.
STATEMENT_TIMEOUT = "15s"


def _unavailable(what: str, err: Exception) -> ApiProblem:
    log.warning("api: %s unavailable: %s", what, err)
    return ApiProblem(
        503,
        "Service unavailable",
        f"the {what} is not reachable right now; retry later",
        UNAVAILABLE,
        headers={"Retry-After": "5"},
    )


@contextlib.contextmanager
def connection() -> Iterator[psycopg.Connection]:
    """A pooled connection inside one transaction (committed when the block succeeds)."""
    try:
        with context().pool.connection() as conn:
            conn.execute("SELECT set_config('statement_timeout', %s, true)", (STATEMENT_TIMEOUT,))
            yield conn
    except psycopg.errors.QueryCanceled as err:
        raise ApiProblem(
            503,
            "Query took too long",
            f"the query ran longer than {STATEMENT_TIMEOUT}; ask for a shorter range or fewer "
            "devices",
            UNAVAILABLE,
        ) from err
    except (psycopg.OperationalError, PoolTimeout) as err:
        raise _unavailable("database", err) from err


def live() -> LiveState:
    return context().live


def current_settings() -> Settings:
    return context().settings


@contextlib.contextmanager
def redis_errors() -> Iterator[None]:
    try:
        yield
    except redis.exceptions.RedisError as err:
        raise _unavailable("live store (Redis)", err) from err
