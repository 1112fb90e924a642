"""The live map figure builder (pure): one trace per layer, colours from the latest values,
offline base style, CAP warning areas."""

from __future__ import annotations

import datetime as dt
import json
import time

import plotly.graph_objects as go
import pytest

from dashboards import classify
from dashboards.i18n import t
from dashboards.map_figure import (
    DEFAULT_LAYERS,
    DEVICE_LAYERS,
    LEGENDS,
    TOGGLE_LAYERS,
    TRACE_INDEX,
    TRACE_ORDER,
    LiveInputs,
    MapDevice,
    build_map_figure,
    circle_ring,
    layer_rows,
    render_device,
)
from dashboards.map_geometry import BaseGeometry, feature_label, overlay_arrays, place_arrays
from dashboards.map_style import fit_view, map_style
from dashboards.warning_areas import CapRow, active_warning_areas
from ioc.live import LatestValue
from layers.catalog import demo_layers

NOW = time.time()
TZ = "Asia/Ho_Chi_Minh"


@pytest.fixture(scope="module")
def geo() -> BaseGeometry:
    layers = demo_layers()
    return BaseGeometry(
        layers["units"],
        layers["province"],
        layers["rivers"],
        layers["towns"],
        poi=layers["poi"],
    )


def _device(device_id: str, kind: str, **kw) -> MapDevice:
    return MapDevice(
        device_id,
        kw.pop("family", "disaster"),
        kind,
        kw.pop("name", device_id),
        kw.pop("lon", 104.0),
        kw.pop("lat", 22.4),
        kw.pop("unit_id", "03006"),
        kw.pop("interval", 60),
        **kw,
    )


def _values(device_id: str, age_s: float = 10, **metrics) -> dict[str, LatestValue]:
    return {m: LatestValue(device_id, m, v, NOW - age_s) for m, v in metrics.items()}


WATER = _device(
    "wl-1",
    "water_level",
    name="Trạm Lào Cai",
    alarm_levels=classify.alarm_levels_of({"alarm_levels": [80, 82, 83.5]}),
)
AQ = _device("aq-1", "air_quality", family="environment", name="Cốc Lếu")
CAM = _device("cam-1", "camera", family="camera")
SITE = _device("cnt-1", "visitor_counter", family="tourism", capacity=1000.0)
RAIN = _device("rain-1", "rain_gauge")
WX = _device("wx-1", "weather", family="environment")


def _live(**kw) -> LiveInputs:
    latest = {
        "wl-1": _values("wl-1", water_level_m=82.4),
        "aq-1": _values("aq-1", pm25=30.0, pm10=40.0),
        "cam-1": _values("cam-1", people_count=12),
        "cnt-1": _values("cnt-1", age_s=3600, occupancy=1200),  # silent for an hour
        "rain-1": _values("rain-1", rain_mm=0.4),
    }
    return LiveInputs(latest=latest, now=NOW, **kw)


def test_one_trace_per_layer_in_a_fixed_order(geo):
    devices = [WATER, AQ, CAM, SITE, RAIN, WX]
    fig = build_map_figure(devices, _live(), geo, tz=TZ)
    assert [t["name"] for t in fig["data"]] == list(TRACE_ORDER)
    water = fig["data"][TRACE_INDEX["water"]]
    assert water["customdata"] == ["wl-1"] and water["lon"] == [WATER.lon]
    go.Figure(fig)  # plotly accepts every property


def test_colours_follow_the_latest_values(geo):
    fig = build_map_figure(
        [WATER, AQ, CAM, SITE, RAIN],
        _live(incidents={"cam-1": "fire"}, rain_24h={"rain-1": 60.0}, aqi={"aq-1": 120}),
        geo,
        tz=TZ,
    )
    colour = {
        name: fig["data"][TRACE_INDEX[name]]["marker"]["color"][0]
        for name in ("water", "aqi", "cameras", "tourism", "rain")
    }
    assert colour["water"] == classify.WATER_COLOURS[2]  # 82.4 m: alarm II
    assert colour["aqi"] == "#FF7E00"  # the hourly index (120) wins over the live estimate
    assert colour["cameras"] == classify.CAMERA_COLOURS["serious"]
    assert colour["tourism"] == classify.SILENT  # silent for an hour: grey, whatever it says
    assert colour["rain"] == "#3f4bff"  # 60 mm in 24 h: heavy


