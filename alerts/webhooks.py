"""Webhook deliveries: JSON POSTs with retries and back-off, from a background thread per URL.

Each URL has a bounded queue; when it is full new deliveries are dropped and counted (the
database keeps the alert history, so nothing is lost for the operators). Temporary failures
(connection errors, timeouts, 408/429/5xx) are retried with exponential back-off up to
`max_attempts`; other 4xx answers are permanent and not retried.
"""

from __future__ import annotations

import hashlib
import heapq
import hmac
import itertools
import json
import logging
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

log = logging.getLogger(__name__)

RETRY_STATUSES = frozenset({408, 425, 429, 500, 502, 503, 504})


def backoff_s(attempt: int, base: float = 0.5, cap: float = 60.0) -> float:
    """Wait before attempt `attempt + 1` (attempt counts from 1): base·2^(attempt-1), capped."""
    return min(cap, base * 2 ** (attempt - 1))


def signature(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


@dataclass
class WebhookStats:
    sent: int = 0
    failed: int = 0  # given up (permanent error or out of attempts)
    retried: int = 0
    dropped: int = 0  # queue full


@dataclass(order=True)
class _Delivery:
    due: float
    seq: int
    body: bytes = field(compare=False)
    attempt: int = field(compare=False, default=0)


class _UrlSender(threading.Thread):
    def __init__(self, url: str, owner: WebhookSender) -> None:
        super().__init__(name=f"webhook-{url[:40]}", daemon=True)
        self.url = url
        self.owner = owner
        self.heap: list[_Delivery] = []
        self.cond = threading.Condition()
        self.stopping = False
        self.in_flight = 0

    def put(self, delivery: _Delivery) -> bool:
        with self.cond:
            if len(self.heap) >= self.owner.queue_size:
                return False
            heapq.heappush(self.heap, delivery)
            self.cond.notify()
            return True

    def pending(self) -> int:
        with self.cond:
            return len(self.heap) + self.in_flight

    def run(self) -> None:
        while True:
            with self.cond:
                while True:
                    if self.stopping:
                        return
                    now = time.monotonic()
                    if self.heap and self.heap[0].due <= now:
                        delivery = heapq.heappop(self.heap)
                        self.in_flight = 1
                        break
                    self.cond.wait(None if not self.heap else self.heap[0].due - now)
            try:
                self._attempt(delivery)
            finally:
                with self.cond:
                    self.in_flight = 0

    def _attempt(self, delivery: _Delivery) -> None:
        owner = self.owner
        delivery.attempt += 1
        outcome = owner.post(self.url, delivery.body)
        stats = owner.stats
        if outcome == "ok":
            stats.sent += 1
            return
        if outcome == "retry" and delivery.attempt < owner.max_attempts:
            stats.retried += 1
            delivery.due = time.monotonic() + backoff_s(delivery.attempt, owner.backoff_base_s,
                                                        owner.backoff_cap_s)
            with self.cond:
                heapq.heappush(self.heap, delivery)  # a retry may exceed the bound by one
            return
        stats.failed += 1
        log.warning("webhook %s: giving up after %d attempt(s)", self.url, delivery.attempt)


class WebhookSender:
    """POSTs messages as JSON to every configured URL, in the background."""

    def __init__(self, urls: Sequence[str], *, secret: str | None = None,
                 timeout_s: float = 5.0, max_attempts: int = 6, queue_size: int = 1000,
                 backoff_base_s: float = 0.5, backoff_cap_s: float = 60.0) -> None:
        self.urls = list(urls)
        self.secret = secret
        self.timeout_s = timeout_s
        self.max_attempts = max_attempts
        self.queue_size = queue_size
        self.backoff_base_s = backoff_base_s
        self.backoff_cap_s = backoff_cap_s
        self.stats = WebhookStats()
        self._seq = itertools.count()
        self._senders = [_UrlSender(url, self) for url in self.urls]

    @classmethod
    def from_settings(cls, alerts_settings) -> WebhookSender | None:
        if not alerts_settings.webhook_urls:
            return None
        return cls(alerts_settings.webhook_urls, secret=alerts_settings.webhook_secret,
                   timeout_s=alerts_settings.webhook_timeout_s,
                   max_attempts=alerts_settings.webhook_max_attempts,
                   queue_size=alerts_settings.webhook_queue_size)

    def start(self) -> WebhookSender:
        for s in self._senders:
            s.start()
        return self

    def stop(self, timeout: float = 5.0) -> None:
        for s in self._senders:
            with s.cond:
                s.stopping = True
                s.cond.notify()
        for s in self._senders:
            if s.is_alive():
                s.join(timeout)

    def pending(self) -> int:
        return sum(s.pending() for s in self._senders)

    def enqueue(self, message: Mapping[str, Any]) -> int:
        """Queue one message for every URL; returns to how many it was queued."""
        body = json.dumps(message, ensure_ascii=False, separators=(",", ":"),
                          default=str).encode()
        queued = 0
        for s in self._senders:
            if s.put(_Delivery(time.monotonic(), next(self._seq), body)):
                queued += 1
            else:
                self.stats.dropped += 1
                if self.stats.dropped == 1 or self.stats.dropped % 100 == 0:
                    log.warning("webhook queue of %s is full; %d deliveries dropped so far",
                                s.url, self.stats.dropped)
        return queued

    def post(self, url: str, body: bytes) -> str:
        """One attempt: "ok", "retry" (temporary) or "fail" (permanent)."""
        headers = {"Content-Type": "application/json; charset=utf-8",
                   "User-Agent": "ioc-alerts/1"}
        if self.secret:
            headers["X-IOC-Signature"] = signature(self.secret, body)
        request = urllib.request.Request(url, data=body, headers=headers, method="POST")
        try:
            with urllib.request.urlopen(request, timeout=self.timeout_s) as response:
                response.read(1024)
                return "ok" if 200 <= response.status < 300 else "retry"
        except urllib.error.HTTPError as err:
            kind = "retry" if err.code in RETRY_STATUSES else "fail"
            log.info("webhook %s answered %d (%s)", url, err.code, kind)
            return kind
        except (urllib.error.URLError, TimeoutError, ConnectionError, OSError) as err:
            log.info("webhook %s: %s; will retry", url, err)
            return "retry"
