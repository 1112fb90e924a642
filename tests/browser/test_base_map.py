"""The offline base map in a real Chromium: the tiles of a tiny file the test makes are asked
of ioc itself and drawn under the layers; with no file the map still draws, offline, with its
unit and town labels (glyphs from ioc too). Plus the documentation's screenshots of a flood
on the demo base map at 1920×1080 and 3840×2160."""

from __future__ import annotations

import io
import math
import os
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from selenium.common.exceptions import JavascriptException, TimeoutException

from dashboards import base_map
from dashboards.app import create_app
from ioc.live import LiveState, open_redis
from tests.browser.test_ops_pages import _only_local_requests, _viewport, _wait
from tests.fixtures.fix_web import login
from tests.fixtures.tile_files import tiny_mbtiles, tiny_pmtiles

pytestmark = [pytest.mark.browser, pytest.mark.integration, pytest.mark.slow]

SHOTS = Path(__file__).parent / "screenshots"
DOC_SHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"

MAP_RECT = """
const r = document.querySelector('#ops-map .maplibregl-canvas').getBoundingClientRect();
return [r.left, r.top, r.width, r.height];
"""
# what MapLibre has drawn: the style's layers and whether every source's tiles are loaded
MAP_STATE = """
const gd = document.querySelector('#ops-map .js-plotly-plot');
if (!gd || !gd._fullLayout || !gd._fullLayout.map) return null;
const map = gd._fullLayout.map._subplot.map;
const ids = map.getStyle().layers.map(l => l.id);
const circles = map.getStyle().layers.filter(l => l.type === 'circle');
return {tiles: map.areTilesLoaded(), layers: ids,
        outlined: circles.length > 0 &&
                  circles.every(l => map.getPaintProperty(l.id, 'circle-stroke-width') === 1.5),
        labels: map.queryRenderedFeatures({layers: ids.filter(i => i.startsWith('ioc-labels-'))})
                   .map(f => f.properties.name)};
"""


def _state(dash_duo) -> dict | None:
    """MAP_STATE, or None while the browser is too busy to answer (a 4K map on SwiftShader)."""
    try:
        return dash_duo.driver.execute_script(MAP_STATE)
    except (TimeoutException, JavascriptException):
        return None


def _with_file(settings, path):
    return settings.model_copy(
        update={"web": settings.web.model_copy(update={"map_tiles_file": path})})


def _open_ops(dash_duo, settings, web_users, width=1920, height=1080):
    dash_duo.start_server(create_app(settings))
    _viewport(dash_duo, width, height)
    user = web_users["operator"]
    login(dash_duo, user.username, user.password, next_url="/ops")
    dash_duo.driver.get(dash_duo.server_url + "/ops")
    dash_duo.wait_for_element("#ops-map .maplibregl-canvas", timeout=45)


def _map_pixels(dash_duo) -> list[tuple[int, int, int]]:
    left, top, w, h = dash_duo.driver.execute_script(MAP_RECT)
    shot = Image.open(io.BytesIO(dash_duo.driver.get_screenshot_as_png())).convert("RGB")
    box = shot.crop((int(left), int(top), int(left + w), int(top + h))).resize((96, 96))
    return [tuple(p) for p in np.asarray(box).reshape(-1, 3).tolist()]


def _is_tile_colour(p) -> bool:
    return p[0] > 170 and p[1] < 90 and p[2] > 170  # magenta, under 0.9 opacity or a thin fill


@pytest.mark.parametrize("maker", [tiny_mbtiles, tiny_pmtiles], ids=["mbtiles", "pmtiles"])
def test_base_map_tiles_come_from_ioc_and_are_drawn(dash_duo, settings, web_users, tmp_path,
                                                    maker):
    path = tmp_path / f"tiny.{maker.__name__.split('_')[1]}"
    maker(path)
    before = base_map.REQUESTS["tile 200"]
    _open_ops(dash_duo, _with_file(settings, path), web_users)
    _wait(lambda: base_map.REQUESTS["tile 200"] > before, timeout=30, what="a tile request")
    state = _wait(lambda: (s := _state(dash_duo)) and s["tiles"] and s,
                  timeout=90, what="the map's tiles loaded")
    assert "basemap" in state["layers"]
    names = dash_duo.driver.execute_script(
        "return performance.getEntriesByType('resource').map(e => e.name)")
    tile_urls = [n for n in names if "/tiles/" in n]
    assert tile_urls and all(n.startswith(dash_duo.server_url + "/tiles/2/") for n in tile_urls)
    # drawn: most of the map is the tiles' magenta (the units over it are transparent at
    # level 0; markers, outline and labels cover a little)
    pixels = _map_pixels(dash_duo)
    share = sum(map(_is_tile_colour, pixels)) / len(pixels)
    assert share > 0.6, share
    # the attribution of the file is on the map
    dash_duo.wait_for_contains_text("#ops-map", "OpenStreetMap", timeout=10)
    _only_local_requests(dash_duo)
    assert dash_duo.get_logs() == []


