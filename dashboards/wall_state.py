"""Decisions behind the wall display (pure): which view shows now, which alerts take over the
screen, which panels are stale, what each rotating view lists."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from alerts.queries import Alert
from dashboards import classify
from dashboards.map_figure import MapDevice, last_seen_of
from dashboards.ops_queries import SEVERITY_RANK
from ioc.live import LatestValue

VIEWS = ("map", "water", "air", "tourism", "devices")
SECONDS_PER_VIEW = 20
TAKEOVER_SEVERITIES = frozenset({"extreme"})
TAKEOVER_S = 120.0  # seconds an alert holds the whole screen before it shrinks to a banner
STALE_AFTER_INTERVALS = 3  # a panel is stale when its newest data is this many intervals old
STALE_FLOOR_S = 120.0  # ... and never sooner than this


def view_at(
    now: float, views: Sequence[str] = VIEWS, seconds_per_view: float = SECONDS_PER_VIEW
) -> str:
    """The view on screen at Unix time `now`; every wall screen shows the same one."""
    return views[int(now // seconds_per_view) % len(views)]


def takeover_alerts(alerts: Iterable[Alert]) -> list[Alert]:
    """Alerts that may take over the wall: extreme and not yet acknowledged by anyone.

    Most severe first, then newest. Severe ones stay in the alert column: in a flood there
    are dozens, and a wall that is always taken over shows nothing.
    """
    chosen = [a for a in alerts if a.status == "open" and a.severity in TAKEOVER_SEVERITIES]
    return sorted(
        chosen, key=lambda a: (-SEVERITY_RANK.get(a.severity, 0), -a.opened_at.timestamp(), -a.id)
    )


@dataclass(frozen=True)
class Takeover:
    full: list[Alert]  # shown over the whole screen (new on this wall)
    banner: list[Alert]  # still unacknowledged after their time on the full screen
    seen: dict[str, float]  # alert id -> when this wall first showed it (Unix seconds)


def takeover(
    alerts: Iterable[Alert],
    seen: Mapping[str, float] | None,
    now: float,
    full_s: float = TAKEOVER_S,
) -> Takeover:
    """An extreme alert takes the whole screen for `full_s` seconds after this wall first
    shows it, then becomes a banner over the views until someone acknowledges it."""
    urgent = takeover_alerts(alerts)
    first = {str(a.id): float((seen or {}).get(str(a.id), now)) for a in urgent}
    full = [a for a in urgent if now - first[str(a.id)] < full_s]
    banner = [a for a in urgent if now - first[str(a.id)] >= full_s]
    return Takeover(full, banner, first)


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
