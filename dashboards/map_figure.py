"""The live map as a plotly figure: devices + latest values + levels -> Figure (pure, no I/O).

One Scattermap trace per device layer with arrays (never one trace per device), units and
CAP warning areas as Choroplethmap traces, towns and points of interest as one marker trace,
every other stored layer as one thin overlay trace (`map_geometry`). The province outline,
the rivers and the labels are layers of the inline MapLibre style (`map_style`): Plotly
redraws every trace on each live update, the style stays.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

from dashboards import classify
from dashboards.i18n import t
from dashboards.map_geometry import (
    OVERLAY_COLOUR,
    POI_COLOUR,
    TOWN_COLOUR,
    BaseGeometry,
    ui_label,
)
from dashboards.map_style import LABEL_ANCHOR, MAP_BACKGROUND, MapBase, fit_view
from ioc.domain.water_level import AlarmLevels
from ioc.live import LatestValue


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
