"""Tells open map pages at once that something new arrived (server-sent events).

One thread per web process waits on the Redis event stream (XREAD BLOCK) and counts what
arrives; each open page holds one `text/event-stream` response on `/ops/live` that sends the
count when it moves. The page then asks for its update through its usual Dash callback (so
the update itself stays a login-gated, role-checked callback answering "what changed since
the version you have"). Instead of a poll every 500 ms, the page hears within milliseconds.

A stream ends after STREAM_S (the browser's EventSource reconnects by itself, and the gate
checks the session again), and at most MAX_STREAMS are open per process: a page refused
(503) falls back to its slow poll.
"""

from __future__ import annotations

import logging
import threading
import time
import weakref

from flask import Response, stream_with_context

from dashboards import auth
from dashboards.context import context
from ioc.live import LiveState

log = logging.getLogger(__name__)

PATH = "/ops/live"
STREAM_S = 55.0  # one response at most this long
KEEPALIVE_S = 15.0  # a comment line this often, so proxies keep the stream open
MAX_STREAMS = 24  # per process (gunicorn's threads are shared with the callbacks)
BLOCK_MS = 5000
RETRY_MS = 1000  # what the browser waits before reconnecting


class StreamWatch:
    """Counts the entries of the live event stream, waking waiters when it moves."""

    def __init__(self, live: LiveState) -> None:
        self.live = live
        self.seq = 0
        self.cond = threading.Condition()
        self.streams = 0
        self._thread: threading.Thread | None = None
        self._cursor = "$"

    def start(self) -> None:
        with self.cond:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="live-push", daemon=True)
                self._thread.start()

    def _run(self) -> None:
        failures = 0
        r, key = self.live.r, self.live.events_key
        while True:
            try:
                reply = r.xread({key: self._cursor}, count=1, block=BLOCK_MS)
                failures = 0
                if not reply:
                    continue
                # Jump to the newest entry: a page only needs to know that something came.
                newest = r.xrevrange(key, "+", "-", count=1)
                entry = newest[0][0] if newest else reply[0][1][-1][0]
                self._cursor = entry.decode() if isinstance(entry, bytes) else entry
                with self.cond:
                    self.seq += 1
                    self.cond.notify_all()
            except Exception as err:  # Redis away: the pages' slow poll goes on meanwhile
                failures += 1
                if failures == 1 or failures % 30 == 0:
                    log.warning("live push cannot read the event stream: %s", err)
                time.sleep(min(10.0, 0.5 * failures))

    def wait(self, seen: int, timeout: float) -> int:
        with self.cond:
            self.cond.wait_for(lambda: self.seq != seen, timeout)
            return self.seq


_watches: weakref.WeakKeyDictionary[LiveState, StreamWatch] = weakref.WeakKeyDictionary()
_watches_lock = threading.Lock()


def watch_for(live: LiveState) -> StreamWatch:
    with _watches_lock:
        watch = _watches.get(live)
        if watch is None:
            watch = _watches[live] = StreamWatch(live)
        watch.start()
        return watch


def events(watch: StreamWatch, stream_s: float = STREAM_S):
    """The event-stream lines of one page: the count whenever it moves, keep-alives between."""
    with watch.cond:
        watch.streams += 1
    try:
        seen = watch.seq
        yield f"retry: {RETRY_MS}\ndata: {seen}\n\n"
        end = time.monotonic() + stream_s
        while (left := end - time.monotonic()) > 0:
            now = watch.wait(seen, min(KEEPALIVE_S, left))
            if now != seen:
                seen = now
                yield f"data: {seen}\n\n"
            else:
                yield ": keep-alive\n\n"
    finally:
        with watch.cond:
            watch.streams -= 1


def live_view():
    watch = watch_for(context().live)
    if watch.streams >= MAX_STREAMS:
        return Response("too many live streams; polling instead\n", status=503,
                        mimetype="text/plain", headers={"Retry-After": "60"})
    resp = Response(stream_with_context(events(watch)), mimetype="text/event-stream")
    resp.headers["Cache-Control"] = "no-store"
    resp.headers["X-Accel-Buffering"] = "no"  # nginx: pass each event on at once
    return resp


def register_live_routes(server) -> None:
    """Mount `/ops/live` (behind the gate: a session whose role may view the map)."""
    server.add_url_rule(PATH, "ops_live", auth.require_page("ops")(live_view), methods=["GET"])
