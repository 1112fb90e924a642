"""What the map shows of a large fleet: the devices in view, or clusters of them (pure, numpy).

A browser draws a few thousand markers well and 50,000 badly, so with more devices than
DETAIL_MAX the server decides per view: the devices inside the view (plus a margin, so a small
pan needs nothing new) when there are at most DETAIL_MAX of them, else clusters: the devices
grouped on a grid anchored to the world (cells of CELL_PX pixels at the view's whole zoom
level, so panning does not reshuffle them), each cluster with its count, its counts per status
level and the colour of its worst device.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from dashboards import classify
from dashboards.i18n import t
from dashboards.map_figure import DEVICE_LAYERS, LEGENDS, MapDevice

DETAIL_MAX = 1500  # at most this many device markers in one browser (each update redraws them all)
CELL_PX = 64  # cluster grid cell, screen pixels at the view's whole zoom level
MARGIN = 0.25  # of the view's width and height, added on each side
TILE_PX = 512  # MapLibre's world size at zoom 0 (as fit_view)

# Status levels of a device, worst last: what a cluster counts and colours itself by.
LEVEL_NORMAL, LEVEL_NO_DATA, LEVEL_WATCH, LEVEL_WARNING, LEVEL_DANGER = range(5)
LEVELS = 5
LAYER_KEYS: tuple[str, ...] = tuple(layer.key for layer in DEVICE_LAYERS)


def _level_table() -> dict[tuple[str, str], int]:
    """(layer, marker colour) -> status level. A layer's legend lists its classes from the
    best to the worst: the first is normal, the others spread over watch .. danger."""
    table: dict[tuple[str, str], int] = {}
    for key in LAYER_KEYS:
        entries = LEGENDS.get(key, ())
        n = len(entries)
        for pos, (_name, colour) in enumerate(entries):
            level = LEVEL_NORMAL if pos == 0 else LEVEL_WATCH + round(2 * (pos - 1) / max(1, n - 2))
            table[(key, colour)] = min(LEVEL_DANGER, level)
        table[(key, classify.NO_DATA)] = LEVEL_NO_DATA
        table[(key, classify.SILENT)] = LEVEL_NO_DATA
    return table


_LEVEL_OF = _level_table()


def status_level(layer: str, colour: str) -> int:
    """The status level (0 normal .. 4 danger; 1 = no data or silent) of a marker colour."""
    return _LEVEL_OF.get((layer, colour), LEVEL_NORMAL)


# -- the view -----------------------------------------------------------------------------------
def _merc_y(lat: float) -> float:
    lat = max(-85.0, min(85.0, lat))
    return math.log(math.tan(math.pi / 4 + math.radians(lat) / 2))


def _lat_of(merc_y: float) -> float:
    return math.degrees(2 * math.atan(math.exp(merc_y)) - math.pi / 2)


@dataclass(frozen=True)
class Viewport:
    """A rectangle of the map (degrees) and the zoom it is seen at."""

    west: float
    south: float
    east: float
    north: float
    zoom: float

    def expanded(self, margin: float = MARGIN) -> Viewport:
        dx = (self.east - self.west) * margin
        y0, y1 = _merc_y(self.south), _merc_y(self.north)
        dy = (y1 - y0) * margin
        return Viewport(
            self.west - dx, _lat_of(y0 - dy), self.east + dx, _lat_of(y1 + dy), self.zoom
        )

    def contains(self, other: Viewport) -> bool:
        return (
            self.west <= other.west
            and self.south <= other.south
            and self.east >= other.east
            and self.north >= other.north
        )

    def bbox(self) -> list[float]:
        return [round(v, 6) for v in (self.west, self.south, self.east, self.north)]

    @classmethod
    def of(cls, data: Mapping | Sequence | None) -> Viewport | None:
        """From a browser's {w, s, e, n, zoom} (or a stored [w, s, e, n, zoom]); None if bad."""
        try:
            if isinstance(data, Mapping):
                values = [float(data[k]) for k in ("w", "s", "e", "n", "zoom")]
            else:
                values = [float(v) for v in data]  # type: ignore[union-attr]
            view = cls(*values)
        except (TypeError, KeyError, ValueError):
            return None
        if not (view.west < view.east and view.south < view.north) or any(
            math.isnan(v) for v in values
        ):
            return None
        return view


