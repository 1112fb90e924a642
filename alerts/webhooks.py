"""Webhook posts: one JSON POST per alert change, signed when a secret is set.

Queueing, retries and back-off live in `alerts.deliveries` (durable, in the database); this
module makes one attempt and says what it means: "ok", "retry" (connection errors, timeouts,
408/425/429/5xx) or "fail" (any other answer: a permanent refusal, not retried).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import urllib.error
import urllib.request
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

log = logging.getLogger(__name__)

RETRY_STATUSES = frozenset({408, 425, 429, 500, 502, 503, 504})


def signature(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


@dataclass
class WebhookStats:
    sent: int = 0
    retry: int = 0  # temporary failures (the delivery is tried again later)
    failed: int = 0  # permanent refusals


class WebhookSender:
    """POSTs JSON to the configured URLs, one attempt at a time."""

    def __init__(self, urls: Sequence[str], *, secret: str | None = None,
                 timeout_s: float = 5.0, max_attempts: int = 6) -> None:
        self.urls = list(urls)
        self.secret = secret
        self.timeout_s = timeout_s
        self.max_attempts = max_attempts
        self.stats = WebhookStats()

    @classmethod
    def from_settings(cls, alerts_settings) -> WebhookSender | None:
        if not alerts_settings.webhook_urls:
            return None
        return cls(alerts_settings.webhook_urls, secret=alerts_settings.webhook_secret,
                   timeout_s=alerts_settings.webhook_timeout_s,
                   max_attempts=alerts_settings.webhook_max_attempts)

    @staticmethod
    def encode(message: Mapping[str, Any]) -> bytes:
        return json.dumps(message, ensure_ascii=False, separators=(",", ":"),
                          default=str).encode()

    def post(self, url: str, body: bytes) -> tuple[Literal["ok", "retry", "fail"], str | None]:
        """One attempt: ("ok", None), ("retry", why) or ("fail", why)."""
        headers = {"Content-Type": "application/json; charset=utf-8",
                   "User-Agent": "ioc-alerts/1"}
        if self.secret:
            headers["X-IOC-Signature"] = signature(self.secret, body)
        request = urllib.request.Request(url, data=body, headers=headers, method="POST")
        try:
            with urllib.request.urlopen(request, timeout=self.timeout_s) as response:
                response.read(1024)
                if 200 <= response.status < 300:
                    self.stats.sent += 1
                    return "ok", None
                self.stats.retry += 1
                return "retry", f"HTTP {response.status}"
        except urllib.error.HTTPError as err:
            kind = "retry" if err.code in RETRY_STATUSES else "fail"
            log.info("webhook %s answered %d (%s)", url, err.code, kind)
            if kind == "retry":
                self.stats.retry += 1
            else:
                self.stats.failed += 1
            return kind, f"HTTP {err.code}"
        except (urllib.error.URLError, TimeoutError, ConnectionError, OSError) as err:
            log.info("webhook %s: %s; will retry", url, err)
            self.stats.retry += 1
            return "retry", str(err)[:300]
