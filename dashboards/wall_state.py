"""Decisions behind the wall display (pure): which view shows now, which extreme alerts the
strip beside the map names, which panels are stale, what each rotating view lists."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from alerts.queries import Alert, triage_order
from dashboards import classify
from dashboards.map_figure import MapDevice, last_seen_of
from ioc.live import LatestValue

VIEWS = ("map", "water", "air", "tourism", "devices")
SECONDS_PER_VIEW = 20
STRIP_SEVERITIES = frozenset({"extreme"})
FRESH_S = 60.0  # seconds an extreme alert stays highlighted as new on a wall
STALE_AFTER_INTERVALS = 3  # a panel is stale when its newest data is this many intervals old
STALE_FLOOR_S = 120.0  # ... and never sooner than this


def view_at(
    now: float, views: Sequence[str] = VIEWS, seconds_per_view: float = SECONDS_PER_VIEW
) -> str:
    """The view on screen at Unix time `now`; every wall screen shows the same one."""
    return views[int(now // seconds_per_view) % len(views)]


def strip_alerts(alerts: Iterable[Alert]) -> list[Alert]:
    """Alerts named in the wall's extreme strip: extreme and not yet acknowledged by anyone,
    in the operators' order (`alerts.queries.triage_key`: waiting longest first).

    Severe ones stay in the alert column below it: in a flood there are dozens.
    """
    return triage_order(
        a for a in alerts if a.status == "open" and a.severity in STRIP_SEVERITIES
    )


@dataclass(frozen=True)
class ExtremeStrip:
    """The extreme strip beside the map. Nothing covers the map: an extreme alert is named
    here until someone acknowledges it; the ones this wall has shown for less than FRESH_S
    are highlighted, and `new` (first shown at this refresh) may sound a chime once."""

    alerts: list[Alert]
    fresh: frozenset[int]
    new: tuple[int, ...]
    seen: dict[str, float]  # alert id -> when this wall first showed it (Unix seconds)


def extreme_strip(
    alerts: Iterable[Alert],
    seen: Mapping[str, float] | None,
    now: float,
    fresh_s: float = FRESH_S,
) -> ExtremeStrip:
    urgent = strip_alerts(alerts)
    seen = seen or {}
    first = {str(a.id): float(seen.get(str(a.id), now)) for a in urgent}
    fresh = frozenset(a.id for a in urgent if now - first[str(a.id)] < fresh_s)
    new = tuple(a.id for a in urgent if str(a.id) not in seen)
    return ExtremeStrip(urgent, fresh, new, first)


def is_stale(newest: float | None, now: float, interval_s: float) -> bool:
    """True when the newest data is older than STALE_AFTER_INTERVALS report intervals."""
    if newest is None:
        return True
    return now - newest > max(STALE_FLOOR_S, STALE_AFTER_INTERVALS * interval_s)


@dataclass(frozen=True)
class PanelData:
    """The newest data time of a panel and the report interval it is judged against."""

    newest: float | None
    interval_s: float

    def stale(self, now: float) -> bool:
        return is_stale(self.newest, now, self.interval_s)


def panel_data(
    devices: Iterable[MapDevice],
    latest: Mapping[str, Mapping[str, LatestValue]],
    kinds: Iterable[str] | None = None,
) -> PanelData:
    kinds = set(kinds) if kinds is not None else None
    chosen = [d for d in devices if kinds is None or d.kind in kinds]
    seen = [s for d in chosen if (s := last_seen_of(latest.get(d.device_id, {}))) is not None]
    interval = min((d.expected_interval_s for d in chosen), default=60)
    return PanelData(max(seen, default=None), float(interval))


# -- rows of the rotating views ----------------------------------------------------------------
_NAME_PREFIXES = ("Trạm thủy văn ", "Quan trắc không khí ", "Trạm khí tượng ", "Đo mưa ")


def short_name(name: str) -> str:
    """A station's name without the kind that the view's title already says."""
    for prefix in _NAME_PREFIXES:
        if name.startswith(prefix) and len(name) > len(prefix):
            rest = name[len(prefix) :]
            return rest[0].upper() + rest[1:]
    return name


@dataclass(frozen=True)
class WaterRow:
    device: MapDevice
    level_m: float | None
    alarm: int
    colour: str
    fraction: float  # position of the level on a bar from (I - 2 m) to III, 0..1
    rate_m_per_h: float | None = None  # rising (+) or falling (-)


def water_rows(
    devices: Iterable[MapDevice],
    latest: Mapping[str, Mapping[str, LatestValue]],
    earlier: Mapping[str, tuple[float, float]] | None = None,
    limit: int = 10,
) -> list[WaterRow]:
    """Hydrological stations, highest alarm first, then closest to their level I; with the
    rate of change since an earlier level (`earlier`: device -> (level, Unix time))."""
    rows = []
    for d in devices:
        if d.kind != "water_level":
            continue
        item = latest.get(d.device_id, {}).get("water_level_m")
        level = float(item.value) if item and isinstance(item.value, int | float) else None
        rate = None
        before = (earlier or {}).get(d.device_id)
        if level is not None and before is not None and item.time - before[1] >= 600:
            rate = (level - before[0]) / ((item.time - before[1]) / 3600)
        cls, alarm = classify.water_class(level, d.alarm_levels)
        fraction = 0.0
        if level is not None and d.alarm_levels is not None:
            lo, hi = d.alarm_levels.level_1 - 2.0, d.alarm_levels.level_3
            fraction = min(1.0, max(0.0, (level - lo) / (hi - lo)))
        rows.append(WaterRow(d, level, alarm, cls.colour, fraction, rate))
    rows.sort(key=lambda r: (-r.alarm, -r.fraction, r.device.name))
    return rows[:limit]


@dataclass(frozen=True)
class AirRow:
    device: MapDevice
    aqi: int | None
    cls: classify.Classed


def air_rows(
    devices: Iterable[MapDevice],
    latest: Mapping[str, Mapping[str, LatestValue]],
    hourly: Mapping[str, int] | None = None,
    limit: int = 12,
) -> list[AirRow]:
    """Air-quality stations, worst VN_AQI first (the hourly index, else an indicative one)."""
    rows = []
    for d in devices:
        if d.kind != "air_quality":
            continue
        aqi = (hourly or {}).get(d.device_id)
        if aqi is None:
            aqi = classify.live_aqi({m: v.value for m, v in latest.get(d.device_id, {}).items()})
        rows.append(AirRow(d, aqi, classify.aqi_class(aqi)))
    rows.sort(key=lambda r: (-(r.aqi if r.aqi is not None else -1), r.device.name))
    return rows[:limit]


@dataclass(frozen=True)
class SiteRow:
    device: MapDevice
    occupancy: float | None
    ratio: float | None
    cls: classify.Classed


def site_rows(
    devices: Iterable[MapDevice], latest: Mapping[str, Mapping[str, LatestValue]], limit: int = 12
) -> list[SiteRow]:
    """Tourist sites, fullest first."""
    rows = []
    for d in devices:
        if d.kind != "visitor_counter":
            continue
        item = latest.get(d.device_id, {}).get("occupancy")
        occ = float(item.value) if item and isinstance(item.value, int | float) else None
        cls, ratio = classify.occupancy_class(occ, d.capacity)
        rows.append(SiteRow(d, occ, ratio, cls))
    rows.sort(key=lambda r: (-(r.ratio if r.ratio is not None else -1), r.device.name))
    return rows[:limit]
