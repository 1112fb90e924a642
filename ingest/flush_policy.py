"""When to flush a batch, and how long to wait before retrying a failed one (pure)."""

from __future__ import annotations

from dataclasses import dataclass

from ioc import retry
from ioc.config import IngestSettings


@dataclass(frozen=True)
class FlushPolicy:
    """Flush at `max_rows` rows, `max_messages` messages or `max_age_s` after the first one."""

    max_rows: int
    max_messages: int
    max_age_s: float

    @classmethod
    def from_settings(cls, ingest: IngestSettings, receive_window: int) -> FlushPolicy:
        # Messages are acknowledged only after their batch commits, so the broker stops sending
        # once `receive_window` are unacknowledged: flush at half the window so that the next
        # batch fills while this one commits, instead of the broker waiting for us.
        return cls(
            max_rows=ingest.batch_size,
            max_messages=max(1, min(ingest.max_pending, receive_window) // 2),
            max_age_s=ingest.flush_interval_ms / 1000.0,
        )

    def reason(self, rows: int, messages: int, age_s: float) -> str | None:
        """Why a batch of this size and age must be flushed now, or None to keep filling it."""
        if messages == 0:
            return None
        if rows >= self.max_rows:
            return "size"
        if messages >= self.max_messages:
            return "window"
        if age_s >= self.max_age_s:
            return "time"
        return None

    def wait_s(self, messages: int, age_s: float) -> float:
        """How long to wait for more messages before the batch is due by time."""
        if messages == 0:
            return self.max_age_s
        return max(0.0, self.max_age_s - age_s)


def backoff_s(attempt: int, *, base: float = 0.2, cap: float = 10.0) -> float:
    """Back-off before retry number `attempt` (1, 2, ...): 0.2 s doubling up to 10 s."""
    return retry.backoff_s(attempt, base, cap)