def viewport_of(center: Mapping[str, float], zoom: float, width_px: float, height_px: float):
    """The rectangle a map of this size shows around `center` at `zoom` (Web Mercator)."""
    world = TILE_PX * 2**zoom
    half_lon = width_px / 2 * 360 / world
    cy = _merc_y(center["lat"])
    half_y = height_px / 2 * 2 * math.pi / world
    return Viewport(
        center["lon"] - half_lon,
        _lat_of(cy - half_y),
        center["lon"] + half_lon,
        _lat_of(cy + half_y),
        zoom,
    )


# -- the devices as arrays ------------------------------------------------------------------------
class DeviceIndex:
    """Every device of the registry in one global order (the layers one after another, in
    `layer_rows` order within each): positions, layer, projected world coordinates."""

    def __init__(self, rows: Mapping[str, Sequence[MapDevice]]) -> None:
        self.offsets: dict[str, int] = {}
        devices: list[MapDevice] = []
        codes: list[int] = []
        for code, key in enumerate(LAYER_KEYS):
            self.offsets[key] = len(devices)
            items = rows.get(key, ())
            devices.extend(items)
            codes.extend([code] * len(items))
        self.devices = devices
        self.layer = np.asarray(codes, dtype=np.int8)
        self.lon = np.asarray([d.lon for d in devices], dtype=np.float64)
        self.lat = np.asarray([d.lat for d in devices], dtype=np.float64)
        self.x = (self.lon + 180.0) / 360.0
        lat = np.clip(self.lat, -85.0, 85.0)
        self.y = (1.0 - np.log(np.tan(np.pi / 4 + np.radians(lat) / 2)) / np.pi) / 2.0

    def __len__(self) -> int:
        return len(self.devices)

    def layer_range(self, key: str) -> tuple[int, int]:
        start = self.offsets[key]
        code = LAYER_KEYS.index(key)
        end = self.offsets[LAYER_KEYS[code + 1]] if code + 1 < len(LAYER_KEYS) else len(self)
        return start, end

    def shown(self, visible: Iterable[str]) -> np.ndarray:
        codes = [LAYER_KEYS.index(k) for k in visible if k in LAYER_KEYS]
        return np.isin(self.layer, np.asarray(codes, dtype=np.int8))

    def within(self, view: Viewport, visible: Iterable[str]) -> np.ndarray:
        """Global positions (ascending) of the shown devices inside `view`."""
        mask = (
            self.shown(visible)
            & (self.lon >= view.west)
            & (self.lon <= view.east)
            & (self.lat >= view.south)
            & (self.lat <= view.north)
        )
        return np.flatnonzero(mask)


@dataclass(frozen=True)
class Target:
    """What one browser is to show: mode "detail" (the devices in `bbox`) or "clusters"
    (of the devices in `bbox`, on the grid of whole zoom `grid_zoom`)."""

    mode: str
    bbox: tuple[float, float, float, float]
    grid_zoom: int
    visible: tuple[str, ...]

    def state(self) -> dict:
        return {
            "mode": self.mode,
            "bbox": list(self.bbox),
            "grid": self.grid_zoom,
            "visible": list(self.visible),
        }

    @classmethod
    def of_state(cls, state: Mapping | None) -> Target | None:
        try:
            return cls(
                str(state["mode"]),
                tuple(float(v) for v in state["bbox"]),  # type: ignore[arg-type]
                int(state["grid"]),
                tuple(state["visible"]),
            )
        except (TypeError, KeyError, ValueError):
            return None


def choose_target(
    index: DeviceIndex,
    view: Viewport,
    visible: Iterable[str],
    current: Target | None = None,
    detail_max: int = DETAIL_MAX,
) -> Target:
    """Detail or clusters for `view` (pure). The current target is kept while the view stays
    inside its rectangle (and, for clusters, at the same whole zoom), so a small pan sends
    nothing new."""
    shown = tuple(k for k in LAYER_KEYS if k in set(visible))
    grid_zoom = max(0, int(math.floor(view.zoom)))
    if current is not None and current.visible == shown:
        box = Viewport(*current.bbox, zoom=view.zoom)
        if box.contains(view):
            if current.mode == "detail" and len(index.within(box, shown)) <= detail_max:
                return current
            if current.mode == "clusters" and current.grid_zoom == grid_zoom:
                if len(index.within(view, shown)) > detail_max:
                    return current
    wide = view.expanded()
    for box in (wide, view):
        if len(index.within(box, shown)) <= detail_max:
            return Target("detail", tuple(box.bbox()), grid_zoom, shown)
    return Target("clusters", tuple(wide.bbox()), grid_zoom, shown)


