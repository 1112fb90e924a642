"""Runs the IOC's processes side by side, restarts one that dies, stops all on Ctrl-C/SIGTERM."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

log = logging.getLogger(__name__)


@dataclass
class Program:
    """One supervised child: a name for the log, its argv and extra environment."""

    name: str
    argv: Sequence[str]
    env: dict[str, str] = field(default_factory=dict)
    proc: subprocess.Popen | None = None
    restarts: int = 0
    next_start: float = 0.0
    start_delay_s: float = 0.0


def ioc_argv(*args: str) -> list[str]:
    """argv that runs an `ioc` subcommand with this interpreter (no PATH lookup needed)."""
    return [sys.executable, "-m", "ioc", *args]


class Supervisor:
    """Starts programs, restarts crashed ones with back-off, stops them all in reverse order."""

    def __init__(self, programs: Sequence[Program], base_env: dict[str, str]) -> None:
        self.programs = list(programs)
        self.base_env = base_env
        self._stop = threading.Event()

    def _start(self, program: Program) -> None:
        env = {**os.environ, **self.base_env, **program.env}
        program.proc = subprocess.Popen(list(program.argv), env=env)
        log.info("started %s (pid %d): %s", program.name, program.proc.pid, " ".join(program.argv[2:]))

    def request_stop(self, *_args) -> None:
        self._stop.set()

    def install_signal_handlers(self) -> None:
        signal.signal(signal.SIGINT, self.request_stop)
        signal.signal(signal.SIGTERM, self.request_stop)

    def start_all(self) -> None:
        """Start in order; a program's start_delay_s lets the ones before it get ready."""
        for program in self.programs:
            if program.start_delay_s:
                time.sleep(program.start_delay_s)
            self._start(program)

    def run(self, poll_s: float = 0.5) -> None:
        """Watch the children until a stop is requested."""
        while not self._stop.wait(poll_s):
            now = time.monotonic()
            for program in self.programs:
                proc = program.proc
                if proc is not None and proc.poll() is not None:
                    program.restarts += 1
                    delay = min(30.0, 2.0 ** min(program.restarts, 5))
                    log.error(
                        "%s exited with code %s; restarting in %.0f s", program.name,
                        proc.returncode, delay,
                    )
                    program.proc = None
                    program.next_start = now + delay
                elif proc is None and now >= program.next_start:
                    self._start(program)
        self.stop_all()

    def stop_all(self, timeout: float = 15.0) -> None:
        for program in reversed(self.programs):
            if program.proc is not None and program.proc.poll() is None:
                program.proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + timeout
        for program in reversed(self.programs):
            proc = program.proc
            if proc is None:
                continue
            try:
                proc.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                log.warning("%s did not stop in time; killing it", program.name)
                proc.kill()
                proc.wait(5)
            log.info("stopped %s", program.name)
            program.proc = None
