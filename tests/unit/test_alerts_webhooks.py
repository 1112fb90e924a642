"""Webhook deliveries against a local HTTP server: retries, back-off, signature, bounds."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from alerts.webhooks import WebhookSender, backoff_s, signature


class Hook:
    """A local endpoint answering with the given status codes in turn (then 200)."""

    def __init__(self, statuses=()) -> None:
        self.statuses = list(statuses)
        self.received: list[tuple[dict, dict]] = []
        hook = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                status = hook.statuses.pop(0) if hook.statuses else 200
                if status == 200:
                    hook.received.append((json.loads(body),
                                          {k.lower(): v for k, v in self.headers.items()}))
                self.send_response(status)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def hook():
    h = Hook()
    yield h
    h.close()


def wait_until(predicate, timeout=10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.02)
    return False


def test_delivers_with_signature(hook):
    sender = WebhookSender([hook.url], secret="s3cret").start()
    try:
        assert sender.enqueue({"type": "alert", "alert_id": 1, "title": "Lũ"}) == 1
        assert wait_until(lambda: len(hook.received) == 1)
        body, headers = hook.received[0]
        assert body["title"] == "Lũ"
        raw = json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()
        assert headers["x-ioc-signature"] == signature("s3cret", raw)
        assert sender.stats.sent == 1
    finally:
        sender.stop()


def test_temporary_errors_are_retried_permanent_ones_not(hook):
    hook.statuses = [503, 500]
    sender = WebhookSender([hook.url], backoff_base_s=0.05, max_attempts=5).start()
    try:
        sender.enqueue({"n": 1})
        assert wait_until(lambda: sender.stats.sent == 1)
        assert sender.stats.retried == 2
        hook.statuses = [400]
        sender.enqueue({"n": 2})
        assert wait_until(lambda: sender.stats.failed == 1)
        assert [b["n"] for b, _ in hook.received] == [1]
    finally:
        sender.stop()


def test_unreachable_gives_up_after_max_attempts():
    sender = WebhookSender(["http://127.0.0.1:9/nothing"], backoff_base_s=0.01,
                           max_attempts=3, timeout_s=1).start()
    try:
        sender.enqueue({"n": 1})
        assert wait_until(lambda: sender.stats.failed == 1)
        assert sender.stats.retried == 2 and sender.pending() == 0
    finally:
        sender.stop()


def test_queue_is_bounded():
    sender = WebhookSender(["http://127.0.0.1:9/x"], queue_size=3)  # not started: nothing drains
    assert [sender.enqueue({"n": i}) for i in range(5)] == [1, 1, 1, 0, 0]
    assert sender.stats.dropped == 2 and sender.pending() == 3


def test_backoff_doubles_up_to_the_cap():
    assert [backoff_s(a, 0.5, 4) for a in (1, 2, 3, 4, 5)] == [0.5, 1, 2, 4, 4]
