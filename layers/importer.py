"""Reads a province's own layer file (GeoJSON, GeoPackage, Shapefile) and validates all of it."""

from __future__ import annotations

import json
import warnings
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import geopandas as gpd
import pyogrio

from layers.validation import (
    KINDS,
    as_feature_collection,
    case_renames,
    check_attributes,
    check_geometries,
    outside_viet_nam,
)

GEOJSON_SUFFIXES = (".geojson", ".json")
SUFFIXES = (*GEOJSON_SUFFIXES, ".gpkg", ".shp", ".zip")
MAX_SHOWN = 10


class LayerFileError(Exception):
    """A layer file that cannot be loaded; `problems` lists every reason found."""

    def __init__(self, path: Path | str, problems: list[str]) -> None:
        self.path = Path(path)
        self.problems = list(problems)
        super().__init__(self._message())

    def _message(self) -> str:
        head = f"layer file {str(self.path)!r} was not loaded"
        if len(self.problems) == 1:
            return f"{head}: {self.problems[0]}"
        lines = [f"{head}: {len(self.problems)} problems"]
        lines += [f"  - {p}" for p in self.problems[:MAX_SHOWN]]
        if len(self.problems) > MAX_SHOWN:
            lines.append(f"  ... and {len(self.problems) - MAX_SHOWN} more")
        return "\n".join(lines)


@dataclass(frozen=True)
class LayerData:
    """A validated layer in EPSG:4326: its kind, its features and what was adjusted on the way."""

    kind: str
    features: dict
    notes: tuple[str, ...] = field(default=())

    @property
    def feature_ids(self) -> list[str]:
        return [f["properties"]["id"] for f in self.features["features"]]


def read_layer_file(
    path: Path | str,
    *,
    kind: str,
    required: tuple[str, ...] = ("id", "name"),
    layer: str | None = None,
) -> LayerData:
    """Read and validate a layer file; raise LayerFileError listing every problem found.

    `kind` sets the geometry type required (see KINDS); `id` is always required, as the key
    the layer is stored under. `layer` picks one layer of a GeoPackage that holds several.
    """
    if kind not in KINDS:
        raise ValueError(f"unknown layer kind {kind!r}; expected one of {', '.join(KINDS)}")
    path = Path(path)
    notes: list[str] = []
    frame = _read_frame(path, layer, notes)
    problems: list[str] = []
    frame, in_degrees = _to_wgs84(frame, problems, notes)
    if frame.empty:
        problems.append("the layer has no features")
    needed = ("id", *[name for name in required if name != "id"])
    if renames := case_renames(frame.columns, needed):
        frame = frame.rename(columns=renames)
        notes += [f"attribute {old!r} used as {new!r}" for old, new in renames.items()]
    problems += check_attributes(frame, needed)
    problems += check_geometries(frame, kind, check_range=in_degrees)
    if problems:
        raise LayerFileError(path, problems)
    if note := outside_viet_nam(frame):
        notes.append(note)
    return LayerData(kind=kind, features=as_feature_collection(frame), notes=tuple(notes))


def _read_frame(path: Path, layer: str | None, notes: list[str]) -> gpd.GeoDataFrame:
    """The file as a GeoDataFrame, or LayerFileError when it cannot be read at all."""
    suffix = path.suffix.lower()
    if suffix not in SUFFIXES:
        raise LayerFileError(
            path, [f"unknown format {suffix or '(no suffix)'!r}: expected {', '.join(SUFFIXES)}"]
        )
    if not path.is_file():
        raise LayerFileError(path, ["no such file"])
    top_level_ids: list | None = None
    if suffix in GEOJSON_SUFFIXES:
        top_level_ids = _check_geojson_text(path)
        source = str(path)
    elif suffix == ".shp":
        _check_shapefile_parts(path)
        source = str(path)
    elif suffix == ".zip":
        source = _zipped_shapefile(path)
    else:
        layer = _geopackage_layer(path, layer)
        source = str(path)
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            frame = gpd.read_file(source, layer=layer, engine="pyogrio")
    except Exception as err:  # GDAL's errors vary by driver; each is a reason to show
        raise LayerFileError(path, [f"cannot read the file: {err}"]) from err
    notes += [f"reader: {w.message}" for w in caught]
    if "id" not in frame.columns and top_level_ids and len(top_level_ids) == len(frame):
        frame["id"] = top_level_ids
        notes.append('ids taken from the features\' top-level "id" members')
    return frame


