"""The committed demo layers, which unit a point lies in, and the former units' crosswalk."""

from __future__ import annotations

import json
import re
from functools import lru_cache
from pathlib import Path

import shapely
from shapely.geometry import Point, shape
from shapely.strtree import STRtree

DATA_DIR = Path(__file__).resolve().parent / "data"
DEMO_LAYERS = ("province", "units", "legacy_districts", "towns", "rivers", "poi")
# The importer's kind for each demo layer (it sets the geometry type required).
DEMO_LAYER_KINDS = {
    "province": "zones",
    "units": "units",
    "legacy_districts": "zones",
    "towns": "points",
    "rivers": "rivers",
    "poi": "poi",
}
# The layer of the units before 1 July 2025: shown only in history views, "trước 1/7/2025".
HISTORY_LAYER = "legacy_districts"


def provinces() -> list[str]:
    """The provinces that have committed demo layers."""
    return sorted(p.name for p in DATA_DIR.iterdir() if (p / "units.geojson").is_file())


def demo_layer_path(layer: str, province: str = "lao_cai") -> Path:
    """The committed file of one demo layer; ValueError for an unknown layer or province."""
    if layer not in DEMO_LAYERS:
        raise ValueError(f"unknown demo layer {layer!r}; expected one of {', '.join(DEMO_LAYERS)}")
    if not re.fullmatch(r"[a-z][a-z0-9_]*", province) or province not in provinces():
        raise ValueError(f"no demo layers for province {province!r}; have {provinces()}")
    return DATA_DIR / province / f"{layer}.geojson"


def demo_layers(province: str = "lao_cai") -> dict[str, dict]:
    """Every demo layer of a province as a GeoJSON FeatureCollection, read from disk now."""
    return {
        layer: json.loads(demo_layer_path(layer, province).read_text(encoding="utf-8"))
        for layer in DEMO_LAYERS
    }


def crosswalk(province: str = "lao_cai") -> dict:
    """The former communes (before 1 July 2025) and the unit(s) each went into.

    `communes` rows: former_code, former_name, former_district (our id), former_district_code,
    former_province_code, units (codes). From the package's conversion table (see SOURCE.md).
    """
    path = demo_layer_path("units", province).parent / "crosswalk.json"
    return json.loads(path.read_text(encoding="utf-8"))


def former_district_units(province: str = "lao_cai") -> dict[str, set[str]]:
    """Former district id -> the units its communes went into (wholly or partly)."""
    out: dict[str, set[str]] = {}
    for row in crosswalk(province)["communes"]:
        out.setdefault(row["former_district"], set()).update(row["units"])
    return out


class UnitLocator:
    """Point-in-polygon lookup over unit polygons, indexed once when built."""

    def __init__(self, units: dict) -> None:
        features = sorted(units["features"], key=lambda f: str(f["properties"]["id"]))
        self._ids = [str(f["properties"]["id"]) for f in features]
        self._shapes = [shape(f["geometry"]) for f in features]
        shapely.prepare(self._shapes)
        self._tree = STRtree(self._shapes)

    @classmethod
    def for_demo(cls, province: str = "lao_cai") -> UnitLocator:
        """A locator over the committed demo units of a province."""
        path = demo_layer_path("units", province)
        return cls(json.loads(path.read_text(encoding="utf-8")))

    def unit_at(self, lon: float, lat: float) -> str | None:
        """The id of the unit containing (lon, lat), or None when it lies in none.

        A point on a shared edge goes to the unit whose id sorts first.
        """
        hits = self._tree.query(Point(lon, lat), predicate="intersects")
        return self._ids[min(hits)] if len(hits) else None


@lru_cache(maxsize=8)
def _demo_locator(province: str) -> UnitLocator:
    return UnitLocator.for_demo(province)


def unit_at(lon: float, lat: float, province: str = "lao_cai") -> str | None:
    """The demo unit containing (lon, lat); the index is built on first use, then reused."""
    return _demo_locator(province).unit_at(lon, lat)
