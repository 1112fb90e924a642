"""The map's search box: a device (by id or name) or a unit (commune or ward name, with or
without diacritics, or its code) -> where to fly (pure)."""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from dashboards.map_figure import MapDevice
from layers.units import fold, search_units, units_of

DEVICE_ZOOM = 14.0  # a device is shown close up, among its neighbours


@dataclass(frozen=True)
class SearchHit:
    kind: str  # "device" | "unit"
    key: str  # device id or unit code
    label: str
    lon: float
    lat: float
    bbox: tuple[float, float, float, float] | None = None  # a unit's extent


def _bbox(geometry: Mapping[str, Any]) -> tuple[float, float, float, float] | None:
    xs: list[float] = []
    ys: list[float] = []

    def walk(coords):
        if coords and isinstance(coords[0], int | float):
            xs.append(float(coords[0]))
            ys.append(float(coords[1]))
        else:
            for c in coords or ():
                walk(c)

    walk((geometry or {}).get("coordinates"))
    return (min(xs), min(ys), max(xs), max(ys)) if xs else None


class DeviceNames:
    """Folded "name id" of every device, built once per registry (50,000 names take a while)."""

    def __init__(self, devices: Sequence[MapDevice]) -> None:
        self.devices = list(devices)
        self.by_id = {d.device_id.lower(): d for d in self.devices}
        self.text = [fold(f"{d.name} {d.device_id}") for d in self.devices]


_names: dict[str, DeviceNames] = {}
_names_lock = threading.Lock()


def device_names(key: str, devices: Sequence[MapDevice]) -> DeviceNames:
    """The folded names of a registry (by its key), cached for the last two registries."""
    with _names_lock:
        names = _names.get(key)
        if names is None:
            names = DeviceNames(devices)
            if len(_names) >= 2:
                _names.pop(next(iter(_names)))
            _names[key] = names
        return names


def search_map(
    query: str | None,
    devices: Sequence[MapDevice] | DeviceNames,
    units: Mapping[str, Any],
    limit: int = 8,
) -> list[SearchHit]:
    """Devices and units matching `query`, best first: a device whose id is the query, then
    units (the ones whose name starts with it first), then devices whose name or id contains
    every word of it. Case and diacritics are ignored ("sa pa" finds "Phường Sa Pa")."""
    words = fold(query or "").split()
    if not words:
        return []
    names = devices if isinstance(devices, DeviceNames) else DeviceNames(devices)
    hits: list[SearchHit] = []
    exact = names.by_id.get((query or "").strip().lower())
    if exact is not None:
        hits.append(_device_hit(exact))
    geometry = {
        str((f.get("properties") or {}).get("id")): f.get("geometry")
        for f in units.get("features", [])
    }
    for unit in search_units(units_of(units), query or "", limit=limit):
        box = _bbox(geometry.get(unit.code) or {})
        if unit.centre is not None:
            lon, lat = unit.centre
        elif box is not None:
            lon, lat = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
        else:
            continue
        hits.append(SearchHit("unit", unit.code, unit.name, lon, lat, box))
    key = " ".join(words)
    found = [
        d
        for d, text in zip(names.devices, names.text, strict=True)
        if all(w in text for w in words) and d is not exact
    ]
    found.sort(key=lambda d: (not fold(d.name).startswith(key), fold(d.name), d.device_id))
    hits.extend(_device_hit(d) for d in found[: max(0, limit - len(hits))])
    return hits[:limit]


def _device_hit(d: MapDevice) -> SearchHit:
    return SearchHit("device", d.device_id, f"{d.name} ({d.device_id})", d.lon, d.lat)
