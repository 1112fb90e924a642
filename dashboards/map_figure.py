"""The live map as a plotly figure: devices + latest values + levels -> Figure (pure, no I/O).

One Scattermap trace per device layer with arrays (never one trace per device), units and
CAP warning areas as Choroplethmap traces, province outline and rivers as static line traces,
towns and points of interest as one marker trace, and every other stored layer (a province's
own zones, lines or points from `ioc layers import`) as one thin overlay trace.
Works with no internet: the base style is an inline MapLibre style with only a background
(plus raster tiles when a tile URL is configured), markers are circles, and there is no text
mode (text would need glyphs from a font server).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

from dashboards import classify
from dashboards.i18n import t
from ioc.domain.water_level import AlarmLevels
from ioc.live import LatestValue

MAP_BACKGROUND = "#0d151e"


@dataclass(frozen=True)
class MapDevice:
    """What the map needs of one registered device."""

    device_id: str
    family: str
    kind: str
    name: str
    lon: float
    lat: float
    unit_id: str | None = None
    expected_interval_s: int = 60
    alarm_levels: AlarmLevels | None = None
    capacity: float | None = None
    warning: Mapping[str, Any] | None = field(default=None, hash=False, compare=False)


@dataclass(frozen=True)
class LiveInputs:
    """Everything besides the registry that decides colours: live values and slow-moving state."""

    latest: Mapping[str, Mapping[str, LatestValue]]
    now: float
    unit_levels: Mapping[str, int] = field(default_factory=dict)
    incidents: Mapping[str, str] = field(default_factory=dict)  # device -> open incident label
    rain_24h: Mapping[str, float] = field(default_factory=dict)  # device -> mm in 24 h
    aqi: Mapping[str, int] = field(default_factory=dict)  # device -> hourly VN_AQI


@dataclass(frozen=True)
class DeviceLayer:
    key: str
    kinds: tuple[str, ...]
    size: int
    default_on: bool = True


DEVICE_LAYERS: tuple[DeviceLayer, ...] = (
    DeviceLayer("water", ("water_level",), 16),
    DeviceLayer("rain", ("rain_gauge",), 11),
    DeviceLayer("landslide", ("landslide",), 11),
    DeviceLayer("aqi", ("air_quality",), 15),
    DeviceLayer("cameras", ("camera",), 11),
    DeviceLayer("tourism", ("visitor_counter",), 15),
    DeviceLayer("other", ("weather", "accommodation"), 9, default_on=False),
)
# Trace order (fixed, so patches can address traces by index): areas first, then the static
# overlays, towns and places, the selection halo, and the device layers on top. Each toggle is
# exactly one trace (the ops page flips `visible` on TRACE_INDEX[toggle]). The province outline
# and the rivers are not traces but layers of the map's style (`line_layers`): Plotly redraws
# every trace on each live update, and each trace costs the browser a redraw (measured).
TRACE_ORDER: tuple[str, ...] = (
    "units",
    "cap",
    "overlays",
    "places",
    "selected",
    *(layer.key for layer in DEVICE_LAYERS),
)
TRACE_INDEX = {key: i for i, key in enumerate(TRACE_ORDER)}
TOGGLE_LAYERS: tuple[str, ...] = (
    "units",
    "cap",
    "places",
    "overlays",
    *(layer.key for layer in DEVICE_LAYERS),
)
DEFAULT_LAYERS: tuple[str, ...] = (
    "units",
    "cap",
    "places",
    "overlays",
    *(layer.key for layer in DEVICE_LAYERS if layer.default_on),
)
# Towns and points of interest: quiet markers under the devices, told apart by colour only.
TOWN_COLOUR = "#dfe7f0"
POI_COLOUR = "#b48cf2"
PLACE_SIZE = {"town": 9, "poi": 7}
OVERLAY_COLOUR = "#e0a84a"
_LAYER_OF_KIND = {kind: layer.key for layer in DEVICE_LAYERS for kind in layer.kinds}

# Legend per layer: (class key, colour). Labels are i18n keys `legend.<layer>.<class>`.
LEGENDS: dict[str, tuple[tuple[str, str], ...]] = {
    "units": tuple((f"level_{i}", classify.DISASTER_LEVEL_COLOURS[i]) for i in range(1, 6)),
    "cap": tuple((s, classify.SEVERITY_COLOURS[s]) for s in ("extreme", "severe", "moderate")),
    "water": tuple((f"level_{i}", c) for i, c in enumerate(classify.WATER_COLOURS)),
    "rain": tuple((key, colour) for _u, key, colour in classify.RAIN_CLASSES),
    "landslide": tuple(classify.LANDSLIDE_COLOURS.items()),
    "aqi": tuple((key, colour) for _u, key, colour in classify.AQI_CLASSES),
    "cameras": tuple(classify.CAMERA_COLOURS.items()),
    "tourism": tuple((key, colour) for _u, key, colour in classify.OCCUPANCY_CLASSES),
    "other": (("station", classify.OTHER_COLOUR),),
    "places": (("town", TOWN_COLOUR), ("poi", POI_COLOUR)),
    "overlays": (("feature", OVERLAY_COLOUR),),
}


def layer_of(device: MapDevice) -> str:
    return _LAYER_OF_KIND.get(device.kind, "other")


def layer_rows(devices: Iterable[MapDevice]) -> dict[str, list[MapDevice]]:
    """Devices per layer, in a stable order (the order of the trace arrays)."""
    rows: dict[str, list[MapDevice]] = {layer.key: [] for layer in DEVICE_LAYERS}
    for d in sorted(devices, key=lambda d: d.device_id):
        rows[layer_of(d)].append(d)
    return rows


# -- one device: colour and hover text -------------------------------------------------------
def ui_label(prefix: str, value: str, lang: str) -> str:
    """The UI text of `prefix.value`, or the value itself when there is none."""
    text = t(f"{prefix}.{value}", lang)
    return value if text == f"{prefix}.{value}" else text


def _num(values: Mapping[str, LatestValue], metric: str) -> float | None:
    item = values.get(metric)
    if item is None or isinstance(item.value, bool) or not isinstance(item.value, int | float):
        return None
    return float(item.value)


def _fmt(x: float | None, digits: int = 1, lang: str = "vi") -> str:
    if x is None:
        return "–"
    text = f"{x:,.{digits}f}"
    if lang == "vi":  # 1.234,5
        text = text.replace(",", "\x00").replace(".", ",").replace("\x00", ".")
    return text


def clock(ts: float | None, tz: ZoneInfo, with_date: bool = False) -> str:
    if ts is None:
        return "–"
    stamp = dt.datetime.fromtimestamp(ts, tz)
    return stamp.strftime("%H:%M:%S %d/%m" if with_date else "%H:%M:%S")


def last_seen_of(values: Mapping[str, LatestValue]) -> float | None:
    return max((v.time for v in values.values()), default=None)


def render_device(
    device: MapDevice,
    values: Mapping[str, LatestValue],
    live: LiveInputs,
    lang: str,
    tz: ZoneInfo,
) -> tuple[str, str]:
    """(marker colour, hover text) of one device from its newest values."""
    layer = layer_of(device)
    lines: list[str]
    if layer == "aqi":
        aqi = live.aqi.get(device.device_id)
        shown = str(aqi)
        if aqi is None:  # no hourly index yet: an indicative one from the newest values
            aqi = classify.live_aqi({m: v.value for m, v in values.items()})
            shown = "–" if aqi is None else f"≈{aqi}"
        cls = classify.aqi_class(aqi)
        lines = [
            f"VN_AQI {shown} · {t('legend.aqi.' + cls.key, lang)}",
            f"PM2.5 {_fmt(_num(values, 'pm25'), 0, lang)} · PM10 {_fmt(_num(values, 'pm10'), 0, lang)}"
            " µg/m³",
        ]
    elif layer == "water":
        level_m = _num(values, "water_level_m")
        cls, _alarm = classify.water_class(level_m, device.alarm_levels)
        lines = [
            f"{t('map.water_level', lang)} {_fmt(level_m, 2, lang)} m · "
            f"{t('legend.water.' + cls.key, lang)}"
        ]
        if device.alarm_levels is not None:
            a = device.alarm_levels
            lines.append(
                f"{t('map.alarm_levels', lang)} I {_fmt(a.level_1, 1, lang)} · "
                f"II {_fmt(a.level_2, 1, lang)} · III {_fmt(a.level_3, 1, lang)} m"
            )
    elif layer == "rain":
        mm = live.rain_24h.get(device.device_id)
        cls = classify.rain_class(mm if mm is not None or not values else 0.0)
        lines = [
            f"{t('map.rain_24h', lang)} {_fmt(mm, 1, lang)} mm · "
            f"{t('legend.rain.' + cls.key, lang)}"
        ]
    elif layer == "cameras":
        incident = live.incidents.get(device.device_id)
        cls = classify.camera_class(incident)
        lines = [
            t("map.incident", lang) + ": " + ui_label("incident", incident, lang)
            if incident
            else t("legend.cameras.clear", lang)
        ]
        people = _num(values, "people_count")
        if people is not None:
            lines.append(f"{t('map.people', lang)} {_fmt(people, 0, lang)}")
    elif layer == "tourism":
        occupancy = _num(values, "occupancy")
        cls, ratio = classify.occupancy_class(occupancy, device.capacity)
        lines = [
            f"{t('map.occupancy', lang)} {_fmt(occupancy, 0, lang)} / "
            f"{_fmt(device.capacity, 0, lang)}" + (f" ({ratio:.0%})" if ratio is not None else "")
        ]
    elif layer == "landslide":
        cls = classify.landslide_class({m: v.value for m, v in values.items()}, device.warning)
        lines = [
            f"{t('legend.landslide.' + cls.key, lang)} · "
            f"{t('map.soil', lang)} {_fmt(_num(values, 'soil_moisture_pct'), 0, lang)} % · "
            f"{t('map.tilt', lang)} {_fmt(_num(values, 'tilt_deg'), 2, lang)}°"
        ]
    else:
        cls = classify.Classed("station", classify.OTHER_COLOUR if values else classify.NO_DATA)
        shown = [
            f"{m} {_fmt(_num(values, m), 1, lang)}"
            for m in ("temperature", "humidity", "wind_speed", "checkins")
            if m in values
        ]
        lines = [" · ".join(shown[:3]) or ui_label("kind", device.kind, lang)]
    seen = last_seen_of(values)
    colour = cls.colour
    if not values:
        colour = classify.NO_DATA
        lines = [t("map.no_data", lang)]
    elif classify.is_silent(seen, device.expected_interval_s, live.now):
        colour = classify.SILENT
        lines.insert(0, "⚠ " + t("map.silent_since", lang, time=clock(seen, tz, with_date=True)))
    head = f"<b>{device.name}</b>"
    foot = f"{ui_label('kind', device.kind, lang)} · {clock(seen, tz)}"
    return colour, "<br>".join([head, *lines, foot])


# -- areas -------------------------------------------------------------------------------------
def unit_ids(units: Mapping[str, Any]) -> list[str]:
    return [str(f["properties"]["id"]) for f in units.get("features", [])]


def unit_arrays(
    units: Mapping[str, Any], levels: Mapping[str, int], lang: str
) -> tuple[list[int], list[str]]:
    """(level per unit, hover text per unit) in the order of the unit features."""
    z, text = [], []
    for f in units.get("features", []):
        props = f["properties"]
        level = int(levels.get(str(props["id"]), 0))
        name = props.get("name_en") if lang == "en" and props.get("name_en") else props.get("name")
        lines = [
            f"<b>{name}</b>",
            t("map.disaster_level", lang) + ": " + (str(level) if level else "–"),
        ]
        if props.get("approximate"):
            lines.append(t("map.approximate_boundary", lang))
        z.append(level)
        text.append("<br>".join(lines))
    return z, text


@dataclass(frozen=True)
class WarningArea:
    """One area of an active CAP warning, as GeoJSON geometry (lon, lat)."""

    area_id: str
    severity: str  # CAP word in lower case: extreme, severe, moderate, minor, unknown
    headline: str
    area_desc: str
    expires: str | None
    geometry: Mapping[str, Any] = field(hash=False, compare=False)


def circle_ring(lon: float, lat: float, radius_km: float, points: int = 48) -> list[list[float]]:
    """A closed polygon ring approximating a CAP circle (good to well under 1 % here)."""
    ring = []
    for i in range(points + 1):
        a = 2 * math.pi * (i % points) / points
        dlat = radius_km / 111.32 * math.sin(a)
        dlon = radius_km / (111.32 * max(0.01, math.cos(math.radians(lat)))) * math.cos(a)
        ring.append([round(lon + dlon, 6), round(lat + dlat, 6)])
    return ring


def cap_arrays(areas: Sequence[WarningArea], lang: str, tz: ZoneInfo) -> dict[str, Any]:
    """Choroplethmap properties for the CAP warning areas."""
    rank = {"minor": 1, "moderate": 2, "severe": 3, "extreme": 4}
    features = [
        {"type": "Feature", "id": a.area_id, "properties": {}, "geometry": dict(a.geometry)}
        for a in areas
    ]
    text = []
    for a in areas:
        lines = [f"<b>{a.headline or t('map.cap_warning', lang)}</b>", a.area_desc]
        if a.expires:
            lines.append(t("map.expires", lang) + " " + a.expires)
        text.append("<br>".join(x for x in lines if x))
    return {
        "geojson": {"type": "FeatureCollection", "features": features},
        "locations": [a.area_id for a in areas],
        "z": [rank.get(a.severity, 1) for a in areas],
        "hovertext": text,
    }


# CAP severity rank 1..4 (minor .. extreme) on zmin=0.5, zmax=4.5: one band of colour each.
_CAP_SCALE = [
    [0.0, "rgba(74,168,255,0.25)"],
    [0.25, "rgba(74,168,255,0.25)"],
    [0.25, "rgba(255,210,31,0.30)"],
    [0.5, "rgba(255,210,31,0.30)"],
    [0.5, "rgba(255,138,0,0.35)"],
    [0.75, "rgba(255,138,0,0.35)"],
    [0.75, "rgba(255,45,45,0.40)"],
    [1.0, "rgba(255,45,45,0.40)"],
]


def _unit_scale() -> list[list[Any]]:
    """Units filled opaque in exactly the legend's colours (LEGENDS["units"], ioc.palette);
    level 0 (no declared risk) almost transparent, so the base map shows through."""
    scale = []
    for level, colour in enumerate(classify.DISASTER_LEVEL_COLOURS):
        lo, hi = max(0.0, (level - 0.5) / 5), min(1.0, (level + 0.5) / 5)
        scale += [[lo, colour], [hi, colour]]
    return scale


# -- base geometry -----------------------------------------------------------------------------
def _no_features() -> dict[str, Any]:
    return {"type": "FeatureCollection", "features": []}


@dataclass(frozen=True)
class BaseGeometry:
    """The static layers: unit polygons (coloured by level), outline, rivers, towns, points
    of interest, and `overlays`: every other stored layer as (layer name, FeatureCollection)."""

    units: Mapping[str, Any] = field(hash=False, compare=False)
    province: Mapping[str, Any] = field(hash=False, compare=False)
    rivers: Mapping[str, Any] = field(hash=False, compare=False)
    towns: Mapping[str, Any] = field(hash=False, compare=False)
    poi: Mapping[str, Any] = field(default_factory=_no_features, hash=False, compare=False)
    overlays: tuple[tuple[str, Mapping[str, Any]], ...] = field(
        default=(), hash=False, compare=False
    )
    # The units before 1 July 2025 (never drawn): names for data still keyed by them.
    history: Mapping[str, Any] = field(default_factory=_no_features, hash=False, compare=False)
    # Static traces per language, built once per geometry (the geometry is cached for minutes).
    _static: dict[Any, Any] = field(
        default_factory=dict, init=False, repr=False, hash=False, compare=False
    )

    def static_traces(self, lang: str) -> dict[str, dict[str, Any]]:
        """The places and overlays traces in `lang` (shared: do not mutate)."""
        traces = self._static.get(lang)
        if traces is None:
            traces = self._static[lang] = _static_traces(self, lang)
        return traces

    def labels(self, lang: str) -> dict[str, Any]:
        """The unit and town label points in `lang` (shared: do not mutate)."""
        key = f"labels:{lang}"
        cached = self._static.get(key)
        if cached is None:
            cached = self._static[key] = label_points(self, lang)
        return cached

    def style(self, base: MapBase | None, labels: Mapping[str, Any] | None,
              label_scale: float) -> dict[str, Any]:
        """The map's style with this geometry's outline and rivers, cached per base map,
        labels (cached per language above) and scale: its digest runs over the lines."""
        key = ("style", base, id(labels), label_scale)
        cached = self._static.get(key)
        if cached is None or cached[0] is not labels:
            if len(self._static) > 64:  # a few bases, languages and scales; never grows
                self._static.clear()
            cached = self._static[key] = (labels, map_style(base, labels, label_scale,
                                                            line_layers(self)))
        return cached[1]

    def bbox(self) -> tuple[float, float, float, float]:
        xs, ys = [], []
        source = self.province if self.province.get("features") else self.units
        for f in source.get("features", []):
            for x, y in _coords(f["geometry"]):
                xs.append(x)
                ys.append(y)
        if not xs:
            return (103.5, 21.8, 104.75, 22.9)
        return (min(xs), min(ys), max(xs), max(ys))


def _coords(geometry: Mapping[str, Any]) -> Iterable[tuple[float, float]]:
    kind, coords = geometry.get("type"), geometry.get("coordinates", [])
    if kind == "Point":
        yield coords[0], coords[1]
    elif kind in ("LineString", "MultiPoint"):
        yield from ((c[0], c[1]) for c in coords)
    elif kind in ("Polygon", "MultiLineString"):
        for ring in coords:
            yield from ((c[0], c[1]) for c in ring)
    elif kind == "MultiPolygon":
        for poly in coords:
            for ring in poly:
                yield from ((c[0], c[1]) for c in ring)


# The province outline and the rivers: style layers above the unit fills and the warning
# areas (whose trace layers go below LABEL_ANCHOR), under the labels and the devices.
OUTLINE_PAINT = {"line-color": "#7d93ab", "line-width": 2}
RIVER_PAINT = {"line-color": "#2f8fe8", "line-width": 2.5}


def line_layers(geo: BaseGeometry) -> dict[str, tuple[Mapping[str, Any], dict[str, Any]]]:
    """Source id -> (FeatureCollection, line paint) of the outline and the rivers (pure)."""
    return {"ioc-outline": (geo.province, OUTLINE_PAINT), "ioc-rivers": (geo.rivers, RIVER_PAINT)}


# -- towns, points of interest and imported layers ---------------------------------------------
_APPROXIMATE_KEY = {
    "Point": "map.approximate_location",
    "MultiPoint": "map.approximate_location",
    "LineString": "map.approximate_course",
    "MultiLineString": "map.approximate_course",
}


def feature_label(feature: Mapping[str, Any], lang: str, *, kind_prefix: str | None = None) -> str:
    """Hover text of one layer feature: its name in `lang`, what it is, and, when the data
    marks it approximate, "(approximate location|course|boundary)" in `lang`."""
    props = feature.get("properties") or {}
    name = (props.get("name_en") if lang == "en" else None) or props.get("name") or props.get("id")
    lines = [f"<b>{name}</b>"]
    kind = props.get("kind")
    if kind_prefix and isinstance(kind, str) and kind:
        lines.append(ui_label(kind_prefix, kind, lang))
    if _is_true(props.get("approximate")):
        geometry_type = (feature.get("geometry") or {}).get("type")
        lines.append(t(_APPROXIMATE_KEY.get(geometry_type, "map.approximate_boundary"), lang))
    return "<br>".join(lines)


def _is_true(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in ("true", "yes", "1", "y", "t")
    return value is True or value == 1


def _points(features: Iterable[Mapping[str, Any]]) -> Iterable[tuple[Mapping[str, Any], list]]:
    """(feature, [lon, lat]) for each point of the Point and MultiPoint features."""
    for f in features:
        g = f.get("geometry") or {}
        if g.get("type") == "Point":
            yield f, g["coordinates"]
        elif g.get("type") == "MultiPoint":
            for c in g["coordinates"]:
                yield f, c


def place_arrays(
    towns: Mapping[str, Any], poi: Mapping[str, Any], lang: str
) -> dict[str, list[Any]]:
    """lon, lat, colour, size and hover text of towns then points of interest (pure)."""
    out: dict[str, list[Any]] = {"lon": [], "lat": [], "color": [], "size": [], "hovertext": []}
    for group, fc, colour in (("town", towns, TOWN_COLOUR), ("poi", poi, POI_COLOUR)):
        for f, c in _points(fc.get("features", [])):
            out["lon"].append(c[0])
            out["lat"].append(c[1])
            out["color"].append(colour)
            out["size"].append(PLACE_SIZE[group])
            out["hovertext"].append(feature_label(f, lang, kind_prefix="place"))
    return out


def overlay_arrays(
    overlays: Sequence[tuple[str, Mapping[str, Any]]], lang: str
) -> dict[str, list[Any]]:
    """All imported layers as one lines+markers array set (pure): lines and polygon rings as
    line parts separated by None (their vertices as invisible hover points), points as markers.
    Each point's hover text is its feature's label and layer name."""
    lon: list[float | None] = []
    lat: list[float | None] = []
    size: list[float] = []
    text: list[str] = []

    def add(c, s: float, label: str) -> None:
        lon.append(c[0])
        lat.append(c[1])
        size.append(s)
        text.append(label)

    def gap() -> None:
        lon.append(None)
        lat.append(None)
        size.append(0)
        text.append("")

    for layer_name, fc in overlays:
        for f in fc.get("features", []):
            g = f.get("geometry") or {}
            label = feature_label(f, lang) + f"<br><i>{layer_name}</i>"
            kind, coords = g.get("type"), g.get("coordinates") or []
            if kind == "Point":
                add(coords, 8, label)
                gap()
                continue
            parts: list = []
            if kind == "MultiPoint":
                for c in coords:
                    add(c, 8, label)
                    gap()
            elif kind == "LineString":
                parts = [coords]
            elif kind in ("MultiLineString", "Polygon"):
                parts = list(coords)
            elif kind == "MultiPolygon":
                parts = [ring for poly in coords for ring in poly]
            for part in parts:
                for c in part:
                    add(c, 0, label)
                gap()
    return {"lon": lon, "lat": lat, "size": size, "hovertext": text}


def _static_traces(geo: BaseGeometry, lang: str) -> dict[str, dict[str, Any]]:
    traces: dict[str, dict[str, Any]] = {}
    overlay = overlay_arrays(geo.overlays, lang)
    traces["overlays"] = {
        "type": "scattermap",
        "name": "overlays",
        "lon": overlay["lon"],
        "lat": overlay["lat"],
        "mode": "lines+markers",
        "hovertext": overlay["hovertext"],
        "hoverinfo": "text",
        "line": {"color": OVERLAY_COLOUR, "width": 1.2},
        "marker": {"size": overlay["size"], "color": OVERLAY_COLOUR},
        "connectgaps": False,
    }
    places = place_arrays(geo.towns, geo.poi, lang)
    traces["places"] = {
        "type": "scattermap",
        "name": "places",
        "lon": places["lon"],
        "lat": places["lat"],
        "mode": "markers",
        "hovertext": places["hovertext"],
        "hoverinfo": "text",
        # no customdata: a click on a place must not select it as a device
        "marker": {"size": places["size"], "color": places["color"], "opacity": 0.9},
    }
    return traces


def fit_view(
    bbox: tuple[float, float, float, float], width_px: float, height_px: float
) -> tuple[dict[str, float], float]:
    """(centre, zoom) showing the whole bbox in a map of the given size (Web Mercator, 512 px)."""
    lon0, lat0, lon1, lat1 = bbox

    def merc(lat: float) -> float:
        return math.log(math.tan(math.pi / 4 + math.radians(lat) / 2))

    centre = {
        "lon": (lon0 + lon1) / 2,
        "lat": math.degrees(2 * math.atan(math.exp((merc(lat0) + merc(lat1)) / 2)) - math.pi / 2),
    }
    zoom_x = math.log2(width_px * 360 / (512 * max(1e-6, lon1 - lon0)))
    zoom_y = math.log2(height_px * 2 * math.pi / (512 * max(1e-9, merc(lat1) - merc(lat0))))
    return centre, round(min(zoom_x, zoom_y) - 0.1, 2)


@dataclass(frozen=True)
class MapBase:
    """Where the map's base layers come from (dashboards/base_map.py builds it per request).

    `tiles`: an XYZ URL template of raster or (`vector`) Mapbox Vector tiles, ioc's own
    /tiles/ for a province's file or a province's tile server; `glyphs`: the URL template of
    label glyphs (ioc's own /map-glyphs/), None when no font is available (no labels).
    """

    tiles: str | None = None
    vector: bool = False
    minzoom: int = 0
    maxzoom: int = 22
    bounds: tuple[float, float, float, float] | None = None
    attribution: str = ""
    glyphs: str | None = None
    own_file: bool = False  # the tiles are a province's file served by ioc (drawn undimmed)


# The area, place and overlay traces are drawn below this (empty) layer (`below`); the outline,
# rivers and labels are style layers above it, the device markers above everything.
LABEL_ANCHOR = "ioc-labels"
LABEL_HALO = "#0a1118"


def label_points(geo: BaseGeometry, lang: str) -> dict[str, Any]:
    """Unit and town label points (pure): name, short name, kind (unit|town) and rank
    (0: the administrative centre, 1: other towns and the largest units, 2: the rest)."""
    features = []
    units = geo.units.get("features", [])
    by_area = sorted(
        (float(f["properties"].get("area_km2") or 0) for f in units), reverse=True
    )
    big = by_area[min(len(by_area), 24) - 1] if by_area else 0.0
    town_names = {
        (f.get("properties") or {}).get("name_en" if lang == "en" else "name")
        for f in geo.towns.get("features", [])
    }
    for f in units:
        props = f["properties"]
        centre = props.get("centre")
        if not (isinstance(centre, list | tuple) and len(centre) == 2):
            centre = _centroid(f.get("geometry") or {})
        if centre is None:
            continue
        name = (props.get("name_en") if lang == "en" else None) or props.get("name") or ""
        short = (props.get("name_en") if lang == "en" else props.get("short_name")) or name
        area = float(props.get("area_km2") or 0)
        if short in town_names:
            continue  # the town's label says it ("Sa Pa" twice side by side says nothing)
        features.append({
            "type": "Feature",
            "geometry": {"type": "Point", "coordinates": [centre[0], centre[1]]},
            "properties": {"name": name, "short": short, "kind": "unit",
                           "rank": 1 if area >= big else 2, "area": area},
        })
    for f, c in _points(geo.towns.get("features", [])):
        props = f.get("properties") or {}
        name = (props.get("name_en") if lang == "en" else None) or props.get("name") or ""
        rank = 0 if props.get("kind") == "administrative_centre" else 1
        features.append({
            "type": "Feature",
            "geometry": {"type": "Point", "coordinates": [c[0], c[1]]},
            "properties": {"name": name, "short": name, "kind": "town", "rank": rank,
                           "area": 0.0},
        })
    return {"type": "FeatureCollection", "features": features}


def _centroid(geometry: Mapping[str, Any]) -> tuple[float, float] | None:
    pts = list(_coords(geometry))
    if not pts:
        return None
    return sum(p[0] for p in pts) / len(pts), sum(p[1] for p in pts) / len(pts)


# Zoom at which every unit gets its label (below it only the largest units and the towns);
# the full name ("Phường Sa Pa") from UNIT_FULL_NAME_ZOOM, the short one ("Sa Pa") before.
UNIT_ALL_LABELS_ZOOM = 9.0
UNIT_FULL_NAME_ZOOM = 10.5


def label_layers(font: str, bold_font: str, scale: float = 1.0) -> list[dict[str, Any]]:
    """MapLibre symbol layers of the `ioc-labels` source: towns above units, the largest
    units from zoom 7, every unit from UNIT_ALL_LABELS_ZOOM; MapLibre drops a label that
    would overlap one already placed (towns first, then larger units first)."""

    def size(lo: float, hi: float) -> list:
        return ["interpolate", ["linear"], ["zoom"], 7, lo * scale, 12, hi * scale]

    unit_text = ["step", ["zoom"], ["get", "short"], UNIT_FULL_NAME_ZOOM, ["get", "name"]]
    unit_layout = {
        "text-field": unit_text,
        "text-font": [font],
        "text-size": size(12, 17),
        "text-max-width": 7,
        "text-padding": 3,
        "symbol-sort-key": ["-", ["get", "area"]],
    }
    unit_paint = {"text-color": "#e4eef8", "text-halo-color": LABEL_HALO,
                  "text-halo-width": 1.8, "text-halo-blur": 0.3}
    return [
        {"id": "ioc-labels-units", "type": "symbol", "source": "ioc-labels",
         "minzoom": UNIT_ALL_LABELS_ZOOM,
         "filter": ["all", ["==", ["get", "kind"], "unit"], ["==", ["get", "rank"], 2]],
         "layout": unit_layout, "paint": unit_paint},
        {"id": "ioc-labels-units-large", "type": "symbol", "source": "ioc-labels",
         "minzoom": 7,
         "filter": ["all", ["==", ["get", "kind"], "unit"], ["==", ["get", "rank"], 1]],
         "layout": unit_layout, "paint": unit_paint},
        {"id": "ioc-labels-towns", "type": "symbol", "source": "ioc-labels",
         "filter": ["==", ["get", "kind"], "town"],
         "layout": {
             "text-field": ["get", "name"],
             "text-font": [bold_font],
             "text-size": ["interpolate", ["linear"], ["zoom"], 7, 14 * scale, 12, 20 * scale],
             "text-anchor": "top",
             "text-offset": [0, 0.55],
             "text-padding": 4,
             "symbol-sort-key": ["get", "rank"],
         },
         "paint": {"text-color": "#ffffff", "text-halo-color": LABEL_HALO,
                   "text-halo-width": 2.2, "text-halo-blur": 0.3}},
    ]


def _vector_layers() -> list[dict[str, Any]]:
    """A dark style for vector tiles of the OpenMapTiles schema (planetiler, tilemaker) and
    of the Protomaps basemap schema; layers whose source layer is absent draw nothing."""

    def line(id_, layer, colour, widths, filt=None, minzoom=0, dash=None):
        out = {"id": id_, "type": "line", "source": "basemap", "source-layer": layer,
               "minzoom": minzoom,
               "layout": {"line-cap": "round", "line-join": "round"},
               "paint": {"line-color": colour,
                         "line-width": ["interpolate", ["linear"], ["zoom"], *widths]}}
        if filt is not None:
            out["filter"] = filt
        if dash:
            out["paint"]["line-dasharray"] = dash
        return out

    def fill(id_, layer, colour, filt=None, minzoom=0):
        out = {"id": id_, "type": "fill", "source": "basemap", "source-layer": layer,
               "minzoom": minzoom, "paint": {"fill-color": colour}}
        if filt is not None:
            out["filter"] = filt
        return out

    major = ["match", ["get", "class"], ["motorway", "trunk", "primary"], True, False]
    pm_major = ["match", ["get", "kind"], ["highway", "major_road"], True, False]
    return [
        # OpenMapTiles
        fill("omt-landcover-wood", "landcover", "#14231b",
             ["match", ["get", "class"], ["wood", "forest"], True, False]),
        fill("omt-landuse", "landuse", "#1a2029",
             ["match", ["get", "class"], ["residential", "suburb", "neighbourhood"], True,
              False]),
        fill("omt-park", "park", "#15261d"),
        fill("omt-water", "water", "#0f3550"),
        line("omt-waterway", "waterway", "#1f5f8f", [8, 0.6, 14, 2.5]),
        line("omt-boundary", "boundary", "#6d7f93", [6, 0.8, 12, 1.6],
             ["<=", ["get", "admin_level"], 4], dash=[3, 2]),
        line("omt-road-minor", "transportation", "#47505c", [10, 0.4, 15, 3],
             ["!", major], minzoom=10),
        line("omt-road-major", "transportation", "#b89555", [6, 0.8, 14, 4.5], major),
        fill("omt-building", "building", "#222c38", minzoom=13),
        # Protomaps basemap
        fill("pm-landuse", "landuse", "#15231b",
             ["match", ["get", "kind"], ["wood", "forest", "park"], True, False]),
        fill("pm-water", "water", "#0f3550"),
        line("pm-boundary", "boundaries", "#6d7f93", [6, 0.8, 12, 1.6], dash=[3, 2]),
        line("pm-road-minor", "roads", "#47505c", [10, 0.4, 15, 3], ["!", pm_major],
             minzoom=10),
        line("pm-road-major", "roads", "#b89555", [6, 0.8, 14, 4.5], pm_major),
        fill("pm-building", "buildings", "#222c38", minzoom=13),
    ]


def _vector_label_layers(font: str, scale: float) -> list[dict[str, Any]]:
    """Place and road names of the vector tiles (under ioc's own labels)."""
    paint = {"text-color": "#a9b8c7", "text-halo-color": LABEL_HALO, "text-halo-width": 1.5}
    name = ["coalesce", ["get", "name:vi"], ["get", "name"]]
    return [
        {"id": "omt-road-name", "type": "symbol", "source": "basemap",
         "source-layer": "transportation_name", "minzoom": 12,
         "layout": {"text-field": name, "text-font": [font], "text-size": 12 * scale,
                    "symbol-placement": "line"}, "paint": paint},
        {"id": "omt-place", "type": "symbol", "source": "basemap", "source-layer": "place",
         "minzoom": 11,
         "filter": ["match", ["get", "class"], ["village", "hamlet", "suburb"], True, False],
         "layout": {"text-field": name, "text-font": [font], "text-size": 12 * scale},
         "paint": paint},
        {"id": "pm-place", "type": "symbol", "source": "basemap", "source-layer": "places",
         "minzoom": 11,
         "layout": {"text-field": name, "text-font": [font], "text-size": 12 * scale},
         "paint": paint},
    ]


def map_style(
    base: MapBase | str | None = None,
    labels: Mapping[str, Any] | None = None,
    label_scale: float = 1.0,
    lines: Mapping[str, tuple[Mapping[str, Any], Mapping[str, Any]]] | None = None,
) -> dict[str, Any]:
    """An inline MapLibre style: a dark background, the base map's tiles when there are any
    (raster, or vector drawn with a dark style), `lines` (source id -> FeatureCollection and
    line paint: the outline and rivers) above the anchor the area traces go under, and the
    unit and town labels.

    Inline, so nothing is fetched unless a base map or labels are configured, and then only
    from ioc itself (or the province's own tile server); `base` as a plain string is a
    raster tile URL template.
    """
    from dashboards.map_glyphs import BOLD_FONT, FONT  # pure names, no font is read here

    if isinstance(base, str):
        base = MapBase(tiles=base)
    style: dict[str, Any] = {
        "version": 8,
        # A source that is never drawn: plotly drops an empty `sources` object when it
        # updates the map, and MapLibre then refuses the style ("missing sources").
        "sources": {
            "ioc-empty": {"type": "geojson", "data": {"type": "FeatureCollection", "features": []}}
        },
        "layers": [
            {
                "id": "background",
                "type": "background",
                "paint": {"background-color": MAP_BACKGROUND},
            }
        ],
    }
    glyphs = base.glyphs if base is not None else None
    if glyphs:
        style["glyphs"] = glyphs
    if base is not None and base.tiles:
        source: dict[str, Any] = {
            "type": "vector" if base.vector else "raster",
            "tiles": [base.tiles],
            "minzoom": base.minzoom,
            "maxzoom": base.maxzoom,
        }
        if not base.vector:
            source["tileSize"] = 256
        if base.bounds:
            source["bounds"] = list(base.bounds)
        if base.attribution:
            source["attribution"] = base.attribution
        style["sources"]["basemap"] = source
        if base.vector:
            style["layers"] += _vector_layers()
            if glyphs:
                style["layers"] += _vector_label_layers(FONT, label_scale)
        else:
            paint = ({"raster-opacity": 0.9} if base.own_file
                     else {"raster-opacity": 0.55, "raster-saturation": -0.6})
            style["layers"].append(
                {"id": "basemap", "type": "raster", "source": "basemap", "paint": paint}
            )
    # plotly puts the layers of a trace with `below: LABEL_ANCHOR` under this empty layer
    style["layers"].append({"id": LABEL_ANCHOR, "type": "line", "source": "ioc-empty",
                            "paint": {}})
    for source_id, (data, paint) in (lines or {}).items():
        style["sources"][source_id] = {"type": "geojson", "data": data}
        style["layers"].append({"id": source_id, "type": "line", "source": source_id,
                                "layout": {"line-join": "round"}, "paint": dict(paint)})
    if glyphs and labels is not None:
        style["sources"]["ioc-labels"] = {"type": "geojson", "data": labels}
        style["layers"] += label_layers(FONT, BOLD_FONT, label_scale)
    # plotly replaces the map's style only when its id changes: an id of the content, so a
    # new language (labels) or base map reaches a page that is already open
    digest = hashlib.sha1(json.dumps(style, sort_keys=True).encode()).hexdigest()[:12]
    return {"id": f"ioc-{digest}", **style}


# -- the figure ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class LayerArrays:
    """The per-point arrays of one device layer (what a patch replaces)."""

    colours: list[str]
    texts: list[str]


def device_arrays(
    rows: Sequence[MapDevice], live: LiveInputs, lang: str, tz: ZoneInfo
) -> LayerArrays:
    colours, texts = [], []
    for d in rows:
        c, h = render_device(d, live.latest.get(d.device_id, {}), live, lang, tz)
        colours.append(c)
        texts.append(h)
    return LayerArrays(colours, texts)


def build_map_figure(
    devices: Sequence[MapDevice],
    live: LiveInputs,
    geo: BaseGeometry,
    *,
    lang: str = "vi",
    tz: str = "Asia/Ho_Chi_Minh",
    visible: Iterable[str] = DEFAULT_LAYERS,
    warning_areas: Sequence[WarningArea] = (),
    selected: str | None = None,
    tile_url: str | None = None,
    base: MapBase | None = None,
    size_px: tuple[float, float] = (1180, 900),
    marker_scale: float = 1.0,
    revision: str = "ops",
    arrays: Mapping[str, LayerArrays] | None = None,
) -> dict[str, Any]:
    """The whole live map as a plotly figure dict (`go.Figure(result)` validates it).

    A dict rather than graph objects: plotly's validation of 5,000-point arrays costs
    hundreds of milliseconds and the browser does not need it. `arrays` may pass the device
    layers already rendered (in `layer_rows` order).
    """
    zone = ZoneInfo(tz)
    shown = set(visible)
    rows = layer_rows(devices)
    traces: list[dict[str, Any]] = []

    z, text = unit_arrays(geo.units, live.unit_levels, lang)
    traces.append(
        {
            "type": "choroplethmap",
            "name": "units",
            "geojson": geo.units,
            "featureidkey": "properties.id",
            "locations": unit_ids(geo.units),
            "z": z,
            "zmin": 0,
            "zmax": 5,
            "colorscale": _unit_scale(),
            "showscale": False,
            "hovertext": text,
            "hoverinfo": "text",
            "marker": {"line": {"color": "#5b7189", "width": 1.2}, "opacity": 1},
            "below": LABEL_ANCHOR,
            "visible": "units" in shown,
        }
    )
    cap = cap_arrays(warning_areas, lang, zone)
    traces.append(
        {
            "type": "choroplethmap",
            "name": "cap",
            **cap,
            "hoverinfo": "text",
            "zmin": 0.5,
            "zmax": 4.5,
            "colorscale": _CAP_SCALE,
            "showscale": False,
            "marker": {"line": {"color": "#ff6b6b", "width": 2.5}},
            "below": LABEL_ANCHOR,
            "visible": "cap" in shown,
        }
    )
    static = geo.static_traces(lang)
    for name in ("overlays", "places"):
        trace = dict(static[name])  # shallow: the arrays are shared, never changed in place
        trace["below"] = LABEL_ANCHOR  # under the unit and town labels
        if name in TOGGLE_LAYERS:
            trace["visible"] = name in shown
        if name == "places":
            trace["marker"] = {
                **trace["marker"],
                "size": [s * marker_scale for s in trace["marker"]["size"]],
            }
        traces.append(trace)
    sel = next((d for d in devices if d.device_id == selected), None)
    traces.append(
        {
            "type": "scattermap",
            "name": "selected",
            "lon": [sel.lon] if sel else [],
            "lat": [sel.lat] if sel else [],
            "mode": "markers",
            "hoverinfo": "skip",
            "marker": {"size": 34 * marker_scale, "color": "rgba(255,255,255,0.35)"},
        }
    )
    for layer in DEVICE_LAYERS:
        layer_devices = rows[layer.key]
        data = (arrays or {}).get(layer.key) or device_arrays(layer_devices, live, lang, zone)
        traces.append(
            {
                "type": "scattermap",
                "name": layer.key,
                "lon": [d.lon for d in layer_devices],
                "lat": [d.lat for d in layer_devices],
                "customdata": [d.device_id for d in layer_devices],
                "mode": "markers",
                "hovertext": list(data.texts),
                "hoverinfo": "text",
                "marker": {
                    "size": layer.size * marker_scale,
                    "color": list(data.colours),
                    "opacity": 0.95,
                },
                "visible": layer.key in shown,
            }
        )
    centre, zoom = fit_view(geo.bbox(), *size_px)
    if base is None and tile_url:
        base = MapBase(tiles=tile_url)
    labels = geo.labels(lang) if base is not None and base.glyphs else None
    layout = {
        "map": {"style": geo.style(base, labels, marker_scale), "center": centre, "zoom": zoom},
        "margin": {"l": 0, "r": 0, "t": 0, "b": 0},
        "paper_bgcolor": MAP_BACKGROUND,
        "showlegend": False,
        "uirevision": revision,
        "hoverlabel": {
            "font": {"size": 15, "family": "Noto Sans, DejaVu Sans, sans-serif"},
            "bgcolor": "#131c26",
            "bordercolor": "#4aa8ff",
        },
        "clickmode": "event",
        "dragmode": "pan",
    }
    return {"data": traces, "layout": layout}
