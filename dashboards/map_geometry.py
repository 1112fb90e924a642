"""The map's static geometry (pure): units, outline, rivers, towns, points of interest and the
imported layers (`BaseGeometry`), and what is drawn from them once per geometry and language:
the places and overlay traces, the unit and town label points, the style's line layers.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from dashboards.i18n import t
from dashboards.map_style import (
    OUTLINE_PAINT,
    RIVER_PAINT,
    MapBase,
    map_style,
)

# Towns and points of interest: quiet markers under the devices, told apart by colour only.
TOWN_COLOUR = "#dfe7f0"


POI_COLOUR = "#b48cf2"


PLACE_SIZE = {"town": 9, "poi": 7}


OVERLAY_COLOUR = "#e0a84a"


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


def ui_label(prefix: str, value: str, lang: str) -> str:
    """The UI text of `prefix.value`, or the value itself when there is none."""
    text = t(f"{prefix}.{value}", lang)
    return value if text == f"{prefix}.{value}" else text
