"""What device models emit, before encoding: readings and camera event states."""

from __future__ import annotations

import math
import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Protocol


@dataclass(frozen=True, slots=True)
class Reading:
    """A periodic report: metric -> value, at simulated time `ts` (Unix seconds)."""

    ts: float
    metrics: dict[str, float]


@dataclass(frozen=True, slots=True)
class EventState:
    """One state (new/update/end) of a camera-detected object or incident."""

    ts: float
    event_id: str
    type: str  # contract event type, or "object" for an ordinary Frigate detection
    phase: str  # new | update | end
    label: str  # person, car, fire, smoke, ...
    confidence: float
    top_confidence: float
    started: float
    zones: tuple[str, ...]
    plate: str | None = None
    plate_confidence: float | None = None
    box: tuple[int, int, int, int] = (0, 0, 1, 1)
    extra: dict = field(default_factory=dict)


Emission = Reading | EventState


class SignalModel(Protocol):
    """A device's signals: emissions in time order from its first report on, forever."""

    def emissions(self, first: float) -> Iterator[Emission]: ...


def report_times(first: float, interval: float, rng: random.Random) -> Iterator[float]:
    """Report times from `first`, `interval` apart with a little jitter (clock drift)."""
    t = first
    jitter = min(0.5, interval * 0.01)
    while True:
        yield t
        t += interval + (rng.uniform(-jitter, jitter) if jitter > 0.01 else 0.0)


def poisson(rng: random.Random, mean: float) -> int:
    """A Poisson draw; normal approximation for large means."""
    if mean <= 0:
        return 0
    if mean > 40:
        return max(0, round(rng.gauss(mean, math.sqrt(mean))))
    limit, k, p = math.exp(-mean), 0, rng.random()
    while p > limit:
        k += 1
        p *= rng.random()
    return k


def binomial(rng: random.Random, n: int, p: float) -> int:
    """A binomial draw; normal approximation for large n."""
    if n <= 0 or p <= 0:
        return 0
    if p >= 1:
        return n
    if n > 50:
        sd = math.sqrt(n * p * (1 - p))
        return min(n, max(0, round(rng.gauss(n * p, sd))))
    return sum(1 for _ in range(n) if rng.random() < p)


class AR1:
    """A first-order autoregressive noise process in continuous time (mean 0)."""

    def __init__(self, rng: random.Random, sigma: float, tau_s: float) -> None:
        self.rng, self.sigma, self.tau = rng, sigma, tau_s
        self.value = rng.gauss(0, sigma)
        self.ts: float | None = None

    def at(self, ts: float) -> float:
        if self.ts is not None:
            a = math.exp(-max(0.0, ts - self.ts) / self.tau)
            self.value = a * self.value + math.sqrt(1 - a * a) * self.rng.gauss(0, self.sigma)
        self.ts = ts
        return self.value
