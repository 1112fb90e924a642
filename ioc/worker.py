"""The skeleton every long-running ioc process shares: signals, loops, health, shutdown.

`ioc ingest`, `ioc alerts` and `ioc maintain` are each built the same way:

    stop = stop_on_signals()                 # SIGTERM / SIGINT set the event
    worker.start()                           # threads, each usually a ConnectionLoop
    healthy = supervise(stop, worker.threads)  # wait; False as soon as a thread died
    worker.stop()                            # finish what is in hand, close, join

`ConnectionLoop` is the loop of one thread that works over its own database connection:
reconnect when it is gone, run one step, go again at once while the step says there is more
(otherwise wait for a wake-up or `idle_s`); a temporary failure drops the connection and backs
off exponentially (`ioc.retry.backoff_s`), anything else is handed to `on_error` (by default
logged, then retried after `error_wait_s`). Nothing here decides what a step does.
"""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Callable, Iterable

import psycopg

from ioc.retry import backoff_s

log = logging.getLogger(__name__)


def stop_on_signals(stop: threading.Event | None = None) -> threading.Event:
    """An event SIGTERM and SIGINT set (call from the main thread)."""
    stop = stop or threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    return stop


def dead_threads(threads: Iterable[threading.Thread]) -> list[str]:
    return [t.name for t in threads if not t.is_alive()]


def supervise(stop: threading.Event, threads: Callable[[], Iterable[threading.Thread]], *,
              check_s: float = 1.0, on_check: Callable[[], None] | None = None,
              what: str = "worker") -> bool:
    """Wait until `stop` is set; every `check_s` run `on_check` (metrics) and look at the
    threads. False as soon as one of them died (a bug: the process exits and its supervisor
    restarts it), True when stopped."""
    while not stop.wait(check_s):
        if on_check is not None:
            on_check()
        dead = dead_threads(threads())
        if dead:
            log.error("%s thread(s) %s died; stopping so the supervisor restarts us", what,
                      ", ".join(dead))
            return False
    return True


def join_all(threads: Iterable[threading.Thread], timeout: float) -> None:
    for t in threads:
        t.join(timeout)


class ConnectionLoop(threading.Thread):
    """Repeat `step(conn)` over a database connection of its own until `stop` is set.

    - `connect()` opens the connection; `on_connect(conn)` runs after each (re)connect;
    - `step(conn)` returns True when there may be more to do right away;
    - otherwise the loop waits `idle_s`, on `wake` when given (set it to run sooner);
    - `temporary` errors (the connection, the server) drop the connection and back off:
      0.5 s doubling up to `backoff_cap_s`;
    - any other error goes to `on_error(err)` (default: logged with its traceback), then the
      loop waits `error_wait_s`. `on_error` may raise to end the loop.

    Run it as a thread (`start()`) or in the calling thread (`run()`).
    """

    def __init__(self, name: str, connect: Callable[[], psycopg.Connection],
                 step: Callable[[psycopg.Connection], bool], stop: threading.Event,
                 wake: threading.Event | None = None, *, idle_s: float = 0.5,
                 temporary: tuple[type[BaseException], ...] = (psycopg.OperationalError,),
                 backoff_cap_s: float = 10.0,
                 on_connect: Callable[[psycopg.Connection], None] | None = None,
                 on_error: Callable[[Exception], None] | None = None,
                 error_wait_s: float = 1.0, logger: logging.Logger | None = None) -> None:
        super().__init__(name=name, daemon=True)
        self.connect = connect
        self.step = step
        self.stop_event = stop
        self.wake = wake
        self.idle_s = idle_s
        self.temporary = temporary
        self.backoff_cap_s = backoff_cap_s
        self.on_connect = on_connect
        self.on_error = on_error
        self.error_wait_s = error_wait_s
        self.log = logger or log
        self.failures = 0  # temporary failures in a row

    def run(self) -> None:
        conn: psycopg.Connection | None = None
        try:
            while not self.stop_event.is_set():
                try:
                    if conn is None or conn.closed:
                        conn = self.connect()
                        if self.on_connect is not None:
                            self.on_connect(conn)
                    more = self.step(conn)
                    if self.failures:
                        self.log.info("%s works again", self.name)
                    self.failures = 0
                    if not more:
                        self._idle()
                except self.temporary as err:
                    self.failures += 1
                    self.log.warning("%s: %s; retrying", self.name, err)
                    if conn is not None:
                        conn.close()
                    conn = None
                    self.stop_event.wait(backoff_s(self.failures + 1, 0.5, self.backoff_cap_s))
                except Exception as err:
                    if self.on_error is not None:
                        self.on_error(err)
                    else:
                        self.log.exception("%s failed; retrying", self.name)
                    self.stop_event.wait(self.error_wait_s)
        finally:
            if conn is not None:
                conn.close()

    def _idle(self) -> None:
        if self.wake is None:
            self.stop_event.wait(self.idle_s)
        else:
            self.wake.wait(self.idle_s)
            self.wake.clear()
