"""A small raster MBTiles base map of the demo province, drawn from ioc's own demo layers.

For the demo and the documentation's screenshots only, on a machine with no internet: it
draws the province's land (a made-up relief shading, not terrain data), the rivers, the
province outline and faint unit boundaries into 256 px PNG tiles. A real province makes its
base map from OpenStreetMap (README, "Offline base map"); this file has no roads or villages.

    python -m layers.demo_basemap demo-basemap.mbtiles [--max-zoom 12]
"""

from __future__ import annotations

import argparse
import io
import math
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from layers.catalog import demo_layers
from layers.tile_files import write_mbtiles

TILE = 256
SEA = (13, 21, 30)  # outside the province: the map's own background (map_figure)
LAND = np.array([28, 37, 42], dtype=np.float32)
RIVER = (38, 120, 190)
OUTLINE = (125, 147, 171)
UNIT_EDGE = (52, 66, 78)
ATTRIBUTION = ("Demo base map drawn from ioc's demo layers (Natural Earth, public domain; "
               "vietnamadminunits, MIT); relief shading made up")


def _px(lon: float, lat: float, z: int) -> tuple[float, float]:
    """Global Web Mercator pixel of (lon, lat) at zoom z."""
    n = TILE * (1 << z)
    x = (lon + 180) / 360 * n
    s = math.sin(math.radians(lat))
    y = (0.5 - math.log((1 + s) / (1 - s)) / (4 * math.pi)) * n
    return x, y


def _tile_range(bbox: tuple[float, float, float, float], z: int) -> tuple[range, range]:
    x0, y1 = _px(bbox[0], bbox[1], z)
    x1, y0 = _px(bbox[2], bbox[3], z)
    return range(int(x0 // TILE), int(x1 // TILE) + 1), range(int(y0 // TILE), int(y1 // TILE) + 1)


def _rings(geometry: dict) -> list[list]:
    kind, coords = geometry["type"], geometry["coordinates"]
    if kind == "Polygon":
        return [coords[0]]
    if kind == "MultiPolygon":
        return [poly[0] for poly in coords]
    return []


def _lines(geometry: dict) -> list[list]:
    kind, coords = geometry["type"], geometry["coordinates"]
    if kind == "LineString":
        return [coords]
    if kind in ("MultiLineString", "Polygon"):
        return list(coords)
    if kind == "MultiPolygon":
        return [ring for poly in coords for ring in poly]
    return []


def _relief(x0: float, y0: float, z: int) -> np.ndarray:
    """A smooth made-up hill shading over the tile (continuous across tiles and zooms)."""
    xs = (x0 + np.arange(TILE)) / (TILE * (1 << z))
    ys = (y0 + np.arange(TILE)) / (TILE * (1 << z))
    gx, gy = np.meshgrid(xs * 4000, ys * 4000)
    h = (np.sin(gx * 1.7 + np.cos(gy * 0.9)) + np.sin(gy * 2.3 + 0.7 * np.sin(gx * 1.1))
         + 0.5 * np.sin(gx * 5.1 + gy * 3.7) + 0.25 * np.sin(gx * 11.3 - gy * 9.1))
    return h / 2.75  # about -1..1


def render_tile(layers: dict[str, dict], z: int, x: int, y: int) -> bytes:
    x0, y0 = x * TILE, y * TILE
    province = [r for f in layers["province"]["features"] for r in _rings(f["geometry"])]
    mask = Image.new("L", (TILE, TILE), 0)
    md = ImageDraw.Draw(mask)
    for ring in province:
        md.polygon([(_px(lo, la, z)[0] - x0, _px(lo, la, z)[1] - y0) for lo, la, *_ in ring],
                   fill=255)
    relief = _relief(x0, y0, z)
    land = LAND[None, None, :] * (1 + 0.22 * relief[..., None])
    land[..., 1] += 6 * (relief + 1)  # greener on the (made-up) hills
    land_img = Image.fromarray(np.clip(land, 0, 255).astype(np.uint8), "RGB")
    img = Image.new("RGB", (TILE, TILE), SEA)
    img.paste(land_img, (0, 0), mask)
    d = ImageDraw.Draw(img)
    width = max(1, z - 8)
    for f in layers["units"]["features"]:
        for line in _lines(f["geometry"]):
            pts = [(_px(lo, la, z)[0] - x0, _px(lo, la, z)[1] - y0) for lo, la, *_ in line]
            d.line(pts, fill=UNIT_EDGE, width=1)
    for f in layers["rivers"]["features"]:
        for line in _lines(f["geometry"]):
            pts = [(_px(lo, la, z)[0] - x0, _px(lo, la, z)[1] - y0) for lo, la, *_ in line]
            d.line(pts, fill=RIVER, width=width + 2, joint="curve")
    for ring in province:
        pts = [(_px(lo, la, z)[0] - x0, _px(lo, la, z)[1] - y0) for lo, la, *_ in ring]
        d.line(pts, fill=OUTLINE, width=width + 1, joint="curve")
    out = io.BytesIO()
    img.save(out, "PNG", optimize=True)
    return out.getvalue()


def build(path: Path, min_zoom: int = 6, max_zoom: int = 12, province: str = "lao_cai") -> int:
    """Write the MBTiles file; returns the number of tiles."""
    layers = demo_layers(province)
    xs, ys = [], []
    for f in layers["province"]["features"]:
        for ring in _rings(f["geometry"]):
            xs += [c[0] for c in ring]
            ys += [c[1] for c in ring]
    bbox = (min(xs) - 0.05, min(ys) - 0.05, max(xs) + 0.05, max(ys) + 0.05)
    tiles = {}
    for z in range(min_zoom, max_zoom + 1):
        rx, ry = _tile_range(bbox, z)
        for tx in rx:
            for ty in ry:
                tiles[(z, tx, ty)] = render_tile(layers, z, tx, ty)
    write_mbtiles(path, tiles, {
        "name": f"ioc demo base map ({province})",
        "format": "png",
        "type": "baselayer",
        "minzoom": str(min_zoom),
        "maxzoom": str(max_zoom),
        "bounds": ",".join(f"{v:.4f}" for v in bbox),
        "attribution": ATTRIBUTION,
    })
    return len(tiles)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("path", type=Path, help="the MBTiles file to write")
    parser.add_argument("--min-zoom", type=int, default=6)
    parser.add_argument("--max-zoom", type=int, default=12)
    args = parser.parse_args(argv)
    n = build(args.path, args.min_zoom, args.max_zoom)
    print(f"{args.path}: {n} tiles")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
