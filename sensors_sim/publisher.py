"""Paces generated messages against real time x speed and hands them to a sender."""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from sensors_sim.generator import Message

log = logging.getLogger(__name__)
PROGRESS_EVERY_S = 60.0


@dataclass
class PublishStats:
    published: int = 0
    faults: Counter = field(default_factory=Counter)
    last_sim_ts: float | None = None
    behind_s: float = 0.0  # the furthest the sender fell behind the schedule


def pace(
    messages: Iterable[Message],
    send: Callable[[Message], None],
    *,
    start_ts: float,
    speed: float,
    stop: threading.Event,
    duration_s: float | None = None,
    count: int | None = None,
    clock: Callable[[], float] = time.monotonic,
) -> PublishStats:
    """Send each message when its simulated time comes: (sim time - start) / speed real
    seconds after the call. Stops on `stop`, after `duration_s` real seconds, or after
    `count` messages; a sender that falls behind catches up without skipping anything."""
    stats = PublishStats()
    t0 = clock()
    next_progress = t0 + PROGRESS_EVERY_S
    for message in messages:
        if count is not None and stats.published >= count:
            break
        due = (message.sim_ts - start_ts) / speed
        if duration_s is not None and due > duration_s:
            remaining = t0 + duration_s - clock()
            if remaining > 0:
                stop.wait(remaining)
            break
        wait = t0 + due - clock()
        if wait > 0:
            if stop.wait(wait):
                break
        else:
            stats.behind_s = max(stats.behind_s, -wait)
        if stop.is_set():
            break
        send(message)
        stats.published += 1
        stats.last_sim_ts = message.sim_ts
        if message.fault:
            stats.faults[message.fault] += 1
        now = clock()
        if now >= next_progress:
            next_progress = now + PROGRESS_EVERY_S
            log.info("published %d messages; simulated time %s", stats.published,
                     message.sim_time.isoformat(timespec="seconds"))
    return stats
