"""Exponential back-off between retries of temporary failures, one formula for every worker."""

from __future__ import annotations


def backoff_s(attempt: int, base: float = 0.5, cap: float = 60.0) -> float:
    """Seconds to wait after failed attempt number `attempt` (1, 2, ...): base·2^(attempt-1),
    at most `cap`; 0 before any attempt."""
    if attempt < 1:
        return 0.0
    return min(cap, base * 2 ** min(attempt - 1, 30))
