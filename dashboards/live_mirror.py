"""A process-wide copy of the newest values in Redis, kept current from the live event stream.

The map of 5,000 devices must not read 5,000 Redis hashes on every tick. The mirror reads
them once, then follows the `ioc.events.Readings` events that ingest appends after each commit
(`[device_id, metric, value, unix_time]` lists), so each refresh costs one XREAD of what is
new. It numbers its states (`version`) and remembers which devices changed in each recent
one, so a page can ask "what changed since the version you last sent me?".
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
import weakref
from collections import deque
from collections.abc import Iterable

from ioc.events import Readings
from ioc.live import LatestValue, LiveState

log = logging.getLogger(__name__)

FULL_RELOAD_AFTER_S = 60.0  # unused for this long: read everything again (the stream is capped)
REPLAY_MARGIN_MS = 5000  # on a full load, re-read events from this long before (idempotent)
HISTORY = 512  # versions whose changed-device sets are remembered


class LiveMirror:
    def __init__(self, live: LiveState) -> None:
        self.live = live
        self.epoch = uuid.uuid4().hex[:12]  # a new mirror's versions mean nothing to old clients
        # device -> metric -> newest value. A device's dict is replaced, never changed in
        # place, so readers may hold it without a copy or the lock.
        self.latest: dict[str, dict[str, LatestValue]] = {}
        self.last_seen: dict[str, float] = {}  # device -> time of its newest value
        self.version = 0
        self._changes: deque[tuple[int, frozenset[str]]] = deque(maxlen=HISTORY)
        self._cursor: str | None = None
        self._known: set[str] = set()
        self._ids_key: str | None = None
        self._refreshed_at = 0.0
        self.newest = 0.0  # time of the newest value seen (Unix seconds), for staleness
        self.interval_s = 60.0  # the shortest report interval of the devices followed
        self._lock = threading.Lock()

    def refresh(
        self, device_ids: Iterable[str], min_interval_s: float = 0.05, key: str | None = None
    ) -> int:
        """Bring the mirror up to date for `device_ids`; returns the current version.

        `key` names that set of ids (the registry's key): the same key again skips comparing
        thousands of ids.
        """
        with self._lock:
            now = time.monotonic()
            same = key is not None and key == self._ids_key
            if now - self._refreshed_at < min_interval_s and same:
                return self.version
            ids = None if same else set(device_ids)
            if self._cursor is None or now - self._refreshed_at > FULL_RELOAD_AFTER_S:
                self._full_load(ids if ids is not None else set(self._known))
            else:
                new = ids - self._known if ids is not None else set()
                if new:
                    self._load(new)
                self._follow()
            self._ids_key = key
            self._refreshed_at = time.monotonic()
            return self.version

    def is_stale(self, now: float, intervals: float = 3, floor_s: float = 120) -> bool:
        """True when nothing new arrived for `intervals` report intervals (at least floor_s)."""
        return now - self.newest > max(floor_s, intervals * self.interval_s)

    def changes_since(self, version: int) -> set[str] | None:
        """Devices changed after `version`, or None when that is too old to know."""
        with self._lock:
            if version == self.version:
                return set()
            if version > self.version or not self._changes or self._changes[0][0] > version + 1:
                return None
            out: set[str] = set()
            for v, ids in self._changes:
                if v > version:
                    out |= ids
            return out

    def snapshot(self) -> dict[str, dict[str, LatestValue]]:
        """The newest values per device: read-only for the caller, safe while others refresh
        (a refresh replaces a device's dict instead of changing it)."""
        return self.latest

    # -- internals (called with the lock held) -----------------------------------------------------
    def _bump(self, changed: set[str]) -> None:
        if changed:
            self.version += 1
            self._changes.append((self.version, frozenset(changed)))

    def _full_load(self, ids: set[str]) -> None:
        # Events from just before the load are replayed, so nothing between the two is lost.
        self._cursor = f"{int(time.time() * 1000) - REPLAY_MARGIN_MS}-0"
        self.latest = {}
        self.last_seen = {}
        self._known = set()
        self._changes.clear()
        self.version += 1
        self._changes.append((self.version, frozenset(ids)))
        self._load(ids)
        self._follow()

    def _load(self, ids: set[str]) -> None:
        fresh = self.live.latest_many(sorted(ids))
        for device_id, values in fresh.items():
            current = dict(self.latest.get(device_id, {}))
            for metric, item in values.items():
                old = current.get(metric)
                if old is None or old.time <= item.time:
                    current[metric] = item
            self._store(device_id, current)
        self._known |= ids
        self._bump(ids)

    def _store(self, device_id: str, values: dict[str, LatestValue]) -> None:
        self.latest[device_id] = values
        if values:
            seen = max(v.time for v in values.values())
            self.last_seen[device_id] = seen
            self.newest = max(self.newest, seen)

    def _follow(self) -> None:
        changed: dict[str, dict[str, LatestValue]] = {}
        while True:
            events = self.live.follow_events(self._cursor, count=2000)
            for entry_id, event in events:
                self._cursor = entry_id
                if not isinstance(event, Readings):
                    continue
                for item in event.readings:
                    try:
                        device_id, metric, value, t = item
                    except (TypeError, ValueError):
                        continue
                    if device_id not in self._known:
                        continue
                    current = changed.get(device_id)
                    if current is None:
                        current = dict(self.latest.get(device_id, {}))
                    old = current.get(metric)
                    if old is None or old.time <= t:
                        current[metric] = LatestValue(device_id, metric, value, float(t))
                        changed[device_id] = current
            if len(events) < 2000:
                break
        for device_id, values in changed.items():
            self._store(device_id, values)
        self._bump(set(changed))


_mirrors: weakref.WeakKeyDictionary[LiveState, LiveMirror] = weakref.WeakKeyDictionary()
_mirrors_lock = threading.Lock()


def mirror_for(live: LiveState) -> LiveMirror:
    """The one mirror of this process for a LiveState (one per web context)."""
    with _mirrors_lock:
        mirror = _mirrors.get(live)
        if mirror is None:
            mirror = _mirrors[live] = LiveMirror(live)
        return mirror
