"""Device health for the devices page and the wall: which devices went silent, per unit and
family, and how fresh each feed is (registry rows + last-seen times from Redis; no raw scans).
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import psycopg
from psycopg_pool import ConnectionPool

from dashboards.classify import is_silent
from dashboards.ops_queries import CACHE, FAMILIES
from ioc.live import LiveState


# -- device health -----------------------------------------------------------------------------------
@dataclass(frozen=True)
class DeviceHealth:
    device_id: str
    name: str
    family: str
    kind: str
    unit_id: str | None
    expected_interval_s: int
    last_seen: float | None  # Unix seconds of its newest reading (Redis last_seen)
    silent: bool
    event_driven: bool = False  # speaks only when something happens (a Frigate camera)

    @property
    def never_seen(self) -> bool:
        """Never heard from, although it should report periodically."""
        return self.last_seen is None and not self.event_driven


@dataclass(frozen=True)
class HealthGroup:
    unit_id: str
    family: str
    total: int
    online: int
    silent: int
    never_seen: int


def units_by_trouble(groups, names: dict[str, str]) -> list[str]:
    """The units that have devices, those with the most silent devices first, then by name:
    with 99 units the ones that need a look are at the top (pure)."""
    silent: dict[str, int] = {}
    for g in groups:
        silent[g.unit_id] = silent.get(g.unit_id, 0) + g.silent + g.never_seen
    return sorted(silent, key=lambda u: (-silent[u], names.get(u, u or "")))


@dataclass(frozen=True)
class FeedFreshness:
    feed: str  # family name, "cap" or "rollups"
    newest: float | None  # Unix seconds
    expected_s: float  # a newer item is expected at least this often
    devices: int

    def age_s(self, now: float) -> float | None:
        return None if self.newest is None else max(0.0, now - self.newest)

    def late(self, now: float) -> bool:
        if self.expected_s == float("inf"):  # sent only when there is something to say
            return False
        age = self.age_s(now)
        return age is None or age > self.expected_s


def load_health_devices(conn: psycopg.Connection) -> list[tuple]:
    return conn.execute(
        "SELECT device_id, name, family, kind, unit_id, expected_interval_s, "
        "coalesce((metadata->>'event_driven')::boolean, false) FROM devices "
        "WHERE enabled ORDER BY device_id"
    ).fetchall()


def device_health(
    rows: Iterable[tuple], last_seen: Mapping[str, float], now: float
) -> list[DeviceHealth]:
    """Each enabled device with its last-seen time and whether it has gone silent (pure)."""
    out = []
    for device_id, name, family, kind, unit_id, interval, *rest in rows:
        seen = last_seen.get(device_id)
        out.append(
            DeviceHealth(
                device_id,
                name,
                family,
                kind,
                unit_id,
                int(interval),
                seen,
                is_silent(seen, interval, now),
                bool(rest and rest[0]),
            )
        )
    return out


def health_groups(devices: Iterable[DeviceHealth]) -> list[HealthGroup]:
    """Counts per (unit_id, family), units and families in name order (pure)."""
    groups: dict[tuple[str, str], list[DeviceHealth]] = {}
    for d in devices:
        groups.setdefault((d.unit_id or "", d.family), []).append(d)
    out = []
    for (unit_id, family), items in sorted(groups.items()):
        silent = sum(d.silent for d in items)
        never = sum(d.never_seen for d in items)
        out.append(
            HealthGroup(unit_id, family, len(items), len(items) - silent - never, silent, never)
        )
    return out


def feed_freshness(
    devices: Iterable[DeviceHealth], cap_newest: float | None, rollup_newest: float | None
) -> list[FeedFreshness]:
    """Newest data per feed: each device family (from last_seen), CAP warnings, rollups (pure).

    A family is late when nothing arrived for 3x the shortest report interval among its
    devices; rollups are late after 3 minutes (the worker refreshes them every minute). CAP
    warnings are sent only when there is something to warn about, so they are never late.
    """
    out = []
    by_family: dict[str, list[DeviceHealth]] = {}
    for d in devices:
        by_family.setdefault(d.family, []).append(d)
    for family in FAMILIES:
        items = by_family.get(family, [])
        seen = [d.last_seen for d in items if d.last_seen is not None]
        interval = min((d.expected_interval_s for d in items), default=60)
        out.append(FeedFreshness(family, max(seen, default=None), 3.0 * interval, len(items)))
    out.append(FeedFreshness("cap", cap_newest, float("inf"), 0))
    out.append(FeedFreshness("rollups", rollup_newest, 180.0, 0))
    return out


def load_feed_times(conn: psycopg.Connection) -> tuple[float | None, float | None]:
    """(newest CAP message received, newest rollup data time), both via their indexes."""
    cap = conn.execute(
        "SELECT extract(epoch FROM received_at) FROM cap_messages ORDER BY sent DESC LIMIT 1"
    ).fetchone()
    rollup = conn.execute(
        "SELECT extract(epoch FROM max(last_time)) FROM (SELECT last_time FROM reading_rollups "
        "WHERE width = 'hour' ORDER BY bucket DESC LIMIT 500) recent"
    ).fetchone()
    return (
        float(cap[0]) if cap else None,
        float(rollup[0]) if rollup and rollup[0] is not None else None,
    )


@dataclass(frozen=True)
class HealthReport:
    devices: list[DeviceHealth]
    groups: list[HealthGroup]
    feeds: list[FeedFreshness]
    now: float


def health_report(pool: ConnectionPool, live: LiveState, ttl_s: float = 2) -> HealthReport:
    def compute():
        with pool.connection() as conn:
            rows = load_health_devices(conn)
            cap_newest, rollup_newest = load_feed_times(conn)
        now = time.time()
        devices = device_health(rows, live.last_seen(), now)
        return HealthReport(
            devices, health_groups(devices), feed_freshness(devices, cap_newest, rollup_newest), now
        )

    return CACHE.get(pool, "health", ttl_s, compute)
