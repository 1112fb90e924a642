"""Large fleets on the map: the view's devices or clusters (counts, worst status), the search
box, and the renderer's answer per view (pure; no Redis, no browser)."""

from __future__ import annotations

import time

import numpy as np
import pytest

from dashboards import classify
from dashboards import map_view as mv
from dashboards import ops_queries as q
from dashboards.live_mirror import LiveMirror
from dashboards.map_figure import TRACE_INDEX, LiveInputs, MapDevice, layer_rows
from dashboards.map_live import CLUSTER_TRACE, MapRenderer, MapSnapshot
from dashboards.map_search import DeviceNames, search_map
from dashboards.map_style import fit_view
from layers.catalog import demo_layers
from tests.unit.test_dash_map_live import GEO, FakeLive


def _device(i: int, lon: float, lat: float, kind: str = "water_level") -> MapDevice:
    return MapDevice(
        f"d-{i:05d}", "disaster", kind, f"Trạm số {i}", lon, lat, None, 60,
        classify.alarm_levels_of({"alarm_levels": [80, 82, 83.5]}) if kind == "water_level"
        else None,
    )


def _grid(n_side: int, lon0=103.8, lat0=21.8, step=0.01) -> list[MapDevice]:
    return [
        _device(i * n_side + j, lon0 + i * step, lat0 + j * step)
        for i in range(n_side)
        for j in range(n_side)
    ]


# -- the view ----------------------------------------------------------------------------------
def test_viewport_of_inverts_fit_view():
    bbox = (103.6, 21.45, 105.1, 22.78)
    centre, zoom = fit_view(bbox, 1200, 900)
    view = mv.viewport_of(centre, zoom, 1200, 900)
    # the fitted view shows the whole box, with only a little more around it
    assert view.west <= bbox[0] and view.east >= bbox[2]
    assert view.south <= bbox[1] and view.north >= bbox[3]
    assert (view.east - view.west) < 1.3 * (bbox[2] - bbox[0]) or (
        view.north - view.south
    ) < 1.3 * (bbox[3] - bbox[1])


def test_viewport_from_browser_and_bad_input():
    v = mv.Viewport.of({"w": 103.0, "s": 21.0, "e": 104.0, "n": 22.0, "zoom": 9})
    assert v == mv.Viewport(103.0, 21.0, 104.0, 22.0, 9.0)
    assert mv.Viewport.of({"w": 104.0, "s": 21.0, "e": 103.0, "n": 22.0, "zoom": 9}) is None
    assert mv.Viewport.of(None) is None and mv.Viewport.of({"w": "x"}) is None
    wide = v.expanded(0.25)
    assert wide.contains(v) and not v.contains(wide)
    assert wide.west == pytest.approx(102.75) and wide.east == pytest.approx(104.25)


def test_status_levels_order_each_layer_worst_last():
    assert mv.status_level("water", classify.WATER_COLOURS[0]) == mv.LEVEL_NORMAL
    assert mv.status_level("water", classify.WATER_COLOURS[1]) == mv.LEVEL_WATCH
    assert mv.status_level("water", classify.WATER_COLOURS[3]) == mv.LEVEL_DANGER
    assert mv.status_level("cameras", classify.CAMERA_COLOURS["serious"]) == mv.LEVEL_DANGER
    assert mv.status_level("aqi", classify.NO_DATA) == mv.LEVEL_NO_DATA
    assert mv.status_level("rain", classify.SILENT) == mv.LEVEL_NO_DATA


# -- clusters ------------------------------------------------------------------------------------
def test_clusters_count_every_device_once_with_the_worst_status():
    devices = _grid(30)  # 900 devices, 0.3 degrees square
    index = mv.DeviceIndex(layer_rows(devices))
    levels = np.zeros(len(index), dtype=np.int8)
    levels[17] = mv.LEVEL_DANGER
    levels[18] = mv.LEVEL_WATCH
    members = np.arange(len(index))
    found = mv.cluster(index, members, levels, grid_zoom=8)
    assert found.count.sum() == 900 and found.levels.sum() == 900
    assert 1 < len(found) < 900
    k = int(np.flatnonzero(found.worst == 17)[0])  # the danger device's cluster
    assert found.levels[k, mv.LEVEL_DANGER] == 1
    # its position is the mean of its members', which lie in one grid cell
    assert 103.8 <= found.lon[k] <= 104.1 and 21.8 <= found.lat[k] <= 22.1
    # closer in, more and smaller clusters; far out, one
    assert len(mv.cluster(index, members, levels, grid_zoom=11)) > len(found)
    assert len(mv.cluster(index, members, levels, grid_zoom=0)) == 1
    assert len(mv.cluster(index, members[:0], levels, grid_zoom=8)) == 0


def test_clusters_only_of_the_given_members():
    devices = _grid(10)
    index = mv.DeviceIndex(layer_rows(devices))
    levels = np.zeros(len(index), dtype=np.int8)
    found = mv.cluster(index, np.arange(0, 100, 2), levels, grid_zoom=9)
    assert found.count.sum() == 50


def test_choose_detail_when_few_in_view_clusters_when_many():
    devices = _grid(40, step=0.02)  # 1,600 over 0.8 degrees
    index = mv.DeviceIndex(layer_rows(devices))
    layers = ("water",)
    whole = mv.Viewport(103.7, 21.7, 104.7, 22.7, 8.5)
    target = mv.choose_target(index, whole, layers, detail_max=500)
    assert target.mode == "clusters" and target.grid_zoom == 8
    close = mv.Viewport(103.9, 21.9, 104.0, 22.0, 12.3)
    detail = mv.choose_target(index, close, layers, detail_max=500)
    assert detail.mode == "detail"
    assert mv.Viewport(*detail.bbox, zoom=0).contains(close)  # with a margin
    # a small pan inside the margin keeps what the browser has
    nudged = mv.Viewport(103.91, 21.91, 104.01, 22.01, 12.3)
    assert mv.choose_target(index, nudged, layers, detail, detail_max=500) == detail
    # a layer switched off: nothing of it to show, so detail everywhere
    assert mv.choose_target(index, whole, ("aqi",), detail_max=500).mode == "detail"


