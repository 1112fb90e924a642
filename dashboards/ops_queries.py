"""Read-only queries behind the operations pages (map, feed, devices, wall); no raw scans.

Everything reads indexed, recent rows: the registry, active alerts, open camera incidents,
recent CAP messages, hourly rollups; live values come from Redis (see live_mirror). The
slow-moving results are cached per connection pool for a few seconds, so many browsers
polling the same process cost the database one query per interval.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
import weakref
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

import psycopg
from psycopg_pool import ConnectionPool

from alerts import queries as alert_queries
from alerts.queries import Alert
from dashboards.classify import alarm_levels_of
from dashboards.map_figure import MapDevice
from dashboards.map_geometry import BaseGeometry
from ioc.alert_status import ACTIVE

STATUSES = alert_queries.STATUSES
SEVERITY_RANK = {"info": 0, "minor": 1, "moderate": 2, "severe": 3, "extreme": 4}
FAMILIES = ("environment", "disaster", "camera", "tourism")
INCIDENT_WINDOW = dt.timedelta(minutes=30)  # an incident with no update for this long is over

T = TypeVar("T")
log = logging.getLogger(__name__)


# -- a small per-pool cache ----------------------------------------------------------------------
class _PoolCache:
    """Results per (pool, key), each kept for its own time-to-live; thread-safe.

    An expired result is still answered while one background thread computes the new one,
    so a page's callback never waits for a slow query it has an answer for (the map's update
    stays fast when the 5,000-device registry is read again).
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._data: weakref.WeakKeyDictionary[Any, dict[Any, tuple[float, Any]]] = (
            weakref.WeakKeyDictionary()
        )
        self._running: set[tuple[int, Any]] = set()

    def get(self, owner: Any, key: Any, ttl_s: float, compute: Callable[[], T]) -> T:
        now = time.monotonic()
        with self._lock:
            entry = self._data.setdefault(owner, {}).get(key)
            if entry is not None and now - entry[0] < ttl_s:
                return entry[1]
            stale = entry is not None and ttl_s > 0
            job = (id(owner), key)
            if stale and job not in self._running:
                self._running.add(job)
                threading.Thread(
                    target=self._refresh,
                    args=(owner, key, compute, job),
                    daemon=True,
                    name=f"refresh-{key}",
                ).start()
        if stale:
            return entry[1]
        value = compute()
        with self._lock:
            self._data.setdefault(owner, {})[key] = (time.monotonic(), value)
        return value

    def _refresh(self, owner: Any, key: Any, compute: Callable[[], Any], job) -> None:
        try:
            value = compute()
            with self._lock:
                self._data.setdefault(owner, {})[key] = (time.monotonic(), value)
        except Exception:  # the old answer stays; the next caller tries again
            log.warning("background refresh of %s failed", key, exc_info=True)
        finally:
            with self._lock:
                self._running.discard(job)

    def clear(self) -> None:
        with self._lock:
            self._data.clear()


CACHE = _PoolCache()


# -- registry and geometry -----------------------------------------------------------------------
@dataclass(frozen=True)
class Registry:
    devices: tuple[MapDevice, ...]
    key: str  # changes when a device is added, removed, moved or renamed
    min_interval_s: float = 60.0  # the shortest expected report interval among them
    ids: tuple[str, ...] = field(default=(), compare=False)

    def __post_init__(self) -> None:
        if not self.ids:
            object.__setattr__(self, "ids", tuple(d.device_id for d in self.devices))


def _device_of(row: tuple) -> MapDevice:
    device_id, family, kind, name, lon, lat, unit_id, interval, metadata = row
    metadata = metadata or {}
    capacity = metadata.get("capacity")
    return MapDevice(
        device_id=device_id,
        family=family,
        kind=kind,
        name=name,
        lon=float(lon),
        lat=float(lat),
        unit_id=unit_id,
        expected_interval_s=int(interval),
        alarm_levels=alarm_levels_of(metadata) if kind == "water_level" else None,
        capacity=float(capacity) if isinstance(capacity, int | float) else None,
        warning=metadata.get("warning") if isinstance(metadata.get("warning"), dict) else None,
    )


def load_registry(conn: psycopg.Connection) -> Registry:
    """Enabled devices that have a position (the ones a map can show)."""
    rows = conn.execute(
        "SELECT device_id, family, kind, name, lon, lat, unit_id, expected_interval_s, metadata "
        "FROM devices WHERE enabled AND lon IS NOT NULL AND lat IS NOT NULL ORDER BY device_id"
    ).fetchall()
    devices = tuple(_device_of(r) for r in rows)
    key = str(
        hash(
            tuple(
                (d.device_id, d.kind, d.name, d.lon, d.lat, d.unit_id, d.alarm_levels, d.capacity)
                for d in devices
            )
        )
    )
    shortest = min((d.expected_interval_s for d in devices), default=60)
    return Registry(devices, key, float(shortest))


def registry(pool: ConnectionPool, ttl_s: float = 15) -> Registry:
    def compute():
        with pool.connection() as conn:
            return load_registry(conn)

    return CACHE.get(pool, "registry", ttl_s, compute)


