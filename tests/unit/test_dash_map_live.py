"""The live mirror of Redis and the map renderer: what each browser is sent (no Redis here: a
stand-in LiveState with the same reads)."""

from __future__ import annotations

import time

import pytest

from dashboards import classify
from dashboards import ops_queries as q
from dashboards.live_mirror import LiveMirror
from dashboards.map_figure import TRACE_INDEX, LiveInputs, MapDevice
from dashboards.map_geometry import BaseGeometry
from dashboards.map_live import PATCH_POINTS_MAX, MapRenderer, MapSnapshot
from ioc.events import decode
from ioc.live import LatestValue
from layers.catalog import demo_layers


class FakeLive:
    """LiveState's reads over an in-memory hash table and event list."""

    def __init__(self) -> None:
        self.hashes: dict[str, dict[str, LatestValue]] = {}
        self.events: list[tuple[str, dict]] = []
        self.seq = 0

    def write(self, device_id: str, metric: str, value, t: float | None = None) -> None:
        t = time.time() if t is None else t
        self.hashes.setdefault(device_id, {})[metric] = LatestValue(device_id, metric, value, t)
        self.seq += 1
        entry_id = f"{int(time.time() * 1000)}-{self.seq}"
        self.events.append(
            (entry_id, {"type": "readings", "readings": [[device_id, metric, value, t]]})
        )

    def latest_many(self, ids):
        return {d: dict(self.hashes.get(d, {})) for d in ids}

    def read_events(self, last_id="$", *, count=1000, block_ms=None):
        def key(entry_id):
            ms, seq = entry_id.split("-")
            return int(ms), int(seq)

        return [e for e in self.events if key(e[0]) > key(last_id)][:count]

    def follow_events(self, last_id="$", *, count=1000, block_ms=None):
        return [(i, decode(e)) for i, e in self.read_events(last_id, count=count)]


GEO = BaseGeometry(*(demo_layers()[k] for k in ("units", "province", "rivers", "towns")))


def _devices(n: int) -> tuple[MapDevice, ...]:
    return tuple(
        MapDevice(
            f"wl-{i:04d}",
            "disaster",
            "water_level",
            f"Trạm {i}",
            104.0,
            22.4,
            "sa_pa",
            60,
            classify.alarm_levels_of({"alarm_levels": [80, 82, 83.5]}),
        )
        for i in range(n)
    )


def _snapshot(mirror: LiveMirror, devices, **slow) -> MapSnapshot:
    registry = q.Registry(devices, str(hash(devices)))
    version = mirror.refresh(registry.ids, min_interval_s=0)
    live = LiveInputs(mirror.snapshot(), time.time(), **slow)
    return MapSnapshot(registry, GEO, mirror, version, live, ())


@pytest.fixture
def setup():
    live = FakeLive()
    devices = _devices(10)
    for d in devices:
        live.write(d.device_id, "water_level_m", 78.0)
    mirror = LiveMirror(live)
    renderer = MapRenderer("vi", "Asia/Ho_Chi_Minh")
    renderer.advance(_snapshot(mirror, devices))
    return live, devices, mirror, renderer


def _ops(patch) -> list[dict]:
    return patch.to_plotly_json()["operations"]


def test_mirror_follows_the_event_stream():
    live = FakeLive()
    live.write("a", "pm25", 10)
    mirror = LiveMirror(live)
    v1 = mirror.refresh(["a", "b"], min_interval_s=0)
    assert mirror.latest["a"]["pm25"].value == 10
    live.write("b", "pm25", 20)
    live.write("a", "pm25", 5, t=1.0)  # late and older: does not replace the newer value
    v2 = mirror.refresh(["a", "b"], min_interval_s=0)
    assert v2 == v1 + 1 and mirror.changes_since(v1) == {"b"}
    assert mirror.latest["a"]["pm25"].value == 10 and mirror.latest["b"]["pm25"].value == 20
    assert mirror.changes_since(v2) == set()
    assert mirror.changes_since(-50) is None  # too old to know
    assert not mirror.is_stale(time.time())
    assert mirror.is_stale(time.time() + 3600)


def test_first_answer_is_the_whole_figure_then_nothing(setup):
    _live, _devices, _mirror, renderer = setup
    first = renderer.update_for(None)
    assert first.kind == "full"
    assert renderer.update_for(first.state).kind == "none"
    other_lang = {**first.state, "lang": "en"}
    assert renderer.update_for(other_lang).kind == "full"


def test_a_changed_reading_is_patched_point_by_point(setup):
    live, devices, mirror, renderer = setup
    state = renderer.update_for(None).state
    live.write("wl-0003", "water_level_m", 83.9)  # alarm III
    renderer.advance(_snapshot(mirror, devices))
    update = renderer.update_for(state)
    assert update.kind == "patch" and update.points == 1
    ops = _ops(update.patch)
    water = TRACE_INDEX["water"]
    colour = next(o for o in ops if o["location"] == ["data", water, "marker", "color", 3])
    assert colour["params"]["value"] == classify.WATER_COLOURS[3]
    assert any(o["location"] == ["data", water, "hovertext", 3] for o in ops)
    # the same value again changes nothing
    live.write("wl-0003", "water_level_m", 83.9)
    renderer.advance(_snapshot(mirror, devices))
    assert renderer.update_for(update.state).kind == "none"


def test_many_changes_send_whole_arrays(setup):
    live, devices, mirror, renderer = setup
    state = renderer.update_for(None).state
    for d in devices:
        live.write(d.device_id, "water_level_m", 81.0)
    renderer.advance(_snapshot(mirror, devices))
    update = renderer.update_for(state)
    colours = next(
        o
        for o in _ops(update.patch)
        if o["location"] == ["data", TRACE_INDEX["water"], "marker", "color"]
    )
    assert colours["params"]["value"] == [classify.WATER_COLOURS[1]] * 10
    assert PATCH_POINTS_MAX >= 100


def test_slow_inputs_and_registry_changes(setup):
    _live, devices, mirror, renderer = setup
    state = renderer.update_for(None).state
    renderer.advance(_snapshot(mirror, devices, unit_levels={"03006": 4}))
    update = renderer.update_for(state)
    z = next(o for o in _ops(update.patch) if o["location"] == ["data", 0, "z"])
    assert sorted(z["params"]["value"])[-1] == 4
    # a device added: every browser gets the whole figure again
    renderer.advance(_snapshot(mirror, _devices(11)))
    assert renderer.update_for(update.state).kind == "full"


def test_a_device_going_silent_is_repainted(setup):
    live, devices, mirror, renderer = setup
    state = renderer.update_for(None).state
    # an hour later nothing has come from wl-0005 (its last value is an hour old)
    old = LatestValue("wl-0005", "water_level_m", 78.0, time.time() - 3600)
    mirror.latest["wl-0005"] = {"water_level_m": old}
    mirror.last_seen["wl-0005"] = old.time
    renderer._silent_at = 0  # the next advance checks for silence now
    renderer.advance(_snapshot(mirror, devices))
    update = renderer.update_for(state)
    colour = next(
        o
        for o in _ops(update.patch)
        if o["location"] == ["data", TRACE_INDEX["water"], "marker", "color", 5]
    )
    assert colour["params"]["value"] == classify.SILENT
