"""Checks on a layer's attributes and geometries, each returning readable problem lines."""

from __future__ import annotations

import datetime as dt
import json
import math
from collections import defaultdict

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from shapely.geometry import box
from shapely.validation import explain_validity

POLYGONS = ("Polygon", "MultiPolygon")
LINES = ("LineString", "MultiLineString")
# Geometry types each layer kind accepts.
KINDS: dict[str, tuple[str, ...]] = {
    "units": POLYGONS,
    "zones": POLYGONS,
    "points": ("Point",),
    "poi": ("Point",),
    "lines": LINES,
    "rivers": LINES,
}
VIET_NAM_BOUNDS = (102.1, 8.2, 109.5, 23.4)  # lon/lat box around the mainland and islands
LISTED = 5  # feature numbers named in an aggregated problem


def is_blank(value) -> bool:
    """True for None, NaN, pandas' missing markers and whitespace-only text."""
    if value is None or value is pd.NA or value is pd.NaT:
        return True
    if isinstance(value, float | np.floating):
        return math.isnan(value)
    return isinstance(value, str) and not value.strip()


def id_text(value) -> str | None:
    """A feature id as text (1.0 -> '1'), or None when blank."""
    if is_blank(value):
        return None
    if isinstance(value, float | np.floating) and float(value).is_integer():
        return str(int(value))
    if isinstance(value, np.generic):
        value = value.item()
    return str(value).strip()


def _where(number: int, fid: str | None) -> str:
    return f"feature {number} (id {fid!r})" if fid else f"feature {number}"


def _numbers(numbers: list[int]) -> str:
    shown = ", ".join(map(str, numbers[:LISTED]))
    more = f" and {len(numbers) - LISTED} more" if len(numbers) > LISTED else ""
    noun = "feature" if len(numbers) == 1 else "features"
    return f"{noun} {shown}{more}"


def _ids(frame: gpd.GeoDataFrame) -> list[str | None]:
    return [id_text(v) for v in frame["id"]] if "id" in frame.columns else [None] * len(frame)


def case_renames(columns, needed: tuple[str, ...]) -> dict[str, str]:
    """Columns that differ from a missing required name only in case, e.g. {'NAME': 'name'}."""
    renames = {}
    for name in needed:
        if name in columns:
            continue
        same = [c for c in columns if isinstance(c, str) and c.lower() == name.lower()]
        if len(same) == 1:
            renames[same[0]] = name
    return renames


def check_attributes(frame: gpd.GeoDataFrame, needed: tuple[str, ...]) -> list[str]:
    """Required attributes present and filled in; ids unique. Features are numbered from 1."""
    problems = []
    columns = [str(c) for c in frame.columns if c != frame.geometry.name]
    for name in needed:
        if name not in frame.columns:
            have = ", ".join(columns) or "none"
            problems.append(f"missing required attribute {name!r} (attributes in the file: {have})")
            continue
        blank = [n for n, v in enumerate(frame[name], 1) if is_blank(v)]
        if blank:
            problems.append(f"attribute {name!r} is empty in {_numbers(blank)}")
    seen: dict[str, list[int]] = defaultdict(list)
    for number, fid in enumerate(_ids(frame), 1):
        if fid is not None:
            seen[fid].append(number)
    for fid, numbers in seen.items():
        if len(numbers) > 1:
            problems.append(f"duplicate id {fid!r} in features {', '.join(map(str, numbers))}")
    return problems


def check_geometries(frame: gpd.GeoDataFrame, kind: str, *, check_range: bool = True) -> list[str]:
    """Every geometry present, of the kind's type, valid and (when in degrees) within range."""
    allowed = KINDS[kind]
    problems = []
    wrong_type: dict[str, list[int]] = defaultdict(list)
    for number, (geom, fid) in enumerate(zip(frame.geometry, _ids(frame), strict=True), 1):
        where = _where(number, fid)
        if geom is None:
            problems.append(f"{where}: no geometry")
        elif geom.is_empty:
            problems.append(f"{where}: empty geometry")
        elif geom.geom_type not in allowed:
            wrong_type[geom.geom_type].append(number)
        else:
            problems += _shape_problems(where, geom, check_range)
    for geom_type, numbers in wrong_type.items():
        need = " or ".join(allowed)
        problems.append(
            f"{_numbers(numbers)}: geometry is {geom_type}; a {kind} layer needs {need}"
        )
    return problems


def _shape_problems(where: str, geom, check_range: bool) -> list[str]:
    problems = []
    minx, miny, maxx, maxy = geom.bounds
    if not all(map(math.isfinite, (minx, miny, maxx, maxy))):
        return [f"{where}: coordinates are not finite numbers"]
    if not geom.is_valid:
        problems.append(f"{where}: invalid geometry: {explain_validity(geom)}")
    if check_range and (minx < -180 or maxx > 180 or miny < -90 or maxy > 90):
        swapped = -90 <= minx and maxx <= 90 and -180 <= miny and maxy <= 180
        hint = "are longitude and latitude swapped?" if swapped else "is the CRS right?"
        problems.append(
            f"{where}: coordinates outside longitude -180..180 / latitude -90..90 "
            f"(bounds {minx:.6g}, {miny:.6g}, {maxx:.6g}, {maxy:.6g}): {hint}"
        )
    return problems


def outside_viet_nam(frame: gpd.GeoDataFrame) -> str | None:
    """A note when a layer in degrees lies wholly outside Viet Nam (swapped axes, wrong CRS)."""
    bounds = tuple(float(b) for b in frame.total_bounds)
    if not all(map(math.isfinite, bounds)) or box(*bounds).intersects(box(*VIET_NAM_BOUNDS)):
        return None
    shown = ", ".join(f"{b:.4f}" for b in bounds)
    return f"the layer lies outside Viet Nam (bounds {shown}): check the CRS and axis order"


def jsonable(value):
    """An attribute value as JSON: numpy scalars unwrapped, NaN as null, dates as ISO text."""
    if is_blank(value) and not isinstance(value, str):
        return None
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dt.date | dt.time | pd.Timestamp):
        return value.isoformat()
    if isinstance(value, bytes):
        return value.hex()
    if isinstance(value, str | int | float | bool):
        return value
    try:
        json.dumps(value)
    except (TypeError, ValueError):
        return str(value)
    return value


def as_feature_collection(frame: gpd.GeoDataFrame) -> dict:
    """A validated frame as a GeoJSON FeatureCollection (2-D coordinates, text ids)."""
    columns = [c for c in frame.columns if c != frame.geometry.name]
    features = []
    for row, geom in zip(frame[columns].to_dict("records"), frame.geometry, strict=True):
        props = {str(k): jsonable(v) for k, v in row.items()}
        props["id"] = id_text(row["id"])
        features.append(
            {
                "type": "Feature",
                "id": props["id"],
                "properties": props,
                "geometry": json.loads(shapely.to_geojson(shapely.force_2d(geom))),
            }
        )
    return {"type": "FeatureCollection", "features": features}