@dataclass(frozen=True)
class Clusters:
    """Clusters of devices; arrays of one length, one entry per cluster."""

    keys: np.ndarray  # grid cell of each cluster (int64), ascending
    lon: np.ndarray  # mean position of its devices
    lat: np.ndarray
    count: np.ndarray
    worst: np.ndarray  # global position of its worst device
    levels: np.ndarray  # (clusters, LEVELS) devices per status level

    def __len__(self) -> int:
        return len(self.keys)


def cluster(
    index: DeviceIndex, members: np.ndarray, levels: np.ndarray, grid_zoom: int,
    cell_px: int = CELL_PX,
) -> Clusters:
    """Group the devices at global positions `members` on the world grid of `grid_zoom`
    (pure). `levels` is the status level of every device (global order)."""
    members = np.asarray(members, dtype=np.int64)
    if members.size == 0:
        empty = np.zeros(0)
        return Clusters(
            np.zeros(0, np.int64), empty, empty, np.zeros(0, np.int64), np.zeros(0, np.int64),
            np.zeros((0, LEVELS), np.int64),
        )
    cells = max(1, int(TILE_PX * 2**grid_zoom // cell_px))
    cx = np.clip((index.x[members] * cells).astype(np.int64), 0, cells - 1)
    cy = np.clip((index.y[members] * cells).astype(np.int64), 0, cells - 1)
    keys, inverse, count = np.unique(cx * cells + cy, return_inverse=True, return_counts=True)
    inverse = inverse.ravel()
    lon = np.bincount(inverse, weights=index.lon[members]) / count
    lat = np.bincount(inverse, weights=index.lat[members]) / count
    member_levels = levels[members].astype(np.int64)
    by_level = np.bincount(inverse * LEVELS + member_levels, minlength=len(keys) * LEVELS)
    # the worst device of each cluster: sort by (cluster, level, position), take each last
    order = np.lexsort((members, member_levels, inverse))
    last = np.r_[np.flatnonzero(np.diff(inverse[order])), len(order) - 1]
    worst = members[order[last]]
    return Clusters(keys, lon, lat, count, worst, by_level.reshape(len(keys), LEVELS))


def cluster_size(count: int, scale: float = 1.0) -> float:
    """Marker size of a cluster of `count` devices: grows with the order of magnitude."""
    return round((12 + 8 * math.log10(max(1, count))) * scale, 1)


# -- clusters as a trace ------------------------------------------------------------------------
def set_cluster_trace(trace, props: Mapping[str, list] | None) -> None:
    whole = cluster_trace(props)
    for key in ("lon", "lat", "customdata", "hovertext"):
        trace[key] = whole[key]
    trace["marker"]["color"] = whole["marker"]["color"]
    trace["marker"]["size"] = whole["marker"]["size"]


def cluster_text(count: int, levels, lang: str) -> str:
    """Hover text of a cluster: how many devices, how many at each status level."""

    def n(x: int) -> str:
        return f"{x:,}".replace(",", "." if lang == "vi" else ",")

    parts = [
        f"{n(int(levels[level]))} {t(f'map.cluster.level_{level}', lang)}"
        for level in (LEVEL_DANGER, LEVEL_WARNING, LEVEL_WATCH, LEVEL_NO_DATA)
        if levels[level]
    ]
    lines = [f"<b>{t('map.cluster.devices', lang, n=n(count))}</b>"]
    if parts:
        lines.append(" · ".join(parts))
    lines.append(f"<i>{t('map.cluster.zoom', lang)}</i>")
    return "<br>".join(lines)


def cluster_trace(props: Mapping[str, list] | None, marker_scale: float = 1.0) -> dict:
    """The clusters as one Scattermap trace (empty when the browser shows single devices).

    Custom data: a lone device's id (a click selects it), else "@lon,lat,zoom" (a click
    zooms in there)."""
    props = props or {}
    return {
        "type": "scattermap",
        "name": "clusters",
        "lon": list(props.get("lon", [])),
        "lat": list(props.get("lat", [])),
        "customdata": list(props.get("customdata", [])),
        "mode": "markers",
        "hovertext": list(props.get("hovertext", [])),
        "hoverinfo": "text",
        "marker": {
            "size": [round(x * marker_scale, 1) for x in props.get("size", [])],
            "color": list(props.get("color", [])),
            "opacity": 0.9,
        },
    }