BASE_LAYERS = ("units", "province", "rivers", "towns", "poi")
# The units before 1 July 2025: for history views only, never drawn on the live map.
HISTORY_LAYERS = ("legacy_districts",)
OTHER_LAYERS = "SELECT DISTINCT layer FROM layer_features WHERE layer <> ALL(%s) ORDER BY layer"


def load_geometry(conn: psycopg.Connection) -> BaseGeometry:
    """The province's stored layers (`ioc layers seed`/`import`), else the committed demo files.

    Every stored layer besides the base ones (a province's flood zones, evacuation points ...)
    comes along as an overlay, in name order.
    """
    from layers.catalog import demo_layers
    from layers.store import load_layer

    stored = {name: load_layer(conn, name) for name in BASE_LAYERS + HISTORY_LAYERS}
    if not stored["units"]["features"]:
        demo = demo_layers()
        stored = {name: demo[name] for name in stored}
    others = [
        row[0] for row in conn.execute(OTHER_LAYERS, (list(BASE_LAYERS + HISTORY_LAYERS),))
    ]
    return BaseGeometry(
        stored["units"],
        stored["province"],
        stored["rivers"],
        stored["towns"],
        poi=stored["poi"],
        overlays=tuple((name, load_layer(conn, name)) for name in others),
        history=stored[HISTORY_LAYERS[0]],
    )


def geometry(pool: ConnectionPool, ttl_s: float = 300) -> BaseGeometry:
    def compute():
        with pool.connection() as conn:
            return load_geometry(conn)

    return CACHE.get(pool, "geometry", ttl_s, compute)


def unit_options(geo: BaseGeometry, lang: str = "vi") -> list[dict[str, str]]:
    """Options of a searchable unit picker: "Phường Sa Pa" (the name with its type), sorted by
    name without the type; typing "sa pa", "bac ha" (no diacritics) or a code finds it."""
    from layers.units import picker_options, units_of

    names = unit_names(geo, lang)
    options = picker_options(units_of(geo.units))
    return [{**o, "label": names.get(o["value"], o["label"])} for o in options]


BEFORE_REFORM = {"vi": "trước 1/7/2025", "en": "before 1 July 2025"}


def unit_names(geo: BaseGeometry, lang: str = "vi") -> dict[str, str]:
    """unit id -> name with its type ("Phường Sa Pa"); a former district's id (data from
    before the reform) -> its name marked "(trước 1/7/2025)"."""
    out = {}
    when = BEFORE_REFORM.get(lang, BEFORE_REFORM["vi"])
    for f in geo.history.get("features", []):
        p = f["properties"]
        name = (p.get("name_en") if lang == "en" else None) or p.get("name") or p["id"]
        out[str(p["id"])] = f"{name} ({when})"
    for f in geo.units.get("features", []):
        p = f["properties"]
        out[str(p["id"])] = (p.get("name_en") if lang == "en" else None) or p.get("name") or p["id"]
    return out


# -- unit disaster levels, air-quality indices ----------------------------------------------
# The alerts worker refreshes both every minute or so; older values mean it has stopped, and the
# map shows "no data" rather than an old colour as if it were current.
HAZARD_MAX_AGE_S = 30 * 60
AQI_MAX_AGE_S = 2 * 3600  # an hourly index


def load_unit_levels(conn: psycopg.Connection) -> dict[str, int]:
    """Disaster risk level 1..5 per unit, as the alerts worker computed it (recently)."""
    return {h.unit_id: h.level
            for h in alert_queries.unit_hazard_levels(conn, HAZARD_MAX_AGE_S) if h.level}


def unit_levels(pool: ConnectionPool, ttl_s: float = 3) -> dict[str, int]:
    def compute():
        with pool.connection() as conn:
            return load_unit_levels(conn)

    return CACHE.get(pool, "unit_levels", ttl_s, compute)


def station_aqi(pool: ConnectionPool, ttl_s: float = 10) -> dict[str, int]:
    """The hourly VN_AQI of each air-quality station (NowCast, computed by the alerts worker)."""

    def compute():
        with pool.connection() as conn:
            return {s.device_id: s.aqi
                    for s in alert_queries.air_quality_indices(conn, max_age_s=AQI_MAX_AGE_S)}

    return CACHE.get(pool, "station_aqi", ttl_s, compute)


# -- camera incidents, rain, CAP ---------------------------------------------------------------------
def load_open_incidents(conn: psycopg.Connection) -> dict[str, str]:
    """device -> type of its newest open incident (no end message, updated in the last 30 min)."""
    out: dict[str, str] = {}
    for device_id, kind in conn.execute(
        "SELECT device_id, coalesce(data->>'type', label) FROM camera_incidents "
        "WHERE ended_at IS NULL AND NOT false_positive AND last_update > now() - %s "
        "ORDER BY last_update",
        (INCIDENT_WINDOW,),
    ):
        out[device_id] = kind
    return out


