"""One palette (ioc/palette.py) for the legend, the map, the panel chart, the wall and the
alerts; opaque unit fills in exactly the legend's colours; labels by zoom; base map styles."""

from __future__ import annotations

import time

import pytest

from dashboards import classify
from dashboards.charts import day_chart
from dashboards.map_figure import (
    LEGENDS,
    TRACE_INDEX,
    LiveInputs,
    MapDevice,
    build_map_figure,
    render_device,
)
from dashboards.map_geometry import BaseGeometry, label_points
from dashboards.map_style import LABEL_ANCHOR, UNIT_ALL_LABELS_ZOOM, MapBase, map_style
from ioc import palette
from ioc.domain import aqi
from ioc.domain.disaster_levels import RISK_LEVELS
from ioc.live import LatestValue
from layers.catalog import demo_layers

NOW = time.time()
GLYPHS = "http://ioc.local/map-glyphs/{fontstack}/{range}.pbf"


@pytest.fixture(scope="module")
def geo() -> BaseGeometry:
    layers = demo_layers()
    return BaseGeometry(layers["units"], layers["province"], layers["rivers"], layers["towns"],
                        poi=layers["poi"])


def _colour_at(scale: list, level: int, levels: int = 5) -> str:
    """The colour a plotly colorscale gives to z = level on zmin 0, zmax `levels`."""
    x = level / levels
    for (lo, c_lo), (hi, _c_hi) in zip(scale[::2], scale[1::2], strict=True):
        if lo <= x <= hi:
            return c_lo
    raise AssertionError(f"no band for level {level}")


def test_unit_fills_are_opaque_and_exactly_the_legend_colours(geo):
    levels = {str(f["properties"]["id"]): 1 + i % 5 for i, f in enumerate(geo.units["features"])}
    fig = build_map_figure([], LiveInputs({}, NOW, unit_levels=levels), geo)
    units = fig["data"][TRACE_INDEX["units"]]
    assert units["marker"]["opacity"] == 1
    legend = dict(LEGENDS["units"])
    for level in range(1, 6):
        colour = _colour_at(units["colorscale"], level)
        assert colour == legend[f"level_{level}"] == palette.RISK_LEVEL_COLOURS[level]
        assert colour.startswith("#") and len(colour) == 7  # no alpha: no blending to khaki
        assert RISK_LEVELS[level].hex == colour  # what the alerts store and send
    assert _colour_at(units["colorscale"], 0).startswith("rgba(")  # no risk: see-through


def test_water_and_aqi_colours_are_one_palette_everywhere():
    assert [c for _k, c in LEGENDS["water"]] == list(palette.WATER_LEVEL_COLOURS)
    assert [c for _k, c in LEGENDS["aqi"]] == list(palette.AQI_COLOURS)
    assert [c.hex for c in aqi.CATEGORIES] == list(palette.AQI_COLOURS)
    # the map's marker of a station at alarm III is the legend's alarm III swatch
    station = MapDevice("wl", "disaster", "water_level", "Trạm", 104.0, 22.4,
                        alarm_levels=classify.alarm_levels_of({"alarm_levels": [80, 82, 83]}))
    values = {"water_level_m": LatestValue("wl", "water_level_m", 83.5, NOW)}
    colour, _text = render_device(station, values, LiveInputs({"wl": values}, NOW), "vi",
                                  __import__("zoneinfo").ZoneInfo("Asia/Ho_Chi_Minh"))
    assert colour == dict(LEGENDS["water"])["level_3"] == palette.WATER_LEVEL_COLOURS[3]
    # the panel's chart draws the alarm lines in the same colours
    chart = day_chart(station, "water_level_m", [], values["water_level_m"], "vi",
                      "Asia/Ho_Chi_Minh")
    lines = [s["line"]["color"] for s in chart.layout.shapes]
    assert lines == list(palette.WATER_LEVEL_COLOURS[1:])
    # the wall's rows and cards take the classes' colours (dashboards/wall_state.py)
    assert classify.water_class(83.5, station.alarm_levels)[0].colour == lines[-1]
    assert classify.aqi_class(120).colour == palette.AQI_COLOURS[2]


