"""Keeps the map's per-point arrays current and tells each browser only what changed.

One `MapRenderer` per process and language holds the rendered colour and hover text of every
device. `advance()` re-renders only the devices the mirror says changed (plus whole layers
whose slow inputs changed: unit levels, camera incidents, rain totals, CAP areas, and
devices that went silent or came back). `update_for(client)` answers a browser that last got
version v with: nothing, a Patch of the changed points, or "send the whole figure".
"""

from __future__ import annotations

import threading
import time
import uuid
import weakref
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

from dash import Patch

from dashboards import ops_queries as q
from dashboards.classify import SILENT_AFTER_INTERVALS
from dashboards.live_mirror import LiveMirror, mirror_for
from dashboards.map_figure import (
    DEVICE_LAYERS,
    TRACE_INDEX,
    BaseGeometry,
    LayerArrays,
    LiveInputs,
    MapDevice,
    WarningArea,
    cap_arrays,
    layer_rows,
    render_device,
    unit_arrays,
)

HISTORY = 256
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
    return MapSnapshot(registry, geo, mirror, version, inputs, tuple(q.warning_areas(pool, geo)))


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
