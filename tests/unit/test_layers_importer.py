"""Reading and validating a province's own layer files: every problem named, nothing half-read."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import geopandas as gpd
import pytest
from shapely.geometry import Point, Polygon, box

from layers.importer import LayerData, LayerFileError, read_layer_file

SQUARE = [[103.90, 22.40], [104.00, 22.40], [104.00, 22.50], [103.90, 22.50], [103.90, 22.40]]
BOW_TIE = [[103.90, 22.40], [104.00, 22.50], [104.00, 22.40], [103.90, 22.50], [103.90, 22.40]]


def polygon(coords, **props) -> dict:
    return {
        "type": "Feature",
        "properties": props,
        "geometry": {"type": "Polygon", "coordinates": [coords]},
    }


def write_geojson(path: Path, *features: dict) -> Path:
    path.write_text(json.dumps({"type": "FeatureCollection", "features": list(features)}))
    return path


def problems_of(path: Path, kind: str = "units", **kw) -> LayerFileError:
    with pytest.raises(LayerFileError) as info:
        read_layer_file(path, kind=kind, **kw)
    err = info.value
    assert err.path == path
    assert str(path) in str(err), "the message names the file"
    return err


def zones_frame() -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {"id": ["z1", "z2"], "name": ["Vùng ngập 1", "Vùng ngập 2"]},
        geometry=[box(103.90, 22.40, 104.00, 22.50), box(104.00, 22.40, 104.10, 22.50)],
        crs="EPSG:4326",
    )


# -- good files -------------------------------------------------------------------------------
def test_a_good_geojson_loads_as_a_feature_collection(tmp_path):
    path = write_geojson(
        tmp_path / "zones.geojson",
        polygon(SQUARE, id="z1", name="Vùng ngập Cốc Lếu", depth_m=1.5),
    )
    data = read_layer_file(path, kind="zones")
    assert isinstance(data, LayerData)
    assert data.kind == "zones"
    assert data.notes == ()
    assert data.feature_ids == ["z1"]
    (feature,) = data.features["features"]
    assert feature["id"] == "z1"
    assert feature["properties"] == {"id": "z1", "name": "Vùng ngập Cốc Lếu", "depth_m": 1.5}
    assert feature["geometry"]["type"] == "Polygon"
    assert feature["geometry"]["coordinates"][0][0] == [103.9, 22.4]


def test_numeric_ids_become_text_and_top_level_ids_are_used(tmp_path):
    feature = polygon(SQUARE, name="A")
    feature["id"] = "top-level"
    path = write_geojson(tmp_path / "a.geojson", feature)
    data = read_layer_file(path, kind="units")
    assert data.feature_ids == ["top-level"]
    numeric = write_geojson(tmp_path / "b.geojson", polygon(SQUARE, id=7, name="B"))
    assert read_layer_file(numeric, kind="units").feature_ids == ["7"]


def test_a_geopackage_loads(tmp_path):
    path = tmp_path / "zones.gpkg"
    zones_frame().to_file(path, layer="flood_zones", driver="GPKG")
    data = read_layer_file(path, kind="zones")
    assert data.feature_ids == ["z1", "z2"]


def test_a_geopackage_with_several_layers_needs_one_named(tmp_path):
    path = tmp_path / "two.gpkg"
    zones_frame().to_file(path, layer="a", driver="GPKG")
    zones_frame().to_file(path, layer="b", driver="GPKG")
    err = problems_of(path, kind="zones")
    assert "expected one layer, found 2 (a, b)" in str(err)
    assert read_layer_file(path, kind="zones", layer="b").feature_ids == ["z1", "z2"]


def test_a_shapefile_in_vn2000_is_reprojected_with_a_note(tmp_path):
    path = tmp_path / "communes.shp"
    zones_frame().to_crs("EPSG:3405").to_file(path)
    data = read_layer_file(path, kind="zones")
    assert any("reprojected from EPSG:3405" in n and "EPSG:4326" in n for n in data.notes)
    ring = data.features["features"][0]["geometry"]["coordinates"][0]
    lon, lat = ring[0]
    assert 103.8 < lon < 104.2 and 22.3 < lat < 22.6


def test_a_zipped_shapefile_loads(tmp_path):
    zones_frame().to_file(tmp_path / "zones.shp")
    archive = tmp_path / "zones.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for part in tmp_path.glob("zones.*"):
            if part != archive:
                zf.write(part, f"inner/{part.name}")
    assert read_layer_file(archive, kind="zones").feature_ids == ["z1", "z2"]


def test_upper_case_shapefile_columns_are_matched_with_a_note(tmp_path):
    frame = zones_frame().rename(columns={"id": "ID", "name": "NAME"})
    frame.to_file(tmp_path / "upper.shp")
    data = read_layer_file(tmp_path / "upper.shp", kind="zones")
    assert data.feature_ids == ["z1", "z2"]
    assert "attribute 'NAME' used as 'name'" in data.notes


# -- bad files --------------------------------------------------------------------------------
def test_invalid_json_names_the_line_and_column(tmp_path):
    path = tmp_path / "broken.geojson"
    path.write_text('{"type": "FeatureCollection", "features": [\n  {"type": "Feature",,}\n]}')
    err = problems_of(path)
    expected = (
        "invalid JSON at line 2, column 22: Expecting property name enclosed in double quotes"
    )
    assert err.problems == [expected]
    assert str(err) == f"layer file {str(path)!r} was not loaded: {err.problems[0]}"


def test_json_that_is_not_a_feature_collection(tmp_path):
    path = tmp_path / "point.json"
    path.write_text('{"type": "Point", "coordinates": [104, 22]}')
    assert "expected a GeoJSON FeatureCollection, found 'Point'" in str(problems_of(path))


def test_a_bow_tie_polygon_is_invalid_with_its_feature_and_id(tmp_path):
    path = write_geojson(
        tmp_path / "units.geojson",
        polygon(SQUARE, id="ok", name="Ổn"),
        polygon(BOW_TIE, id="bow", name="Nơ"),
    )
    err = problems_of(path)
    assert len(err.problems) == 1
    assert err.problems[0].startswith("feature 2 (id 'bow'): invalid geometry: Self-intersection")


def test_missing_name_lists_the_attributes_present(tmp_path):
    path = write_geojson(tmp_path / "d.geojson", polygon(SQUARE, id="a", ten="Không tên"))
    err = problems_of(path)
    assert err.problems == ["missing required attribute 'name' (attributes in the file: id, ten)"]


def test_empty_required_values_are_counted(tmp_path):
    features = [polygon(SQUARE, id=f"d{i}", name="" if i % 2 else "x") for i in range(14)]
    err = problems_of(write_geojson(tmp_path / "d.geojson", *features))
    assert err.problems == ["attribute 'name' is empty in features 2, 4, 6, 8, 10 and 2 more"]


def test_duplicate_ids_name_the_features(tmp_path):
    path = write_geojson(
        tmp_path / "d.geojson",
        polygon(SQUARE, id="sa_pa", name="Sa Pa"),
        polygon(SQUARE, id="bat_xat", name="Bát Xát"),
        polygon(SQUARE, id="sa_pa", name="Sa Pa 2"),
    )
    assert problems_of(path).problems == ["duplicate id 'sa_pa' in features 1, 3"]


def test_a_point_in_a_units_file_is_the_wrong_geometry_type(tmp_path):
    point = {
        "type": "Feature",
        "properties": {"id": "p", "name": "Chợ"},
        "geometry": {"type": "Point", "coordinates": [104.29, 22.54]},
    }
    path = write_geojson(tmp_path / "d.geojson", polygon(SQUARE, id="a", name="A"), point)
    err = problems_of(path)
    assert err.problems == [
        "feature 2: geometry is Point; a units layer needs Polygon or MultiPolygon"
    ]


def test_polygons_in_a_points_layer_are_grouped(tmp_path):
    path = write_geojson(
        tmp_path / "poi.geojson", *[polygon(SQUARE, id=str(i), name="x") for i in range(3)]
    )
    err = problems_of(path, kind="poi")
    assert err.problems == ["features 1, 2, 3: geometry is Polygon; a poi layer needs Point"]


def test_missing_and_empty_geometries(tmp_path):
    nothing = {"type": "Feature", "properties": {"id": "n", "name": "N"}, "geometry": None}
    empty = polygon([], id="e", name="E")
    empty["geometry"] = {"type": "Polygon", "coordinates": []}
    err = problems_of(write_geojson(tmp_path / "d.geojson", nothing, empty))
    assert err.problems == ["feature 1 (id 'n'): no geometry", "feature 2 (id 'e'): empty geometry"]


def test_projected_coordinates_without_a_crs_are_out_of_range(tmp_path):
    utm = [[x * 1000 + 400000, y * 1000 + 2480000] for x, y in [[0, 0], [1, 0], [1, 1], [0, 0]]]
    err = problems_of(write_geojson(tmp_path / "utm.geojson", polygon(utm, id="u", name="U")))
    assert len(err.problems) == 1
    assert "feature 1 (id 'u'): coordinates outside longitude -180..180" in err.problems[0]
    assert "is the CRS right?" in err.problems[0]


def test_a_shapefile_without_prj_has_no_crs(tmp_path):
    zones_frame().to_file(tmp_path / "noprj.shp")
    (tmp_path / "noprj.prj").unlink()
    err = problems_of(tmp_path / "noprj.shp", kind="zones")
    assert err.problems == [
        "no coordinate reference system (CRS): add the .prj file, or set the layer's SRS"
    ]


def test_a_shapefile_without_its_dbf(tmp_path):
    zones_frame().to_file(tmp_path / "nodbf.shp")
    (tmp_path / "nodbf.dbf").unlink()
    assert problems_of(tmp_path / "nodbf.shp").problems == ["shapefile part missing: nodbf.dbf"]


def test_unknown_format_and_missing_file(tmp_path):
    kml = tmp_path / "zones.kml"
    kml.write_text("<kml/>")
    assert "unknown format '.kml': expected .geojson, .json, .gpkg, .shp, .zip" in str(
        problems_of(kml)
    )
    assert problems_of(tmp_path / "absent.geojson").problems == ["no such file"]


def test_a_broken_geopackage_says_it_cannot_be_read(tmp_path):
    path = tmp_path / "zones.gpkg"
    path.write_bytes(b"not a database")
    assert "cannot read the file as a GeoPackage" in str(problems_of(path, kind="zones"))


def test_all_problems_are_collected_and_the_message_is_capped(tmp_path):
    features = [polygon(BOW_TIE, id="same", name=f"n{i}") for i in range(12)]
    features.append(polygon(SQUARE, id="x"))
    err = problems_of(write_geojson(tmp_path / "many.geojson", *features))
    assert len(err.problems) == 14  # 12 bow-ties, a missing name, the duplicate id
    text = str(err)
    assert text.splitlines()[0] == f"layer file {str(err.path)!r} was not loaded: 14 problems"
    assert text.count("\n  - ") == 10
    assert text.endswith("  ... and 4 more")
    assert "attribute 'name' is empty in feature 13" in err.problems
    assert any(p.startswith("duplicate id 'same' in features 1, 2, 3") for p in err.problems)


def test_swapped_longitude_and_latitude_are_pointed_out(tmp_path):
    swapped = [[lat, lon] for lon, lat in SQUARE]
    err = problems_of(write_geojson(tmp_path / "s.geojson", polygon(swapped, id="s", name="S")))
    assert err.problems[0].endswith(
        "(bounds 22.4, 103.9, 22.5, 104): are longitude and latitude swapped?"
    )


def test_a_layer_outside_viet_nam_loads_with_a_note(tmp_path):
    paris = [[2.30 + x / 10, 48.80 + y / 10] for x, y in [[0, 0], [1, 0], [1, 1], [0, 0]]]
    path = write_geojson(tmp_path / "paris.geojson", polygon(paris, id="p", name="P"))
    data = read_layer_file(path, kind="zones")
    assert data.notes == (
        "the layer lies outside Viet Nam (bounds 2.3000, 48.8000, 2.4000, 48.9000): "
        "check the CRS and axis order",
    )


def test_an_unknown_kind_is_a_programming_error(tmp_path):
    path = write_geojson(tmp_path / "d.geojson", polygon(SQUARE, id="a", name="A"))
    with pytest.raises(ValueError, match="unknown layer kind 'roads'"):
        read_layer_file(path, kind="roads")


def test_required_attributes_are_configurable(tmp_path):
    path = write_geojson(tmp_path / "d.geojson", polygon(SQUARE, id="a", name="A"))
    err = problems_of(path, required=("id", "name", "risk_level"))
    assert err.problems[0].startswith("missing required attribute 'risk_level'")
    assert read_layer_file(path, kind="units", required=()).feature_ids == ["a"]


def test_points_and_lines_kinds(tmp_path):
    frame = gpd.GeoDataFrame(
        {"id": ["p"], "name": ["Ga Lào Cai"]}, geometry=[Point(103.9755, 22.4905)], crs=4326
    )
    frame.to_file(tmp_path / "p.gpkg", driver="GPKG")
    assert read_layer_file(tmp_path / "p.gpkg", kind="points").feature_ids == ["p"]
    err = problems_of(tmp_path / "p.gpkg", kind="rivers")
    assert "a rivers layer needs LineString or MultiLineString" in str(err)
    polygons = frame.set_geometry([Polygon(SQUARE)])
    polygons.to_file(tmp_path / "q.gpkg", driver="GPKG")
    assert read_layer_file(tmp_path / "q.gpkg", kind="units").kind == "units"


def test_a_layer_is_named_after_its_file_when_no_name_is_given():
    from pathlib import Path

    from layers.cli import default_layer_name
    from layers.store import check_layer_name

    assert default_layer_name(Path("/x/Flood Zones 2025.gpkg")) == "flood_zones_2025"
    assert default_layer_name(Path("vùng-sạt-lở.geojson")) == "v_ng_s_t_l"
    assert default_layer_name(Path("2025_zones.shp")) == "layer_2025_zones"
    for name in ("a" * 80 + ".geojson", "Ảnh.geojson", "__.geojson"):
        check_layer_name(default_layer_name(Path(name)))  # always a valid name
