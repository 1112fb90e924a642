"""The live map's MapLibre style (pure): a dark background, the province's base map (raster or
vector tiles served by ioc, or a province's tile server), the province outline and rivers as
line layers, and the unit and town labels by zoom (glyphs served by ioc: dashboards.map_glyphs).

Inline, so a map with no base map fetches nothing; plotly replaces it only when its id (a
digest of the content) changes.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

MAP_BACKGROUND = "#0d151e"


# The province outline and the rivers: style layers above the unit fills and the warning
# areas (whose trace layers go below LABEL_ANCHOR), under the labels and the devices.
OUTLINE_PAINT = {"line-color": "#7d93ab", "line-width": 2}


RIVER_PAINT = {"line-color": "#2f8fe8", "line-width": 2.5}


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
