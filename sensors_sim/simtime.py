"""Simulated time and randomness: derived seeds, stateless noise, local calendar, stamps."""

from __future__ import annotations

import hashlib
import math
import random
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo


def derive_seed(seed: int, *parts: object) -> int:
    """A 64-bit seed for one purpose (e.g. a device's signal) that depends only on its parts."""
    text = "\x1f".join([str(seed), *(str(p) for p in parts)])
    return int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest(), "big")


def rng_for(seed: int, *parts: object) -> random.Random:
    return random.Random(derive_seed(seed, *parts))


def unit_noise(seed: int, *parts: object) -> float:
    """A uniform number in [0, 1) fixed by its parts: the same parts give the same number."""
    return derive_seed(seed, *parts) / 2**64


def rfc3339(ts: float) -> str:
    """RFC 3339 in UTC with a numeric offset and milliseconds: 2025-06-01T01:00:00.000+00:00."""
    return datetime.fromtimestamp(round(ts, 3), UTC).isoformat(timespec="milliseconds")


def to_datetime(ts: float) -> datetime:
    return datetime.fromtimestamp(ts, UTC)


def shape_at(shape: Sequence[float], hour: float) -> float:
    """A 24-value hourly shape at a fractional local hour, linear between hour centres."""
    x = (hour - 0.5) % 24
    i = int(x)
    frac = x - i
    return shape[i] * (1 - frac) + shape[(i + 1) % 24] * frac


def hann(x: float) -> float:
    """A smooth bump on [0, 1], 0 at both ends and 1 in the middle."""
    if x <= 0 or x >= 1:
        return 0.0
    return math.sin(math.pi * x) ** 2


@dataclass(frozen=True)
class LocalTime:
    hour: float  # 0 <= hour < 24, fractional
    weekday: int  # Monday = 0
    month: int  # 1..12
    day_of_year: int


class Calendar:
    """Local wall-clock facts of a UTC timestamp in the province's time zone."""

    def __init__(self, timezone: str) -> None:
        self.tz = ZoneInfo(timezone)
        self._local = lru_cache(maxsize=4096)(self._local_hour_start)

    def _local_hour_start(self, hour_index: int) -> tuple[float, int, int, int]:
        local = datetime.fromtimestamp(hour_index * 3600, self.tz)
        hour = local.hour + local.minute / 60
        return hour, local.weekday(), local.month, local.timetuple().tm_yday

    def at(self, ts: float) -> LocalTime:
        hour_index = math.floor(ts / 3600)
        hour, weekday, month, yday = self._local(hour_index)
        return LocalTime((hour + (ts - hour_index * 3600) / 3600) % 24, weekday, month, yday)

    def offset_hours(self, ts: float) -> float:
        offset = datetime.fromtimestamp(ts, self.tz).utcoffset() or timedelta(0)
        return offset.total_seconds() / 3600
