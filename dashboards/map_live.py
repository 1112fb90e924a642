"""Keeps the map's per-point arrays current and tells each browser only what changed.

One `MapRenderer` per process and language holds the rendered colour and hover text of every
device. `advance()` re-renders only the devices the mirror says changed (plus whole layers
whose slow inputs changed: unit levels, camera incidents, rain totals, CAP areas, and
devices that went silent or came back). `update_for(client)` answers a browser that last got
version v with: nothing, a Patch of the changed points, or "send the whole figure".

The module is long (about 540 lines) because `MapRenderer` is one object under one lock: the
small-fleet patches and the large-fleet views (`view_update`: the devices in view or their
clusters, from map_view) read and advance the same arrays and version history, and splitting
the class would spread that lock over modules. Its pure parts live elsewhere (map_figure,
map_view).
"""

from __future__ import annotations

import threading
import time
import uuid
import weakref
from collections import OrderedDict, deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
from dash import Patch

from dashboards import map_view as mv
from dashboards import ops_queries as q
from dashboards import warning_areas as wa
from dashboards.classify import SILENT_AFTER_INTERVALS
from dashboards.live_mirror import LiveMirror, mirror_for
from dashboards.map_figure import (
    DEVICE_LAYERS,
    TRACE_INDEX,
    TRACE_ORDER,
    LayerArrays,
    LiveInputs,
    MapDevice,
    WarningArea,
    cap_arrays,
    layer_rows,
    render_device,
    unit_arrays,
)
from dashboards.map_geometry import BaseGeometry

HISTORY = 256
CLUSTER_TRACE = len(TRACE_ORDER)  # appended after the figure's own traces (large fleets only)
CLUSTER_CACHE = 64  # cluster sets remembered, to send a browser only the clusters that changed
SILENT_CHECK_S = 2.0  # how often devices are checked for having gone silent
PATCH_POINTS_MAX = 400  # beyond this many changed points, send whole layer arrays


@dataclass(frozen=True)
class MapSnapshot:
    """Everything the map shows, read at one moment."""

    registry: q.Registry
    geo: BaseGeometry
    mirror: LiveMirror
    mirror_version: int
    live: LiveInputs
    areas: tuple[WarningArea, ...]


def read_snapshot(pool, live_state) -> MapSnapshot:
    """Registry, slow inputs (cached per pool) and the mirror brought up to date."""
    registry = q.registry(pool)
    geo = q.geometry(pool)
    mirror = mirror_for(live_state)
    mirror.interval_s = registry.min_interval_s
    version = mirror.refresh(registry.ids, key=registry.key)
    inputs = LiveInputs(
        latest=mirror.snapshot(),
        now=time.time(),
        unit_levels=q.unit_levels(pool),
        incidents=q.open_incidents(pool),
        rain_24h=q.rain_24h(pool),
        aqi=q.station_aqi(pool),
    )
    return MapSnapshot(registry, geo, mirror, version, inputs, tuple(wa.warning_areas(pool, geo)))


@dataclass
class MapUpdate:
    kind: str  # "none" | "patch" | "full"
    patch: Patch | None = None
    state: dict[str, Any] = field(default_factory=dict)
    points: int = 0  # points sent in a patch


def _digest(value: Any) -> int:
    if isinstance(value, Mapping):
        return hash(tuple(sorted(value.items())))
    return hash(tuple(value))


