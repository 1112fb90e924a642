"""The offline base map's routes: tiles of a tiny MBTiles and PMTiles file the test makes,
served by ioc behind the log-in with caching headers; TileJSON, style and label glyphs."""

from __future__ import annotations

import gzip
import os

import pytest

from dashboards.app import create_app
from ioc.config import ConfigError, load_settings
from layers.tile_files import write_mbtiles, write_pmtiles
from tests.fixtures.fix_web import login_client
from tests.fixtures.tile_files import tiny_mbtiles, tiny_pmtiles

pytestmark = pytest.mark.integration


def _with_file(settings, path):
    return settings.model_copy(
        update={"web": settings.web.model_copy(update={"map_tiles_file": path})})


@pytest.mark.parametrize("maker", [tiny_mbtiles, tiny_pmtiles], ids=["mbtiles", "pmtiles"])
def test_tiles_served_with_headers_404s_and_login(settings, web_users, tmp_path, maker):
    path = tmp_path / f"tiny.{maker.__name__.split('_')[1]}"
    tiles = maker(path)
    client = create_app(_with_file(settings, path)).server.test_client()
    # no session: no tile, no style, no glyphs; the gate sends to the log-in page instead
    for url in ("/tiles/0/0/0.png", "/tiles/tilejson.json", "/tiles/style.json",
                "/map-glyphs/Noto%20Sans%20Regular/0-255.pbf"):
        resp = client.get(url)
        assert resp.status_code == 302 and "/login" in resp.headers["Location"], url
        assert resp.data != tiles[(0, 0, 0)]
    login_client(client, web_users["leadership"].username, web_users["leadership"].password)
    for z, x, y in [(0, 0, 0), (1, 1, 0), (2, 3, 1), (2, 0, 3)]:
        resp = client.get(f"/tiles/{z}/{x}/{y}.png")
        assert resp.status_code == 200, (z, x, y)
        assert resp.data == tiles[(z, x, y)]  # the right tile, not a neighbour (y not flipped)
        assert resp.mimetype == "image/png"
        assert "max-age=86400" in resp.headers["Cache-Control"]
        assert "no-store" not in resp.headers["Cache-Control"]
    etag = client.get("/tiles/2/3/1.png").headers["ETag"]
    assert client.get("/tiles/2/3/1.png", headers={"If-None-Match": etag}).status_code == 304
    assert client.get("/tiles/3/0/0.png").status_code == 404  # above the file's max zoom
    assert client.get("/tiles/1/2/0.png").status_code == 404  # outside the zoom's grid
    assert client.get("/tiles/1/0/0.jpg").status_code == 404  # not the file's format
    tilejson = client.get("/tiles/tilejson.json").json
    assert tilejson["tilejson"] == "3.0.0" and (tilejson["minzoom"], tilejson["maxzoom"]) == (0, 2)
    assert tilejson["tiles"][0].startswith("http://localhost/tiles/{z}/{x}/{y}.png?v=")
    assert "OpenStreetMap" in tilejson["attribution"]
    style = client.get("/tiles/style.json").json
    assert style["sources"]["basemap"]["tiles"] == tilejson["tiles"]
    assert style["sources"]["basemap"]["attribution"] == "© OpenStreetMap contributors"
    glyphs = client.get("/map-glyphs/Noto%20Sans%20Regular/7680-7935.pbf")  # ạ ả ấ ... ỹ
    assert glyphs.status_code == 200 and glyphs.mimetype == "application/x-protobuf"
    assert len(glyphs.data) > 10_000 and b"7680-7935" in glyphs.data
    assert client.get("/map-glyphs/Noto%20Sans%20Regular/1-256.pbf").status_code == 404


def test_vector_tiles_keep_their_gzip_encoding(settings, web_users, tmp_path):
    raw = b"\x1a\x05layer"  # any bytes: the server does not decode tiles
    path = tmp_path / "vector.pmtiles"
    write_pmtiles(path, {(0, 0, 0): gzip.compress(raw)}, tile_type="mvt", gzip_tiles=True,
                  metadata={"vector_layers": [{"id": "water"}, {"id": "transportation"}]})
    client = create_app(_with_file(settings, path)).server.test_client()
    login_client(client, web_users["leadership"].username, web_users["leadership"].password)
    resp = client.get("/tiles/0/0/0.pbf")
    assert resp.status_code == 200 and resp.headers["Content-Encoding"] == "gzip"
    assert gzip.decompress(resp.data) == raw
    assert resp.mimetype == "application/x-protobuf"
    tilejson = client.get("/tiles/tilejson.json").json
    assert [v["id"] for v in tilejson["vector_layers"]] == ["water", "transportation"]
    style = client.get("/tiles/style.json").json
    assert style["sources"]["basemap"]["type"] == "vector"
    assert {x.get("source-layer") for x in style["layers"]} >= {"water", "transportation"}
    mbt = tmp_path / "vector.mbtiles"
    write_mbtiles(mbt, {(0, 0, 0): gzip.compress(raw)}, {"format": "pbf", "minzoom": "0",
                                                         "maxzoom": "0"})
    client = create_app(_with_file(settings, mbt)).server.test_client()
    login_client(client, web_users["leadership"].username, web_users["leadership"].password)
    resp = client.get("/tiles/0/0/0.pbf")
    assert resp.headers["Content-Encoding"] == "gzip" and gzip.decompress(resp.data) == raw


def test_no_file_no_tiles(settings, web_users):
    client = create_app(settings).server.test_client()
    login_client(client, web_users["leadership"].username, web_users["leadership"].password)
    assert client.get("/tiles/0/0/0.png").status_code == 404
    assert client.get("/tiles/tilejson.json").status_code == 404


def test_setting_names_a_missing_or_wrong_file_clearly(tmp_path):
    with pytest.raises(ConfigError, match="IOC_WEB_MAP_TILES_FILE: base map file .* does not"):
        load_settings(environ={"IOC_WEB_MAP_TILES_FILE": str(tmp_path / "nope.pmtiles")})
    (tmp_path / "x.mbtiles").write_text("not sqlite")
    with pytest.raises(ConfigError, match="neither an MBTiles"):
        load_settings(environ={"IOC_WEB_MAP_TILES_FILE": str(tmp_path / "x.mbtiles")})
    unreadable = tmp_path / "locked.pmtiles"
    tiny_pmtiles(unreadable)
    unreadable.chmod(0)
    if not os.access(unreadable, os.R_OK):  # (root reads it anyway: nothing to check then)
        with pytest.raises(ConfigError, match="cannot be read"):
            load_settings(environ={"IOC_WEB_MAP_TILES_FILE": str(unreadable)})
    unreadable.chmod(0o600)
    ok = load_settings(environ={"IOC_WEB_MAP_TILES_FILE": str(unreadable)})
    assert ok.web.map_tiles_file == unreadable