def _check_geojson_text(path: Path) -> list | None:
    """Syntax and shape of a GeoJSON file; returns the features' top-level ids if all have one."""
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError as err:
        raise LayerFileError(path, [f"not UTF-8 text (byte {err.start})"]) from err
    except json.JSONDecodeError as err:
        raise LayerFileError(
            path, [f"invalid JSON at line {err.lineno}, column {err.colno}: {err.msg}"]
        ) from err
    if not isinstance(doc, dict) or doc.get("type") != "FeatureCollection":
        found = doc.get("type") if isinstance(doc, dict) else type(doc).__name__
        raise LayerFileError(path, [f"expected a GeoJSON FeatureCollection, found {found!r}"])
    features = doc.get("features")
    if not isinstance(features, list):
        raise LayerFileError(path, ['"features" is missing or not a list'])
    ids = [f.get("id") if isinstance(f, dict) else None for f in features]
    return [str(i) for i in ids] if ids and all(i is not None for i in ids) else None


def _check_shapefile_parts(path: Path) -> None:
    missing = [
        path.with_suffix(ext).name
        for ext in (".shx", ".dbf")
        if not (path.with_suffix(ext).exists() or path.with_suffix(ext.upper()).exists())
    ]
    if missing:
        raise LayerFileError(path, [f"shapefile part missing: {', '.join(missing)}"])


def _zipped_shapefile(path: Path) -> str:
    """The GDAL path of the one shapefile inside a zip archive."""
    try:
        with zipfile.ZipFile(path) as zf:
            names = zf.namelist()
    except zipfile.BadZipFile as err:
        raise LayerFileError(path, ["not a valid zip archive"]) from err
    shps = [n for n in names if n.lower().endswith(".shp") and not n.startswith("__MACOSX")]
    if len(shps) != 1:
        found = ", ".join(shps) or "none"
        raise LayerFileError(path, [f"expected one .shp file in the archive, found {found}"])
    stem = shps[0][:-4].lower()
    missing = [ext for ext in (".shx", ".dbf") if stem + ext not in {n.lower() for n in names}]
    if missing:
        raise LayerFileError(path, [f"shapefile part missing in the archive: {', '.join(missing)}"])
    return f"/vsizip/{path.resolve()}/{shps[0]}"


def _geopackage_layer(path: Path, layer: str | None) -> str:
    """The layer to read: the one asked for, or the only one there is."""
    try:
        names = [str(row[0]) for row in pyogrio.list_layers(path)]
    except Exception as err:
        raise LayerFileError(path, [f"cannot read the file as a GeoPackage: {err}"]) from err
    if layer is not None:
        if layer not in names:
            raise LayerFileError(path, [f"no layer {layer!r}; layers: {', '.join(names)}"])
        return layer
    if len(names) != 1:
        listed = ", ".join(names) or "none"
        raise LayerFileError(path, [f"expected one layer, found {len(names)} ({listed}); name one"])
    return names[0]


def _to_wgs84(
    frame: gpd.GeoDataFrame, problems: list[str], notes: list[str]
) -> tuple[gpd.GeoDataFrame, bool]:
    """The frame in EPSG:4326 and whether it is in degrees now.

    A missing CRS is a problem; any other CRS is converted, with a note saying so.
    """
    if frame.crs is None:
        problems.append(
            "no coordinate reference system (CRS): add the .prj file, or set the layer's SRS"
        )
        return frame, False
    epsg = frame.crs.to_epsg()
    if epsg == 4326:
        return frame, True
    label = f"EPSG:{epsg}" if epsg else "a custom CRS"
    try:
        converted = frame.to_crs(4326)
    except Exception as err:
        problems.append(f"cannot convert from {label} ({frame.crs.name}) to EPSG:4326: {err}")
        return frame, False
    notes.append(f"reprojected from {label} ({frame.crs.name}) to EPSG:4326 (WGS 84)")
    return converted, True
