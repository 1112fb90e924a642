"""The web process's connections (database pool, Redis), made once per process on first use."""

from __future__ import annotations

import threading
from dataclasses import dataclass

from psycopg_pool import ConnectionPool

from ioc.config import Settings
from ioc.db import open_pool
from ioc.live import LiveState, open_redis


@dataclass
class WebContext:
    settings: Settings
    pool: ConnectionPool
    live: LiveState

    def close(self) -> None:
        self.pool.close()
        self.live.r.close()


_lock = threading.Lock()
_settings: Settings | None = None
_context: WebContext | None = None


def init_context(settings: Settings) -> None:
    """Remember the settings (connections open lazily); a new app replaces the old context."""
    global _settings, _context
    with _lock:
        if _context is not None and _context.settings != settings:
            _context.close()
            _context = None
        _settings = settings


def context() -> WebContext:
    global _context
    with _lock:
        if _context is None:
            if _settings is None:
                raise RuntimeError("init_context(settings) was not called")
            pool = open_pool(_settings.database, application_name="ioc-web", min_size=1)
            live = LiveState(open_redis(_settings.redis), _settings.redis)
            _context = WebContext(_settings, pool, live)
        return _context