def test_label_points_rank_units_by_area_and_towns_first(geo):
    fc = label_points(geo, "vi")
    units = [f["properties"] for f in fc["features"] if f["properties"]["kind"] == "unit"]
    towns = [f["properties"] for f in fc["features"] if f["properties"]["kind"] == "town"]
    town_names = {f["properties"]["name"] for f in geo.towns["features"]}
    assert len(towns) == len(geo.towns["features"])
    # a unit named like a town ("Phường Sa Pa", the town Sa Pa) is labelled once, by the town
    twins = [f for f in geo.units["features"] if f["properties"]["short_name"] in town_names]
    assert 1 <= len(twins) <= 20 and len(units) == 99 - len(twins)
    assert not {u["short"] for u in units} & town_names
    large = [u for u in units if u["rank"] == 1]
    assert 15 <= len(large) <= 24  # the 24 largest, less those a town labels
    assert min(u["area"] for u in large) >= max(u["area"] for u in units if u["rank"] == 2)
    assert any(u["name"].startswith(("Phường ", "Xã ")) and u["short"] != u["name"]
               for u in units)
    assert [t["name"] for t in towns if t["rank"] == 0] == ["Yên Bái"]  # the admin centre
    en = label_points(geo, "en")
    assert {f["properties"]["name"] for f in en["features"]} != {u["name"] for u in units}


def test_labels_by_zoom_and_above_the_areas_below_the_markers(geo):
    base = MapBase(glyphs=GLYPHS)
    fig = build_map_figure([], LiveInputs({}, NOW), geo, base=base)
    style = fig["layout"]["map"]["style"]
    assert style["glyphs"] == GLYPHS
    layers = {x["id"]: x for x in style["layers"]}
    assert layers["ioc-labels-units"]["minzoom"] == UNIT_ALL_LABELS_ZOOM
    assert layers["ioc-labels-units-large"]["minzoom"] < UNIT_ALL_LABELS_ZOOM
    assert "minzoom" not in layers["ioc-labels-towns"]
    ids = [x["id"] for x in style["layers"]]
    # towns placed first (the top layer wins a collision), then the large units, then the rest
    assert ids.index("ioc-labels-towns") > ids.index("ioc-labels-units-large") > ids.index(
        "ioc-labels-units") > ids.index(LABEL_ANCHOR)
    assert all("text-allow-overlap" not in x.get("layout", {}) for x in style["layers"])
    assert style["sources"]["ioc-labels"]["data"] == label_points(geo, "vi")
    for name in ("units", "cap", "places", "overlays"):
        assert fig["data"][TRACE_INDEX[name]]["below"] == LABEL_ANCHOR
    # the outline and rivers: style layers over the unit fills (traces under the anchor) and
    # under the labels
    assert ids.index(LABEL_ANCHOR) < ids.index("ioc-outline") < ids.index("ioc-rivers") < ids.index(
        "ioc-labels-units")
    assert style["sources"]["ioc-rivers"]["data"] is geo.rivers
    assert "below" not in fig["data"][TRACE_INDEX["water"]]  # markers stay on top


def test_no_font_no_labels_and_nothing_to_fetch(geo):
    fig = build_map_figure([], LiveInputs({}, NOW), geo, base=MapBase())
    style = fig["layout"]["map"]["style"]
    assert "glyphs" not in style and "ioc-labels" not in style["sources"]
    # the `below` target, then the outline and the rivers
    assert [x["id"] for x in style["layers"]] == ["background", LABEL_ANCHOR, "ioc-outline",
                                                  "ioc-rivers"]


def test_raster_and_vector_base_map_styles():
    raster = map_style(MapBase(tiles="http://ioc.local/tiles/{z}/{x}/{y}.png?v=1", maxzoom=12,
                               attribution="© OpenStreetMap contributors", own_file=True))
    src = raster["sources"]["basemap"]
    assert src["type"] == "raster" and src["maxzoom"] == 12 and src["tileSize"] == 256
    assert src["attribution"] == "© OpenStreetMap contributors"
    assert [x["id"] for x in raster["layers"]][:2] == ["background", "basemap"]
    vector = map_style(MapBase(tiles="http://ioc.local/tiles/{z}/{x}/{y}.pbf", vector=True,
                               glyphs=GLYPHS), labels={"type": "FeatureCollection",
                                                       "features": []})
    assert vector["sources"]["basemap"]["type"] == "vector"
    layers = {x.get("source-layer") for x in vector["layers"] if x.get("source") == "basemap"}
    assert {"water", "transportation", "boundary", "place", "roads"} <= layers
    ids = [x["id"] for x in vector["layers"]]
    assert ids.index("omt-place") < ids.index(LABEL_ANCHOR) < ids.index("ioc-labels-towns")