def open_incidents(pool: ConnectionPool, ttl_s: float = 2) -> dict[str, str]:
    def compute():
        with pool.connection() as conn:
            return load_open_incidents(conn)

    return CACHE.get(pool, "incidents", ttl_s, compute)


def load_rain_24h(conn: psycopg.Connection) -> dict[str, float]:
    """Rain per gauge over the last 24 hours, from the hourly rollups."""
    return {
        device_id: round(float(total), 1)
        for device_id, total in conn.execute(
            "SELECT device_id, sum(sum) FROM reading_rollups WHERE width = 'hour' "
            "AND metric = 'rain_mm' AND bucket >= date_trunc('hour', now()) - interval '23 hours' "
            "GROUP BY device_id"
        )
    }


def rain_24h(pool: ConnectionPool, ttl_s: float = 30) -> dict[str, float]:
    def compute():
        with pool.connection() as conn:
            return load_rain_24h(conn)

    return CACHE.get(pool, "rain_24h", ttl_s, compute)


def load_water_earlier(conn: psycopg.Connection) -> dict[str, tuple[float, float]]:
    """device -> (level, Unix time) of its newest hourly rollup at least 30 minutes old."""
    return {
        device_id: (float(last), last_time.timestamp())
        for device_id, last, last_time in conn.execute(
            "SELECT DISTINCT ON (device_id) device_id, last, last_time FROM reading_rollups "
            "WHERE width = 'hour' AND metric = 'water_level_m' "
            "AND bucket >= date_trunc('hour', now()) - interval '3 hours' "
            "AND last_time <= now() - interval '30 minutes' ORDER BY device_id, bucket DESC"
        )
    }


def water_earlier(pool: ConnectionPool, ttl_s: float = 60) -> dict[str, tuple[float, float]]:
    def compute():
        with pool.connection() as conn:
            return load_water_earlier(conn)

    return CACHE.get(pool, "water_earlier", ttl_s, compute)


# -- one device: detail, 24 h series, its alerts ---------------------------------------------------
PRIMARY_METRIC = {
    "air_quality": "pm25",
    "weather": "temperature",
    "rain_gauge": "rain_mm",
    "water_level": "water_level_m",
    "landslide": "soil_moisture_pct",
    "camera": "people_count",
    "visitor_counter": "occupancy",
    "accommodation": "checkins",
}
SUMMED_METRICS = frozenset({"rain_mm", "checkins", "entries", "exits"})


@dataclass(frozen=True)
class HourPoint:
    bucket: dt.datetime
    mean: float
    minimum: float
    maximum: float
    total: float
    n: int


def hourly_series(
    conn: psycopg.Connection, device_id: str, metric: str, hours: int = 24
) -> list[HourPoint]:
    """The device's hourly rollups of `metric` over the last `hours` hours, oldest first."""
    return [
        HourPoint(bucket, total / n if n else 0.0, lo, hi, total, n)
        for bucket, n, total, lo, hi in conn.execute(
            "SELECT bucket, n, sum, min, max FROM reading_rollups "
            "WHERE width = 'hour' AND device_id = %s AND metric = %s "
            "AND bucket >= date_trunc('hour', now()) - make_interval(hours => %s) "
            "ORDER BY bucket",
            (device_id, metric, hours - 1),
        )
    ]


def device_alerts(conn: psycopg.Connection, device_id: str, limit: int = 20) -> list[Alert]:
    """The active alerts about one device (storm children included), most severe first."""
    ids = [
        row[0]
        for row in conn.execute(
            "SELECT id FROM alerts WHERE device_id = %s AND status = ANY(%s) "
            "ORDER BY opened_at DESC LIMIT %s",
            (device_id, list(ACTIVE), limit),
        )
    ]
    found = [a for a in (alert_queries.get_alert(conn, i) for i in ids) if a is not None]
    return sorted(found, key=lambda a: -SEVERITY_RANK.get(a.severity, 0))


def _chosen(values, allowed=None) -> list[str] | None:
    """Dropdown values as a filter: None (any) when nothing (known) is chosen."""
    kept = [v for v in values or () if allowed is None or v in allowed]
    return kept or None


def feed_alerts(
    conn: psycopg.Connection,
    *,
    families=None,
    units=None,
    severities=None,
    statuses=None,
    limit: int = 200,
) -> list[Alert]:
    """The feed's alerts in the operators' order (`alerts.queries.triage_key`: most severe,
    unacknowledged, oldest first); empty filters mean any (statuses: active by default)."""
    return alert_queries.list_alerts(
        conn,
        status="active" if statuses is None else _chosen(statuses, STATUSES),
        family=_chosen(families, FAMILIES),
        unit_id=_chosen(units),
        severity=_chosen(severities, SEVERITY_RANK),
        limit=limit,
        order="triage",
    )


def load_device(conn: psycopg.Connection, device_id: str) -> MapDevice | None:
    row = conn.execute(
        "SELECT device_id, family, kind, name, coalesce(lon, 0), coalesce(lat, 0), unit_id, "
        "expected_interval_s, metadata FROM devices WHERE device_id = %s",
        (device_id,),
    ).fetchone()
    return _device_of(row) if row else None