class MapRenderer:
    def __init__(self, lang: str, tz: str) -> None:
        self.lang = lang
        self.tz = ZoneInfo(tz)
        self.epoch = uuid.uuid4().hex[:12]
        self.version = 0
        self.registry_key: str | None = None
        self.rows: dict[str, list[MapDevice]] = {}
        self.index: dict[str, tuple[str, int]] = {}
        self.arrays: dict[str, LayerArrays] = {}
        self.units: tuple[list[int], list[str]] = ([], [])
        self.cap: dict[str, Any] = {}
        self.live: LiveInputs | None = None
        self.areas: tuple[WarningArea, ...] = ()
        self._mirror: tuple[str, int] | None = None  # (epoch, version) consumed
        self._slow: dict[str, int] = {}
        self._silent: set[str] = set()
        self._silent_at = 0.0
        self._silent_after: list[tuple[str, float]] = []
        # version -> changed points {(layer, index)} or whole layers {("*", layer)}
        self._changes: deque[tuple[int, frozenset[tuple[str, Any]]]] = deque(maxlen=HISTORY)
        self._lock = threading.Lock()
        # Large fleets (more than map_view.DETAIL_MAX devices): every device in one global
        # order, its status level, and the cluster sets recently sent.
        self.dindex: mv.DeviceIndex | None = None
        self.levels = np.zeros(0, dtype=np.int8)
        self._clusters: OrderedDict[tuple, tuple[mv.Clusters, list, list, list]] = OrderedDict()

    # -- keeping current ---------------------------------------------------------------------------
    def advance(self, snap: MapSnapshot) -> int:
        with self._lock:
            live = snap.live
            slow = {
                "levels": _digest(live.unit_levels),
                "incidents": _digest(live.incidents),
                "rain": _digest(live.rain_24h),
                "aqi": _digest(live.aqi),
                "cap": hash(tuple((a.area_id, a.severity, a.headline) for a in snap.areas)),
            }
            if snap.registry.key != self.registry_key:
                self._rebuild(snap, slow)
                return self.version
            changed_ids: set[str] | None
            if self._mirror is None or self._mirror[0] != snap.mirror.epoch:
                changed_ids = None
            else:
                changed_ids = snap.mirror.changes_since(self._mirror[1])
            if changed_ids is None:
                changed_ids = set(self.index)
            if live.now - self._silent_at >= SILENT_CHECK_S:  # silence is minutes: no hurry
                silent = self._silent_set(snap.mirror.last_seen, live.now)
                changed_ids |= silent ^ self._silent
                self._silent, self._silent_at = silent, live.now
            whole = {
                layer
                for name, layers in (
                    ("incidents", ("cameras",)),
                    ("rain", ("rain",)),
                    ("aqi", ("aqi",)),
                )
                if slow[name] != self._slow.get(name)
                for layer in layers
            }
            self.live = live
            changes: set[tuple[str, Any]] = set()
            for layer in whole:
                before = self.arrays[layer]
                self.arrays[layer] = self._render_layer(layer)
                self._set_levels(layer)
                if (before.colours, before.texts) != (
                    self.arrays[layer].colours,
                    self.arrays[layer].texts,
                ):
                    changes.add(("*", layer))
            for device_id in changed_ids:
                where = self.index.get(device_id)
                if where is None or where[0] in whole:
                    continue
                layer, i = where
                device = self.rows[layer][i]
                colour, text = render_device(
                    device, live.latest.get(device_id, {}), live, self.lang, self.tz
                )
                arrays = self.arrays[layer]
                if arrays.colours[i] != colour or arrays.texts[i] != text:
                    arrays.colours[i] = colour
                    arrays.texts[i] = text
                    self.levels[self.dindex.offsets[layer] + i] = mv.status_level(layer, colour)
                    changes.add((layer, i))
            if slow["levels"] != self._slow.get("levels"):
                self.units = unit_arrays(
                    snap.geo.units, live.unit_levels, self.lang
                )
                changes.add(("*", "units"))
            if slow["cap"] != self._slow.get("cap"):
                self.areas = snap.areas
                self.cap = cap_arrays(snap.areas, self.lang, self.tz)
                changes.add(("*", "cap"))
            self._slow = slow
            self._mirror = (snap.mirror.epoch, snap.mirror_version)
            if changes:
                self.version += 1
                self._changes.append((self.version, frozenset(changes)))
            return self.version

    def _silent_set(self, last_seen: Mapping[str, float], now: float) -> set[str]:
        return {
            device_id
            for device_id, silent_after in self._silent_after
            if now - last_seen.get(device_id, now) > silent_after
        }

    def _render_layer(self, layer: str) -> LayerArrays:
        colours, texts = [], []
        for d in self.rows[layer]:
            c, h = render_device(
                d, self.live.latest.get(d.device_id, {}), self.live, self.lang, self.tz
            )
            colours.append(c)
            texts.append(h)
        return LayerArrays(colours, texts)

    def _rebuild(self, snap: MapSnapshot, slow: dict[str, int]) -> None:
        self.registry_key = snap.registry.key
        self.live = snap.live
        self.rows = layer_rows(snap.registry.devices)
        self.index = {
            d.device_id: (layer, i)
            for layer, items in self.rows.items()
            for i, d in enumerate(items)
        }
        self.arrays = {layer.key: self._render_layer(layer.key) for layer in DEVICE_LAYERS}
        self.dindex = mv.DeviceIndex(self.rows)
        self.levels = np.zeros(len(self.dindex), dtype=np.int8)
        for layer in DEVICE_LAYERS:
            self._set_levels(layer.key)
        self._clusters.clear()
        self.units = unit_arrays(snap.geo.units, snap.live.unit_levels, self.lang)
        self.areas = snap.areas
        self.cap = cap_arrays(snap.areas, self.lang, self.tz)
        self._silent_after = [
            (d.device_id, SILENT_AFTER_INTERVALS * max(1.0, d.expected_interval_s))
            for d in snap.registry.devices
        ]
        self._silent = self._silent_set(snap.mirror.last_seen, snap.live.now)
        self._silent_at = snap.live.now
        self._slow = slow
        self._mirror = (snap.mirror.epoch, snap.mirror_version)
        self.version += 1
        self._changes.clear()  # clients of an older registry need the whole figure

    def _set_levels(self, layer: str) -> None:
        start, end = self.dindex.layer_range(layer)
        self.levels[start:end] = [mv.status_level(layer, c) for c in self.arrays[layer].colours]

    # -- answering one browser -----------------------------------------------------------------------
    def full_parts(
        self,
    ) -> tuple[dict[str, Any], dict[str, LayerArrays], LiveInputs, tuple[WarningArea, ...]]:
        """(state, copies of the device arrays, inputs, CAP areas) for a whole figure."""
        with self._lock:
            arrays = {
                k: LayerArrays(list(a.colours), list(a.texts)) for k, a in self.arrays.items()
            }
            return self.state(), arrays, self.live, self.areas

    def state(self) -> dict[str, Any]:
        return {
            "epoch": self.epoch,
            "version": self.version,
            "lang": self.lang,
            "registry": self.registry_key,
        }

    def update_for(self, client: Mapping[str, Any] | None) -> MapUpdate:
        with self._lock:
            state = self.state()
            if (
                not client
                or client.get("epoch") != self.epoch
                or client.get("lang") != self.lang
                or client.get("registry") != self.registry_key
            ):
                return MapUpdate("full", state=state)
            version = int(client.get("version", -1))
            if version == self.version:
                return MapUpdate("none", state=state)
            if not self._changes or self._changes[0][0] > version + 1 or version > self.version:
                return MapUpdate("full", state=state)
            changes: set[tuple[str, Any]] = set()
            for v, items in self._changes:
                if v > version:
                    changes |= items
            return self._patch(changes, state)

    def _patch(self, changes: set[tuple[str, Any]], state: dict[str, Any]) -> MapUpdate:
        patch = Patch()
        whole = {layer for kind, layer in changes if kind == "*"}
        points: dict[str, list[int]] = {}
        for layer, i in changes:
            if layer != "*" and layer not in whole:
                points.setdefault(layer, []).append(i)
        for layer, idxs in points.items():
            if len(idxs) > PATCH_POINTS_MAX or len(idxs) > len(self.rows[layer]) // 2:
                whole.add(layer)
        sent = 0
        for layer in whole:
            trace = patch["data"][TRACE_INDEX[layer]]
            if layer == "units":
                trace["z"], trace["hovertext"] = list(self.units[0]), list(self.units[1])
            elif layer == "cap":
                for key in ("geojson", "locations", "z", "hovertext"):
                    trace[key] = self.cap[key]
            else:
                arrays = self.arrays[layer]
                trace["marker"]["color"] = list(arrays.colours)
                trace["hovertext"] = list(arrays.texts)
                sent += len(arrays.colours)
        for layer, idxs in points.items():
            if layer in whole:
                continue
            trace = patch["data"][TRACE_INDEX[layer]]
            arrays = self.arrays[layer]
            for i in sorted(idxs):
                trace["marker"]["color"][i] = arrays.colours[i]
                trace["hovertext"][i] = arrays.texts[i]
            sent += len(idxs)
        patch["layout"]["datarevision"] = f"{self.epoch}-{self.version}"
        return MapUpdate("patch", patch, state, sent)


    # -- large fleets: the devices in view, or clusters ------------------------------------------
    @property
    def detail_max(self) -> int:
        return mv.DETAIL_MAX

    @property
    def large(self) -> bool:
        """More devices than a browser should draw: each browser gets its view's share."""
        with self._lock:
            return self.dindex is not None and len(self.dindex) > self.detail_max

    def _same_base(self, client: Mapping[str, Any] | None) -> bool:
        return bool(
            client
            and client.get("epoch") == self.epoch
            and client.get("lang") == self.lang
            and client.get("registry") == self.registry_key
        )

    def _changes_since(self, version: int) -> set[tuple[str, Any]] | None:
        if not self._changes or self._changes[0][0] > version + 1 or version > self.version:
            return None
        changes: set[tuple[str, Any]] = set()
        for v, items in self._changes:
            if v > version:
                changes |= items
        return changes

    def view_parts(
        self, view: mv.Viewport, visible: Iterable[str]
    ) -> tuple[dict[str, Any], list[MapDevice], dict[str, LayerArrays], dict[str, Any],
               LiveInputs, tuple[WarningArea, ...]]:
        """(state, the view's devices, their arrays, cluster trace properties, inputs, CAP
        areas) for a whole figure of a large fleet."""
        with self._lock:
            target = mv.choose_target(self.dindex, view, visible, None, self.detail_max)
            state = {**self.state(), "view": target.state()}
            devices: list[MapDevice] = []
            arrays: dict[str, LayerArrays] = {}
            subsets = self._subsets(target) if target.mode == "detail" else {}
            for layer in DEVICE_LAYERS:
                idx = subsets.get(layer.key, ())
                rows, src = self.rows[layer.key], self.arrays[layer.key]
                devices.extend(rows[i] for i in idx)
                arrays[layer.key] = LayerArrays(
                    [src.colours[i] for i in idx], [src.texts[i] for i in idx]
                )
            props = self._cluster_props(target)[1] if target.mode == "clusters" else None
            return state, devices, arrays, mv.cluster_trace(props), self.live, self.areas

    def view_update(
        self, client: Mapping[str, Any] | None, view: mv.Viewport, visible: Iterable[str]
    ) -> MapUpdate:
        """What a browser showing `view` of a large fleet needs: "full", "none", "state" (only
        its state moves on: nothing it shows changed) or a Patch."""
        with self._lock:
            state = self.state()
            if not self._same_base(client):
                return MapUpdate("full", state=state)
            current = mv.Target.of_state(client.get("view"))
            target = mv.choose_target(self.dindex, view, visible, current, self.detail_max)
            state["view"] = target.state()
            version = int(client.get("version", -1))
            changes = self._changes_since(version) if version != self.version else set()
            patch = Patch()
            if target != current or changes is None:
                sent = self._view_whole(patch, target)
                self._areas(patch, {("*", "units"), ("*", "cap")})
            elif version == self.version:
                return MapUpdate("none", state=state)
            else:
                sent = self._areas(patch, changes)
                if target.mode == "detail":
                    sent += self._detail_points(patch, target, changes)
                else:
                    sent += self._cluster_changes(patch, target, version)
                if not sent:
                    return MapUpdate("state", state=state)
            patch["layout"]["datarevision"] = f"{self.epoch}-{self.version}"
            return MapUpdate("patch", patch, state, sent)

    def _subsets(self, target: mv.Target) -> dict[str, np.ndarray]:
        """Per layer, the indices (into the layer's rows, ascending) of the target's devices."""
        members = self.dindex.within(mv.Viewport(*target.bbox, zoom=0), target.visible)
        out = {}
        for layer in DEVICE_LAYERS:
            start, end = self.dindex.layer_range(layer.key)
            lo, hi = np.searchsorted(members, (start, end))
            out[layer.key] = members[lo:hi] - start
        return out

    def _view_whole(self, patch: Patch, target: mv.Target) -> int:
        subsets = self._subsets(target) if target.mode == "detail" else {}
        sent = 0
        for layer in DEVICE_LAYERS:
            idx = subsets.get(layer.key, ())
            rows, src = self.rows[layer.key], self.arrays[layer.key]
            trace = patch["data"][TRACE_INDEX[layer.key]]
            trace["lon"] = [rows[i].lon for i in idx]
            trace["lat"] = [rows[i].lat for i in idx]
            trace["customdata"] = [rows[i].device_id for i in idx]
            trace["hovertext"] = [src.texts[i] for i in idx]
            trace["marker"]["color"] = [src.colours[i] for i in idx]
            sent += len(idx)
        props = self._cluster_props(target)[1] if target.mode == "clusters" else None
        mv.set_cluster_trace(patch["data"][CLUSTER_TRACE], props)
        return sent + len((props or {}).get("color", []))

    def _areas(self, patch: Patch, changes: set[tuple[str, Any]]) -> int:
        sent = 0
        if ("*", "units") in changes:
            trace = patch["data"][TRACE_INDEX["units"]]
            trace["z"], trace["hovertext"] = list(self.units[0]), list(self.units[1])
            sent += 1
        if ("*", "cap") in changes:
            trace = patch["data"][TRACE_INDEX["cap"]]
            for key in ("geojson", "locations", "z", "hovertext"):
                trace[key] = self.cap[key]
            sent += 1
        return sent

    def _detail_points(
        self, patch: Patch, target: mv.Target, changes: set[tuple[str, Any]]
    ) -> int:
        subsets = self._subsets(target)
        whole = {layer for kind, layer in changes if kind == "*"}
        sent = 0
        for layer in DEVICE_LAYERS:
            if layer.key not in whole or layer.key not in target.visible:
                continue
            idx, src = subsets[layer.key], self.arrays[layer.key]
            trace = patch["data"][TRACE_INDEX[layer.key]]
            trace["hovertext"] = [src.texts[i] for i in idx]
            trace["marker"]["color"] = [src.colours[i] for i in idx]
            sent += len(idx)
        for layer, i in changes:
            if layer == "*" or layer in whole or layer not in subsets:
                continue
            idx = subsets[layer]
            pos = int(np.searchsorted(idx, i))
            if pos < len(idx) and idx[pos] == i:
                src = self.arrays[layer]
                trace = patch["data"][TRACE_INDEX[layer]]
                trace["marker"]["color"][pos] = src.colours[i]
                trace["hovertext"][pos] = src.texts[i]
                sent += 1
        return sent

    def _cluster_props(self, target: mv.Target) -> tuple[mv.Clusters, dict[str, list]]:
        """(clusters, their trace arrays) for the target at this version (cached)."""
        key = (target, self.version)
        cached = self._clusters.get(key)
        if cached is not None:
            return cached
        members = self.dindex.within(mv.Viewport(*target.bbox, zoom=0), target.visible)
        found = mv.cluster(self.dindex, members, self.levels, target.grid_zoom)
        props: dict[str, list] = {
            k: [] for k in ("lon", "lat", "customdata", "hovertext", "color", "size")
        }
        for k in range(len(found)):
            g = int(found.worst[k])
            layer = mv.LAYER_KEYS[int(self.dindex.layer[g])]
            i = g - self.dindex.offsets[layer]
            count = int(found.count[k])
            props["color"].append(self.arrays[layer].colours[i])
            props["size"].append(mv.cluster_size(count))
            if count == 1:  # a lone device is itself: its own place, text and click
                device = self.rows[layer][i]
                props["lon"].append(device.lon)
                props["lat"].append(device.lat)
                props["hovertext"].append(self.arrays[layer].texts[i])
                props["customdata"].append(device.device_id)
            else:
                lon, lat = round(float(found.lon[k]), 5), round(float(found.lat[k]), 5)
                props["lon"].append(lon)
                props["lat"].append(lat)
                props["hovertext"].append(mv.cluster_text(count, found.levels[k], self.lang))
                props["customdata"].append(f"@{lon},{lat},{target.grid_zoom}")
        entry = (found, props)
        self._clusters[key] = entry
        while len(self._clusters) > CLUSTER_CACHE:
            self._clusters.popitem(last=False)
        return entry

    def _cluster_changes(self, patch: Patch, target: mv.Target, version: int) -> int:
        old = self._clusters.get((target, version))
        found, props = self._cluster_props(target)
        trace = patch["data"][CLUSTER_TRACE]
        if old is None or not np.array_equal(old[0].keys, found.keys):
            mv.set_cluster_trace(trace, props)
            return len(props["color"])
        sent = 0
        before = old[1]
        for k in range(len(props["color"])):
            if (before["color"][k], before["hovertext"][k]) != (
                props["color"][k],
                props["hovertext"][k],
            ):
                trace["marker"]["color"][k] = props["color"][k]
                trace["hovertext"][k] = props["hovertext"][k]
                sent += 1
        return sent


_renderers: weakref.WeakKeyDictionary[Any, dict[str, MapRenderer]] = weakref.WeakKeyDictionary()
_renderers_lock = threading.Lock()


def renderer_for(live_state, lang: str, tz: str) -> MapRenderer:
    """The process's renderer for one web context (keyed by its LiveState) and language."""
    with _renderers_lock:
        per_lang = _renderers.setdefault(live_state, {})
        renderer = per_lang.get(lang)
        if renderer is None:
            renderer = per_lang[lang] = MapRenderer(lang, tz)
        return renderer