def test_without_a_file_the_map_draws_offline_with_labels(dash_duo, settings, web_users):
    tiles_before = base_map.REQUESTS["tile 200"] + base_map.REQUESTS["tile 404"]
    glyphs_before = base_map.REQUESTS["glyphs 200"]
    _open_ops(dash_duo, settings, web_users)
    state = _wait(lambda: (s := _state(dash_duo)) and s["tiles"]
                  and s["labels"] and s["outlined"] and s, timeout=90,
                  what="labels drawn, markers outlined")
    assert "basemap" not in state["layers"]
    assert base_map.REQUESTS["glyphs 200"] > glyphs_before  # the label glyphs: from ioc
    assert base_map.REQUESTS["tile 200"] + base_map.REQUESTS["tile 404"] == tiles_before
    # at the whole-province zoom: the towns and the largest units, never two on one spot
    assert "Yên Bái" in state["labels"]
    assert 5 <= len(state["labels"]) < 99
    pixels = _map_pixels(dash_duo)
    assert not any(map(_is_tile_colour, pixels))
    _only_local_requests(dash_duo)
    assert dash_duo.get_logs() == []


# -- the documentation's screenshots ---------------------------------------------------------
def _flood_levels(db_conn) -> None:
    """Risk levels of a flood down the Red River: level 4 near it, 3 and 2 further out."""
    from layers.catalog import demo_layers

    layers = demo_layers()
    river = next(f for f in layers["rivers"]["features"] if f["properties"]["id"] == "song_hong")
    pts = river["geometry"]["coordinates"]
    rows = []
    for f in layers["units"]["features"]:
        lon, lat = f["properties"]["centre"]
        d = min(math.hypot(lon - x, lat - y) for x, y, *_ in pts)
        level = 4 if d < 0.05 else 3 if d < 0.12 else 2 if d < 0.2 else 1 if d < 0.3 else 0
        if level:
            rows.append((f["properties"]["id"], level))
    from ioc.domain.disaster_levels import risk_level

    for unit_id, level in rows:
        db_conn.execute(
            "INSERT INTO unit_hazard_levels (unit_id, level, base_level, colour, label) "
            "VALUES (%s, %s, %s, %s, %s) ON CONFLICT (unit_id) DO UPDATE SET level = "
            "EXCLUDED.level", (unit_id, level, level, risk_level(level).hex,
                               risk_level(level).name_vi))
    db_conn.commit()


@pytest.mark.timeout(900)  # a 4K WebGL map on SwiftShader, on a loaded machine
@pytest.mark.parametrize("width,height", [(1920, 1080), (3840, 2160)])
def test_screenshots_of_a_flood_on_the_demo_base_map(dash_duo, settings, web_users, db_conn,
                                                     tmp_path, width, height):
    if height > 1080 and not os.environ.get("IOC_UPDATE_DOC_SCREENSHOTS"):
        pytest.skip("the 4K screenshot (minutes of software WebGL) runs with IOC_UPDATE_DOC_SCREENSHOTS=1")
    from layers.demo_basemap import build
    from tests.browser.test_flood_night import _flood

    live = LiveState(open_redis(settings.redis), settings.redis)
    _flood(db_conn, live)
    _flood_levels(db_conn)
    live.r.close()
    path = tmp_path / "demo.mbtiles"
    build(path, min_zoom=6, max_zoom=11)
    _open_ops(dash_duo, _with_file(settings, path), web_users, width, height)
    _wait(lambda: (s := _state(dash_duo)) and s["tiles"]
          and s["labels"], timeout=600, what="the map with its labels")  # 4K: many tiles
    dash_duo.wait_for_contains_text("#ops-map", "Demo base map", timeout=10)
    SHOTS.mkdir(exist_ok=True)
    name = f"ops-basemap-flood-{width}-vi.png"
    dash_duo.driver.save_screenshot(str(SHOTS / name))
    if os.environ.get("IOC_UPDATE_DOC_SCREENSHOTS"):  # docs/ changes only when asked to
        DOC_SHOTS.mkdir(exist_ok=True)
        shutil.copy(SHOTS / name, DOC_SHOTS / name)
    _only_local_requests(dash_duo)
    assert dash_duo.get_logs() == []
