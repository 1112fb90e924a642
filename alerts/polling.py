"""A thread that repeats one step over its own database connection until stopped.

The alert publisher and each delivery destination are such loops: reconnect when the
connection is gone, go again at once while the step says there is more, otherwise wait for a
wake-up or `idle_s`; a temporary failure drops the connection and backs off, anything else is
logged and retried a second later. Nothing here decides what the step does.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

import psycopg

from ioc.retry import backoff_s

log = logging.getLogger(__name__)


class PollingLoop(threading.Thread):
    def __init__(self, name: str, connect: Callable[[], psycopg.Connection],
                 step: Callable[[psycopg.Connection], bool], stop: threading.Event,
                 wake: threading.Event | None = None, *, idle_s: float = 0.5,
                 temporary: tuple[type[BaseException], ...] = (psycopg.OperationalError,)) -> None:
        super().__init__(name=name, daemon=True)
        self.connect = connect
        self.step = step  # returns True when there may be more to do right away
        self.stop_event = stop
        self.wake = wake or threading.Event()
        self.idle_s = idle_s
        self.temporary = temporary

    def run(self) -> None:
        conn: psycopg.Connection | None = None
        failures = 0
        while not self.stop_event.is_set():
            try:
                if conn is None or conn.closed:
                    conn = self.connect()
                more = self.step(conn)
                failures = 0
                if more:
                    continue
                self.wake.wait(self.idle_s)
                self.wake.clear()
            except self.temporary as err:
                failures += 1
                log.warning("%s: %s; retrying", self.name, err)
                if conn is not None:
                    conn.close()
                conn = None
                self.stop_event.wait(backoff_s(failures + 1, 0.5, 10.0))
            except Exception:
                log.exception("%s failed; retrying", self.name)
                self.stop_event.wait(1.0)
        if conn is not None:
            conn.close()