# -- search ----------------------------------------------------------------------------------------
UNITS = demo_layers()["units"]


def test_search_finds_units_with_or_without_diacritics():
    devices = _grid(3)
    for query in ("Sa Pa", "sa pa", "SA PA", "Phường Sa Pa", "phuong sa pa"):
        hits = search_map(query, devices, UNITS)
        assert hits and hits[0].kind == "unit" and hits[0].label == "Phường Sa Pa", query
        assert hits[0].bbox is not None
        w, s, e, n = hits[0].bbox
        assert w <= hits[0].lon <= e and s <= hits[0].lat <= n
    assert search_map("bac ha", devices, UNITS)[0].label == "Xã Bắc Hà"


def test_search_finds_devices_by_id_and_name():
    devices = [*_grid(3), _device(99, 104.2, 22.3)]
    names = DeviceNames(devices)
    hit = search_map("d-00099", names, UNITS)[0]
    assert (hit.kind, hit.key, hit.lon, hit.lat) == ("device", "d-00099", 104.2, 22.3)
    assert search_map("tram so 99", names, UNITS)[0].key == "d-00099"
    assert search_map("Trạm số 99", names, UNITS)[0].key == "d-00099"
    assert search_map("", names, UNITS) == [] and search_map("zzzz qq", names, UNITS) == []


# -- the renderer with a large fleet ----------------------------------------------------------------
@pytest.fixture
def large(monkeypatch):
    monkeypatch.setattr(mv, "DETAIL_MAX", 100)
    live = FakeLive()
    devices = tuple(_grid(20, step=0.02))  # 400 devices
    for d in devices:
        live.write(d.device_id, "water_level_m", 78.0)
    mirror = LiveMirror(live)
    renderer = MapRenderer("vi", "Asia/Ho_Chi_Minh")

    def snap():
        registry = q.Registry(devices, "k400")
        version = mirror.refresh(registry.ids, min_interval_s=0)
        return MapSnapshot(registry, GEO, mirror, version,
                           LiveInputs(mirror.snapshot(), time.time()), ())

    renderer.advance(snap())
    return live, renderer, snap


WHOLE = mv.Viewport(103.7, 21.7, 104.3, 22.3, 9.2)
CLOSE = mv.Viewport(103.80, 21.80, 103.85, 21.85, 13.0)


def test_renderer_sends_clusters_then_only_changed_clusters(large):
    live, renderer, snap = large
    assert renderer.large
    state, devices, arrays, trace, _live, _areas = renderer.view_parts(WHOLE, ["water"])
    assert state["view"]["mode"] == "clusters" and devices == []
    assert sum(int(t.split()[0].replace("<b>", "")) if not t.startswith("<b>Trạm") else 1
               for t in trace["hovertext"]) == 400
    assert set(trace["marker"]["color"]) == {classify.WATER_COLOURS[0]}
    assert renderer.view_update(state, WHOLE, ["water"]).kind == "none"
    live.write("d-00000", "water_level_m", 84.0)  # alarm III
    renderer.advance(snap())
    update = renderer.view_update(state, WHOLE, ["water"])
    assert update.kind == "patch" and update.points == 1
    cluster = update.patch.to_plotly_json()["operations"]
    assert any(op["location"][:2] == ["data", CLUSTER_TRACE] for op in cluster)
    assert classify.WATER_COLOURS[3] in str(cluster) and "1 nguy hiểm" in str(cluster)


def test_renderer_sends_the_views_devices_when_zoomed_in(large):
    live, renderer, snap = large
    state, *_ = renderer.view_parts(WHOLE, ["water"])
    update = renderer.view_update(state, CLOSE, ["water"])
    assert update.kind == "patch" and update.state["view"]["mode"] == "detail"
    ops = update.patch.to_plotly_json()["operations"]
    ids = next(op["params"]["value"] for op in ops
               if op["location"] == ["data", TRACE_INDEX["water"], "customdata"])
    assert 0 < len(ids) <= 100 and "d-00000" in ids and "d-00399" not in ids
    state = update.state
    # a change of a device out of view: only the state moves on
    live.write("d-00399", "water_level_m", 84.0)
    renderer.advance(snap())
    quiet = renderer.view_update(state, CLOSE, ["water"])
    assert quiet.kind == "state"
    # a change in view: that one point
    live.write("d-00001", "water_level_m", 84.0)
    renderer.advance(snap())
    update = renderer.view_update(quiet.state, CLOSE, ["water"])
    assert update.kind == "patch" and update.points == 1
    assert "84,00 m" in str(update.patch.to_plotly_json())


def test_cluster_text_counts_by_level_in_each_language():
    from dashboards.map_view import cluster_text

    levels = [1200, 3, 0, 2, 1]  # normal, no data, watch, warning, danger
    vi = cluster_text(1206, levels, "vi")
    assert vi.startswith("<b>1.206 thiết bị</b>")
    assert "1 nguy hiểm · 2 cảnh báo · 3 không có số liệu" in vi
    en = cluster_text(1206, levels, "en")
    assert en.startswith("<b>1,206 devices</b>") and "1 danger · 2 warning" in en