def test_hover_text_says_what_and_when(geo):
    zone = __import__("zoneinfo").ZoneInfo(TZ)
    colour, text = render_device(WATER, _live().latest["wl-1"], _live(), "vi", zone)
    assert "Trạm Lào Cai" in text and "82,40 m" in text and "Báo động II" in text
    _colour, text_en = render_device(WATER, _live().latest["wl-1"], _live(), "en", zone)
    assert "82.40 m" in text_en and "Alarm II" in text_en
    _colour, silent = render_device(SITE, _live().latest["cnt-1"], _live(), "vi", zone)
    assert "Mất tín hiệu" in silent
    colour, nodata = render_device(WX, {}, _live(), "vi", zone)
    assert colour == classify.NO_DATA and "Chưa có số liệu" in nodata
    _colour, estimate = render_device(AQ, _live().latest["aq-1"], _live(), "vi", zone)
    assert "VN_AQI ≈" in estimate  # no hourly index yet: marked as an estimate


def test_layers_visible_as_asked_and_selection_halo(geo):
    fig = build_map_figure([WATER, AQ], _live(), geo, visible=["water"], selected="aq-1")
    visible = {t["name"]: t.get("visible", True) for t in fig["data"]}
    assert visible["water"] is True and visible["aqi"] is False and visible["units"] is False
    halo = fig["data"][TRACE_INDEX["selected"]]
    assert halo["lon"] == [AQ.lon] and halo["lat"] == [AQ.lat]


def test_unit_levels_colour_the_units(geo):
    fig = build_map_figure([], _live(unit_levels={"02683": 3}), geo, lang="en")
    units = fig["data"][TRACE_INDEX["units"]]
    i = units["locations"].index("02683")
    assert units["z"][i] == 3 and sum(units["z"]) == 3
    assert "Disaster risk level: 3" in units["hovertext"][i]
    assert "approximate boundary" in units["hovertext"][i]  # the demo boundaries are


def test_offline_by_default_tiles_only_when_configured(geo):
    fig = build_map_figure([WATER], _live(), geo)
    text = json.dumps(fig)
    assert "http" not in text  # no style URL, no glyphs, no sprites: nothing to fetch
    assert fig["layout"]["map"]["style"]["layers"][0]["type"] == "background"
    # markers and lines only: text would need glyphs from a font server
    assert all("text" not in t["mode"].split("+") for t in fig["data"] if "mode" in t)
    style = map_style("https://tiles.example.org/{z}/{x}/{y}.png")
    assert style["sources"]["basemap"]["tiles"] == ["https://tiles.example.org/{z}/{x}/{y}.png"]
    assert [x["type"] for x in style["layers"]] == ["background", "raster", "line"]  # + anchor
    assert "glyphs" not in style
    assert map_style()["sources"]  # never empty (plotly would drop it; MapLibre refuses that)


def test_five_thousand_devices_stay_five_thousand_points_in_few_traces(geo):
    kinds = [k for layer in DEVICE_LAYERS for k in layer.kinds]
    devices = [_device(f"d{i:05d}", kinds[i % len(kinds)]) for i in range(5000)]
    fig = build_map_figure(devices, LiveInputs({}, NOW), geo)
    assert len(fig["data"]) == len(TRACE_ORDER)
    assert sum(len(fig["data"][TRACE_INDEX[layer.key]]["lon"]) for layer in DEVICE_LAYERS) == 5000
    rows = layer_rows(devices)
    assert all(rows[k] == sorted(rows[k], key=lambda d: d.device_id) for k in rows)


def test_fit_view_shows_the_whole_province(geo):
    centre, zoom = fit_view(geo.bbox(), 1200, 900)
    assert 104.1 < centre["lon"] < 104.6 and 21.9 < centre["lat"] < 22.3
    assert 8.5 < zoom < 10
    assert fit_view(geo.bbox(), 2400, 1800)[1] == pytest.approx(zoom + 1, abs=0.01)


def _cap(
    identifier,
    sent_min,
    *,
    msg_type="Alert",
    refs=(),
    expires=None,
    area=None,
    severity="Severe",
    status="Actual",
) -> CapRow:
    info = {
        "severity": severity,
        "headline": f"Cảnh báo {identifier}",
        "event": "Lũ quét",
        "area": [
            area
            or {
                "areaDesc": "Xã Bát Xát",
                "geocode": [{"valueName": "unit_code", "value": "02683"}],
            }
        ],
    }
    if expires:
        info["expires"] = expires
    sent = dt.datetime(2025, 6, 1, 9, 0, tzinfo=dt.UTC) + dt.timedelta(minutes=sent_min)
    return CapRow(
        "pctt@laocai.gov.vn", identifier, sent, msg_type, status, tuple(refs), {"info": [info]}
    )


