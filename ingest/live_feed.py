"""Latest values and live events for Redis after each commit; Redis trouble never blocks storage."""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable

from ingest.batch import WritePlan
from ingest.flush_policy import backoff_s
from ingest.incidents import merge_incidents, merge_reviews
from ioc import events as ev
from ioc.live import LatestValue, LiveState

log = logging.getLogger(__name__)

READINGS_PER_EVENT = 1000


def live_updates(
    plan: WritePlan, *, worker: str, committed_at: float, new_readings: frozenset | None = None
) -> tuple[list[LatestValue], list[ev.LiveEvent]]:
    """(latest values, stream events) announcing what `plan` stored (pure).

    Readings go out compactly, up to READINGS_PER_EVENT per `ioc.events.Readings`, as
    ``[device_id, metric, value, unix_time]`` lists. `new_readings` (the (device_id, metric,
    time) keys the database really inserted, when some were already there) limits them to
    those, once each: a redelivered reading is not announced a second time.
    """
    latest: list[LatestValue] = []
    events: list[ev.LiveEvent] = []
    compact: list[list] = []
    readings = plan.readings
    if new_readings is not None:
        pending = set(new_readings)
        readings = []
        for r in plan.readings:
            key = (r.device_id, r.metric, r.time)
            if key in pending:
                pending.discard(key)
                readings.append(r)
    for r in readings:
        value = r.value if r.value is not None else r.value_text
        t = r.time.timestamp()
        latest.append(LatestValue(r.device_id, r.metric, value, t))
        compact.append([r.device_id, r.metric, value, t])
    for start in range(0, len(compact), READINGS_PER_EVENT):
        events.append(ev.Readings(tuple(compact[start : start + READINGS_PER_EVENT]),
                                  worker=worker, committed_at=committed_at))
    for i in merge_incidents(plan.camera_events):
        events.append(ev.Incident(
            source=i.source, event_id=i.event_id, device_id=i.device_id, label=i.label,
            phase=i.phase, confidence=i.confidence, top_confidence=i.top_confidence,
            zones=tuple(i.zones), plate=i.plate, plate_confidence=i.plate_confidence,
            snapshot_sha256=i.snapshot_sha256, snapshot_url=i.snapshot_url,
            false_positive=i.false_positive, started_at=i.started_at, ended_at=i.ended_at,
            time=i.last_update))
    for r in merge_reviews(plan.reviews):
        events.append(ev.Review(r.review_id, r.device_id, r.phase, r.severity,
                                tuple(r.event_ids), r.last_update))
    for s in plan.snapshots:
        events.append(ev.Snapshot(s.device_id, s.label, s.sha256, s.content_type,
                                  len(s.content), s.time))
    for c in plan.caps:
        events.append(ev.Cap(c.identifier, c.sender, c.sent, c.msg_type, c.status, c.scope,
                             tuple(tuple(x) for x in c.references),
                             tuple(dict(i) for i in c.info)))
    for s in plan.statuses:
        events.append(ev.Status(s.device_id, s.online, s.time))
    return latest, events


class LiveFeed:
    """Sends latest values and events to Redis from its own thread.

    Updates wait in memory while Redis is away: latest values coalesce per (device, metric),
    events queue up to `max_events` (the oldest are dropped beyond that, and counted).
    """

    def __init__(
        self,
        live: LiveState,
        *,
        max_events: int = 20_000,
        min_interval_s: float = 0.2,
        on_sent: Callable[[int, int], None] | None = None,
        on_error: Callable[[], None] | None = None,
        on_dropped: Callable[[int], None] | None = None,
    ) -> None:
        self.live = live
        self.min_interval_s = min_interval_s
        self._latest: dict[tuple[str, str], LatestValue] = {}
        self._events: deque[ev.LiveEvent] = deque()
        self._max_events = max_events
        self._cond = threading.Condition()
        self._stopping = False
        self._thread: threading.Thread | None = None
        self.on_sent = on_sent or (lambda _v, _e: None)
        self.on_error = on_error or (lambda: None)
        self.on_dropped = on_dropped or (lambda _n: None)
        self.failures = 0

    def start(self) -> LiveFeed:
        self._thread = threading.Thread(target=self._run, name="ingest-live", daemon=True)
        self._thread.start()
        return self

    def add(self, latest: list[LatestValue], events: list[ev.LiveEvent]) -> None:
        with self._cond:
            store = self._latest
            for item in latest:
                key = (item.device_id, item.metric)
                old = store.get(key)
                if old is None or old.time <= item.time:
                    store[key] = item
            self._events.extend(events)
            extra = len(self._events) - self._max_events
            if extra > 0:
                for _ in range(extra):
                    self._events.popleft()
                self.on_dropped(extra)
            self._cond.notify()

    @property
    def pending(self) -> int:
        with self._cond:
            return len(self._latest) + len(self._events)

    def stop(self, timeout: float = 5.0) -> None:
        with self._cond:
            self._stopping = True
            self._cond.notify()
        if self._thread is not None:
            self._thread.join(timeout)

    def _take(self) -> tuple[list[LatestValue], list[ev.LiveEvent]] | None:
        with self._cond:
            while not self._latest and not self._events:
                if self._stopping:
                    return None
                self._cond.wait(1.0)
            latest, self._latest = list(self._latest.values()), {}
            events, self._events = list(self._events), deque()
            return latest, events

    def _put_back(self, latest: list[LatestValue], events: list[ev.LiveEvent]) -> None:
        with self._cond:
            for item in latest:
                key = (item.device_id, item.metric)
                newer = self._latest.get(key)
                if newer is None or newer.time < item.time:
                    self._latest[key] = item
            self._events.extendleft(reversed(events))
            extra = len(self._events) - self._max_events
            if extra > 0:
                for _ in range(extra):
                    self._events.popleft()
                self.on_dropped(extra)

    def _run(self) -> None:
        while True:
            taken = self._take()
            if taken is None:
                return
            latest, events = taken
            try:
                self.live.record(latest, events)
            except Exception as err:  # redis errors, timeouts: keep the data, retry later
                self.failures += 1
                self.on_error()
                self._put_back(latest, events)
                if self.failures == 1 or self.failures % 20 == 0:
                    log.warning("Redis update failed (%s); retrying, %d failures so far",
                                err, self.failures)
                deadline = time.monotonic() + backoff_s(self.failures, base=0.5, cap=10.0)
                with self._cond:
                    while not self._stopping and (left := deadline - time.monotonic()) > 0:
                        self._cond.wait(left)
                    if self._stopping:
                        return
                continue
            if self.failures:
                log.info("Redis updates work again after %d failures", self.failures)
                self.failures = 0
            self.on_sent(len(latest), len(events))
            # Let updates gather a little so busy periods cost a few large round trips.
            deadline = time.monotonic() + self.min_interval_s
            with self._cond:
                while not self._stopping and (left := deadline - time.monotonic()) > 0:
                    self._cond.wait(left)
