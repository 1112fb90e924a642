"""Webhook posts against a local HTTP server: signature, what each answer means."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from alerts.deliveries import backoff_s
from alerts.webhooks import WebhookSender, signature


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


def test_one_post_with_signature(hook):
    sender = WebhookSender([hook.url], secret="s3cret")
    body = sender.encode({"type": "alert", "alert_id": 1, "title": "Lũ"})
    assert sender.post(hook.url, body) == ("ok", None)
    received, headers = hook.received[0]
    assert received["title"] == "Lũ"
    assert headers["x-ioc-signature"] == signature("s3cret", body)
    assert sender.stats.sent == 1


def test_temporary_and_permanent_answers(hook):
    sender = WebhookSender([hook.url])
    hook.statuses = [503, 429, 400]
    assert sender.post(hook.url, b"{}") == ("retry", "HTTP 503")
    assert sender.post(hook.url, b"{}") == ("retry", "HTTP 429")
    assert sender.post(hook.url, b"{}") == ("fail", "HTTP 400")
    assert sender.post(hook.url, b"{}") == ("ok", None)
    assert (sender.stats.retry, sender.stats.failed, sender.stats.sent) == (2, 1, 1)


def test_unreachable_is_temporary():
    sender = WebhookSender(["http://127.0.0.1:9/nothing"], timeout_s=1)
    outcome, why = sender.post("http://127.0.0.1:9/nothing", b"{}")
    assert outcome == "retry" and why


def test_backoff_doubles_up_to_the_cap():
    assert [backoff_s(a, 0.5, 4) for a in (1, 2, 3, 4, 5)] == [0.5, 1, 2, 4, 4]
