"""The skeleton of every long-running process (ioc/worker.py): the connection loop reconnects
after a temporary failure and goes on after any other, and supervision stops a process whose
thread died. (The loops against a real database are tested with each worker.)"""

from __future__ import annotations

import threading

import psycopg
import pytest

from ioc.worker import ConnectionLoop, supervise


class Conn:
    """What the loop needs of a connection: `closed` and `close()`."""

    def __init__(self, n: int) -> None:
        self.n = n
        self.closed = False

    def close(self) -> None:
        self.closed = True


def test_the_loop_reconnects_after_a_temporary_failure_and_goes_on_after_a_bug():
    stop = threading.Event()
    opened: list[Conn] = []
    steps: list[tuple[int, str]] = []
    errors: list[str] = []
    script = ["ok", "temporary", "ok", "bug", "ok", "stop"]

    def connect() -> Conn:
        opened.append(Conn(len(opened) + 1))
        return opened[-1]

    def step(conn: Conn) -> bool:
        what = script.pop(0)
        steps.append((conn.n, what))
        if what == "temporary":
            raise psycopg.OperationalError("server closed the connection")
        if what == "bug":
            raise KeyError("oops")
        if what == "stop":
            stop.set()
        return True

    loop = ConnectionLoop("test-loop", connect, step, stop, on_connect=lambda c: None,
                          on_error=lambda err: errors.append(repr(err)), error_wait_s=0.0,
                          backoff_cap_s=0.01)
    loop.run()  # in this thread
    assert steps == [(1, "ok"), (1, "temporary"), (2, "ok"), (2, "bug"), (2, "ok"), (2, "stop")]
    assert [c.closed for c in opened] == [True, True]  # dropped on failure, closed at the end
    assert errors == ["KeyError('oops')"] and loop.failures == 0


def test_an_error_handler_that_raises_ends_the_loop():
    def boom(err: Exception) -> None:
        raise err

    loop = ConnectionLoop("test-loop", lambda: Conn(1), lambda c: 1 / 0, threading.Event(),
                          on_error=boom)
    with pytest.raises(ZeroDivisionError):
        loop.run()


def test_idle_waits_for_a_wake_up():
    stop, wake = threading.Event(), threading.Event()
    rounds: list[int] = []

    def step(_conn) -> bool:
        rounds.append(1)
        if len(rounds) == 3:
            stop.set()
        wake.set()  # work arrived: the next round starts without waiting idle_s
        return False

    ConnectionLoop("test-loop", lambda: Conn(1), step, stop, wake, idle_s=30).run()
    assert len(rounds) == 3


def test_supervise_stops_when_a_thread_died():
    stop = threading.Event()
    dead = threading.Thread(target=lambda: None, name="short-lived")
    dead.start()
    dead.join()
    checks: list[int] = []
    assert supervise(stop, lambda: [dead], check_s=0.01, on_check=lambda: checks.append(1)) \
        is False
    assert checks == [1]
    stop.set()
    assert supervise(stop, lambda: [dead], check_s=0.01) is True  # stopped: healthy