def test_cap_warning_areas_in_force(geo):
    now = dt.datetime(2025, 6, 1, 12, 0, tzinfo=dt.UTC)
    polygon = {
        "areaDesc": "Y Tý",
        "polygons_lonlat": [[[103.6, 22.6], [103.7, 22.6], [103.7, 22.7], [103.6, 22.6]]],
    }
    circle = {"areaDesc": "Sa Pa", "circles": [{"lat": 22.33, "lon": 103.84, "radius_km": 5}]}
    caps = [
        _cap("A", 0),  # superseded by B
        _cap("B", 10, msg_type="Update", refs=["pctt@laocai.gov.vn,A,2025-06-01T16:00:00+07:00"]),
        _cap("C", 20, area=polygon, severity="Extreme"),
        _cap("D", 30, area=circle, expires="2025-06-01T10:00:00+00:00"),  # expired
        _cap("E", 40, area=circle),
        _cap("F", 50, msg_type="Cancel", refs=["pctt@laocai.gov.vn,E,2025-06-01T16:40:00+07:00"]),
        _cap("G", 60, status="Exercise"),
    ]
    areas = active_warning_areas(caps, now, geo.units)
    assert [a.area_id.split("/")[0] for a in areas] == ["C", "B"]
    assert areas[0].severity == "extreme" and areas[0].geometry["type"] == "MultiPolygon"
    bat_xat = next(f for f in geo.units["features"] if f["properties"]["id"] == "02683")
    assert areas[1].geometry == bat_xat["geometry"]  # by unit geocode


def test_circle_ring_is_closed_and_about_the_radius():
    ring = circle_ring(104.0, 22.0, 10.0)
    assert ring[0] == ring[-1] and len(ring) == 49
    lat_span_km = (max(p[1] for p in ring) - min(p[1] for p in ring)) * 111.32
    assert lat_span_km == pytest.approx(20.0, rel=0.01)


# -- towns, points of interest, imported layers ------------------------------------------------
def _feature(geometry_type, coordinates, **props):
    return {
        "type": "Feature",
        "properties": props,
        "geometry": {"type": geometry_type, "coordinates": coordinates},
    }


FLOOD_ZONES = {
    "type": "FeatureCollection",
    "features": [
        _feature(
            "Polygon",
            [[[103.9, 22.4], [104.0, 22.4], [104.0, 22.5], [103.9, 22.4]]],
            id="z1",
            name="Vùng ngập Cốc Lếu",
            approximate=True,
        ),
        _feature(
            "MultiPolygon",
            [[[[104.1, 22.3], [104.2, 22.3], [104.2, 22.4], [104.1, 22.3]]]],
            id="z2",
            name="Vùng ngập Phố Lu",
            approximate=False,
        ),
    ],
}
SHELTERS = {
    "type": "FeatureCollection",
    "features": [_feature("Point", [103.95, 22.45], id="s1", name="Trường THCS Kim Tân")],
}
ROADS = {
    "type": "FeatureCollection",
    "features": [
        _feature(
            "LineString", [[103.8, 22.3], [103.9, 22.35]], id="r1", name="QL4D", approximate="yes"
        ),
    ],
}


def test_every_toggle_is_one_trace_with_a_legend_and_a_name():
    assert set(TOGGLE_LAYERS) <= set(TRACE_ORDER) and set(DEFAULT_LAYERS) <= set(TOGGLE_LAYERS)
    assert {"places", "overlays"} <= set(DEFAULT_LAYERS)
    for layer in TOGGLE_LAYERS:
        assert LEGENDS[layer]
        for lang in ("vi", "en"):
            assert t(f"layer.{layer}", lang) != f"layer.{layer}"
            for key, _colour in LEGENDS[layer]:
                assert t(f"legend.{layer}.{key}", lang) != f"legend.{layer}.{key}"


