"""Layers in the real database: one transaction per import, nothing half-loaded."""

from __future__ import annotations

import argparse
import json

import psycopg
import pytest

from ioc.config import Settings
from ioc.security import audit
from layers.catalog import DEMO_LAYERS, demo_layers
from layers.cli import import_layer, seed_layers
from layers.importer import LayerData, LayerFileError, read_layer_file
from layers.store import load_layer, seed_demo_layers, store_layer

pytestmark = pytest.mark.integration


def square(x: float, y: float, size: float = 0.05) -> dict:
    ring = [[x, y], [x + size, y], [x + size, y + size], [x, y + size], [x, y]]
    return {"type": "Polygon", "coordinates": [ring]}


def zones(*ids: str, approximate=None) -> LayerData:
    features = []
    for i, fid in enumerate(ids):
        props = {"id": fid, "name": f"Vùng {fid}", "depth_m": i}
        if approximate is not None:
            props["approximate"] = approximate
        features.append(
            {
                "type": "Feature",
                "id": fid,
                "properties": props,
                "geometry": square(104 + i / 10, 22),
            }
        )
    return LayerData(kind="zones", features={"type": "FeatureCollection", "features": features})


def write_zones_file(path, *ids: str, bad: bool = False):
    features = zones(*ids).features["features"]
    if bad:  # a bow-tie in the last feature
        features[-1]["geometry"]["coordinates"][0][1:3] = [[104.1, 22.1], [104.1, 22.0]]
    path.write_text(json.dumps({"type": "FeatureCollection", "features": features}))
    return path


def stored_ids(conn, layer: str) -> list[str]:
    return [f["id"] for f in load_layer(conn, layer)["features"]]


def layer_imports(conn) -> list[tuple]:
    return [(e.actor, e.target, e.details.get("features"), e.details.get("source"))
            for e in reversed(audit.search(conn, action="layer.import"))]


def test_store_and_load_round_trip(db_conn):
    count = store_layer(db_conn, "flood_zones", zones("a", "b"), source="zones.geojson",
                        actor="test")
    assert count == 2
    loaded = load_layer(db_conn, "flood_zones")
    assert loaded["type"] == "FeatureCollection"
    first = loaded["features"][0]
    assert first["id"] == "a"
    assert first["properties"] == {"id": "a", "name": "Vùng a", "depth_m": 0, "approximate": False}
    assert first["geometry"] == square(104, 22)
    row = db_conn.execute(
        "SELECT name, kind, approximate, source FROM layer_features WHERE feature_id = 'b'"
    ).fetchone()
    assert row == ("Vùng b", "zones", False, "zones.geojson")
    assert layer_imports(db_conn) == [("test", "flood_zones", 2, "zones.geojson")]


def test_the_approximate_flag_is_stored_in_its_column(db_conn):
    store_layer(db_conn, "guesses", zones("g", approximate=True), source="demo", actor="test")
    flag = db_conn.execute("SELECT approximate FROM layer_features WHERE layer = 'guesses'")
    assert flag.fetchone() == (True,)
    assert load_layer(db_conn, "guesses")["features"][0]["properties"]["approximate"] is True


def test_a_new_import_replaces_the_whole_layer_and_only_that_layer(db_conn):
    store_layer(db_conn, "flood_zones", zones("a", "b", "c"), source="v1", actor="test")
    store_layer(db_conn, "landslide_zones", zones("x"), source="v1", actor="test")
    assert store_layer(db_conn, "flood_zones", zones("b", "d"), source="v2", actor="test") == 2
    assert stored_ids(db_conn, "flood_zones") == ["b", "d"]
    assert stored_ids(db_conn, "landslide_zones") == ["x"]


def test_a_failing_store_leaves_the_previous_layer_intact(db_conn):
    store_layer(db_conn, "flood_zones", zones("a", "b"), source="v1", actor="test")
    duplicate = zones("c", "c")  # not validated: the primary key fails on the second row
    with pytest.raises(psycopg.errors.UniqueViolation):
        store_layer(db_conn, "flood_zones", duplicate, source="v2", actor="test")
    assert stored_ids(db_conn, "flood_zones") == ["a", "b"]
    sources = db_conn.execute("SELECT DISTINCT source FROM layer_features").fetchall()
    assert sources == [("v1",)]
    assert layer_imports(db_conn) == [("test", "flood_zones", 2, "v1")]  # v2: not recorded