def test_towns_and_points_of_interest_are_drawn_with_their_labels(geo):
    fig = build_map_figure([WATER], _live(), geo, tz=TZ)
    places = fig["data"][TRACE_INDEX["places"]]
    layers = demo_layers()
    n_towns, n_poi = len(layers["towns"]["features"]), len(layers["poi"]["features"])
    assert len(places["lon"]) == len(places["hovertext"]) == n_towns + n_poi
    assert places["mode"] == "markers" and places["visible"] is True
    assert "customdata" not in places  # a click on a place does not select a device
    centre = places["hovertext"][0]
    assert centre.startswith("<b>Yên Bái</b>") and "gần đúng" not in centre  # GeoNames
    assert "Trung tâm hành chính tỉnh" in centre
    texts = dict(
        zip(
            (f["properties"]["id"] for f in layers["poi"]["features"]),
            places["hovertext"][n_towns:],
            strict=True,
        )
    )
    assert "Chợ" in texts["bac_ha_market"] and "(vị trí gần đúng)" in texts["bac_ha_market"]
    assert "gần đúng" not in texts["sa_pa_town"]  # GeoNames: not approximate
    approximate = sum(bool(f["properties"]["approximate"]) for f in layers["poi"]["features"])
    assert sum("(vị trí gần đúng)" in x for x in places["hovertext"]) == approximate > 0
    go.Figure(fig)


def test_place_labels_follow_the_language():
    layers = demo_layers()
    arrays = place_arrays(layers["towns"], layers["poi"], "en")
    market = next(x for x in arrays["hovertext"] if "Bac Ha" in x and "Market" in x)
    assert "(approximate location)" in market
    assert arrays["color"][0] != arrays["color"][-1]  # towns and places told apart


def test_approximate_wording_follows_the_geometry():
    line = feature_label(ROADS["features"][0], "en")
    assert "(approximate course)" in line  # approximate="yes" read as true
    zone = feature_label(FLOOD_ZONES["features"][0], "vi")
    assert "(ranh giới gần đúng)" in zone
    assert "gần đúng" not in feature_label(FLOOD_ZONES["features"][1], "vi")


def test_imported_layers_are_one_thin_overlay_trace(geo):
    overlays = (("evacuation_points", SHELTERS), ("flood_zones", FLOOD_ZONES), ("roads", ROADS))
    with_overlays = BaseGeometry(
        geo.units, geo.province, geo.rivers, geo.towns, poi=geo.poi, overlays=overlays
    )
    fig = build_map_figure([WATER], _live(), with_overlays, tz=TZ)
    trace = fig["data"][TRACE_INDEX["overlays"]]
    assert trace["mode"] == "lines+markers" and trace["line"]["width"] <= 1.5
    assert "customdata" not in trace
    n = len(trace["lon"])
    assert len(trace["lat"]) == len(trace["marker"]["size"]) == len(trace["hovertext"]) == n
    # a shelter point (a marker), a 4-point ring, a 4-point ring, a 2-point line: parts by None
    assert trace["lon"].count(None) == 4 and n == 1 + 4 + 4 + 2 + 4
    assert trace["marker"]["size"][0] > 0 and set(trace["marker"]["size"][1:]) == {0}
    assert "Trường THCS Kim Tân" in trace["hovertext"][0]
    assert "evacuation_points" in trace["hovertext"][0]
    assert "(ranh giới gần đúng)" in trace["hovertext"][2]
    assert "(tuyến gần đúng)" in trace["hovertext"][-2]
    go.Figure(fig)
    hidden = build_map_figure([WATER], _live(), with_overlays, visible=["water"])
    assert hidden["data"][TRACE_INDEX["overlays"]]["visible"] is False
    assert hidden["data"][TRACE_INDEX["places"]]["visible"] is False
    # the outline and the rivers are always drawn: layers of the map's style, not traces
    style_layers = {x["id"] for x in hidden["layout"]["map"]["style"]["layers"]}
    assert {"ioc-outline", "ioc-rivers"} <= style_layers


def test_no_imported_layers_is_an_empty_overlay():
    assert overlay_arrays((), "vi") == {"lon": [], "lat": [], "size": [], "hovertext": []}


def test_static_traces_are_built_once_per_language(geo):
    first = geo.static_traces("vi")
    assert geo.static_traces("vi") is first and geo.static_traces("en") is not first
    fig = build_map_figure([WATER], _live(), geo, marker_scale=2.0)
    places = fig["data"][TRACE_INDEX["places"]]
    assert places["marker"]["size"][0] == 2 * first["places"]["marker"]["size"][0]
    assert first["places"]["marker"]["size"][0] < places["marker"]["size"][0]  # not changed