def test_a_malformed_file_is_refused_before_the_database_is_touched(db_conn, tmp_path):
    store_layer(db_conn, "flood_zones", zones("a", "b"), source="v1", actor="test")
    bad = write_zones_file(tmp_path / "zones.geojson", "c", "d", bad=True)
    with pytest.raises(LayerFileError, match="feature 2 \\(id 'd'\\): invalid geometry"):
        store_layer(db_conn, "flood_zones", read_layer_file(bad, kind="zones"), source="v2",
                    actor="test")
    assert stored_ids(db_conn, "flood_zones") == ["a", "b"]


def test_layer_names_are_identifiers(db_conn):
    with pytest.raises(ValueError, match="layer name 'Flood Zones'"):
        store_layer(db_conn, "Flood Zones", zones("a"), source="x", actor="test")


def test_an_unknown_layer_loads_as_empty(db_conn):
    assert load_layer(db_conn, "nothing_here") == {"type": "FeatureCollection", "features": []}


def test_seed_stores_the_demo_layers_once(db_conn):
    first = seed_demo_layers(db_conn)
    expected = {name: len(c["features"]) for name, c in demo_layers().items()}
    assert first == expected
    assert seed_demo_layers(db_conn) == dict.fromkeys(DEMO_LAYERS, 0)
    assert sorted((actor, layer, n) for actor, layer, n, _ in layer_imports(db_conn)) == sorted(
        ("demo", layer, n) for layer, n in expected.items())  # the second seed stored nothing
    units = load_layer(db_conn, "units")
    assert len(units["features"]) == 99
    assert all(f["properties"]["approximate"] for f in units["features"])
    kinds = dict(db_conn.execute("SELECT DISTINCT layer, kind FROM layer_features").fetchall())
    assert kinds == {
        "province": "zones",
        "units": "units",
        "legacy_districts": "zones",
        "towns": "points",
        "rivers": "rivers",
        "poi": "poi",
    }


def test_seed_leaves_a_provinces_own_layer_alone(db_conn):
    store_layer(db_conn, "units", zones("own"), source="province's own file", actor="test")
    stored = seed_demo_layers(db_conn)
    assert stored["units"] == 0 and stored["towns"] == 15
    assert stored_ids(db_conn, "units") == ["own"]


# -- the `ioc layers` commands ----------------------------------------------------------------
def test_import_command_stores_a_good_file(db_settings, db_conn, tmp_path, capsys):
    path = write_zones_file(tmp_path / "zones.geojson", "a", "b")
    args = argparse.Namespace(file=path, name="flood_zones", kind="zones")
    assert import_layer(Settings(database=db_settings), args, actor="cli:ana") == 0
    assert "layer 'flood_zones': 2 zones features stored" in capsys.readouterr().out
    assert stored_ids(db_conn, "flood_zones") == ["a", "b"]
    source = db_conn.execute("SELECT DISTINCT source FROM layer_features").fetchone()[0]
    assert source.startswith("zones.geojson sha256:")
    ((actor, layer, count, audited),) = layer_imports(db_conn)
    assert (actor, layer, count, audited) == ("cli:ana", "flood_zones", 2, source)


def test_import_command_refuses_a_bad_file_and_keeps_the_old_layer(
    db_settings, db_conn, tmp_path, capsys
):
    store_layer(db_conn, "flood_zones", zones("old"), source="v1", actor="test")
    path = write_zones_file(tmp_path / "zones.geojson", "a", "b", bad=True)
    args = argparse.Namespace(file=path, name="flood_zones", kind="zones")
    assert import_layer(Settings(database=db_settings), args, actor="cli:ana") == 1
    err = capsys.readouterr().err
    assert str(path) in err and "invalid geometry: Self-intersection" in err
    assert stored_ids(db_conn, "flood_zones") == ["old"]
    assert [a for a, *_ in layer_imports(db_conn)] == ["test"]  # only the first store


def test_seed_command(db_settings, db_conn, capsys):
    assert seed_layers(Settings(database=db_settings)) == 0
    assert "layer 'units': 99 features stored" in capsys.readouterr().out
    assert seed_layers(Settings(database=db_settings)) == 0
    assert "layer 'units': already present" in capsys.readouterr().out
