"""A province's offline base map: tiles read from one MBTiles or PMTiles (v3) file.

MBTiles is SQLite (`tiles(zoom_level, tile_column, tile_row, tile_data)`, rows counted from
the south: TMS) with a `metadata` table; PMTiles v3 is one file of a 127-byte header, a root
directory, optional leaf directories and the tile data, tiles addressed by a Hilbert-curve
tile id (https://github.com/protomaps/PMTiles/blob/main/spec/v3/spec.md). Both may hold raster
(png, jpg, webp) or vector (pbf, Mapbox Vector Tile) tiles. Read only; no network.
"""

from __future__ import annotations

import gzip
import json
import sqlite3
import struct
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

RASTER_FORMATS = ("png", "jpg", "webp")
VECTOR_FORMAT = "pbf"
MIME = {"png": "image/png", "jpg": "image/jpeg", "webp": "image/webp",
        "pbf": "application/x-protobuf"}
OSM_ATTRIBUTION = "© OpenStreetMap contributors (ODbL)"


class TileFileError(ValueError):
    """The file is missing, unreadable, or not a tile file this reader understands."""


@dataclass(frozen=True)
class TileSetInfo:
    """What a style needs to know of a tile file (from its metadata or header)."""

    format: str  # png | jpg | webp | pbf
    minzoom: int
    maxzoom: int
    bounds: tuple[float, float, float, float] | None  # west, south, east, north
    name: str = ""
    attribution: str = ""
    tile_size: int = 256
    vector_layers: tuple[str, ...] = field(default=())

    @property
    def is_vector(self) -> bool:
        return self.format == VECTOR_FORMAT


def _format_of(fmt: str) -> str:
    fmt = (fmt or "").strip().lower()
    return {"jpeg": "jpg", "mvt": "pbf", "vector": "pbf"}.get(fmt, fmt)


def _sniff(data: bytes) -> str | None:
    if data.startswith(b"\x89PNG"):
        return "png"
    if data.startswith(b"\xff\xd8"):
        return "jpg"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "webp"
    return None


class TileFile:
    """Base of the two readers: `info` and `tile(z, x, y)` -> (bytes, gzip-encoded) or None."""

    path: Path
    info: TileSetInfo

    def tile(self, z: int, x: int, y: int) -> tuple[bytes, bool] | None:  # pragma: no cover
        raise NotImplementedError

    def close(self) -> None:
        pass


# -- MBTiles -------------------------------------------------------------------------------------
class MBTiles(TileFile):
    def __init__(self, path: Path):
        self.path = path
        self._lock = threading.Lock()
        try:
            self._db = sqlite3.connect(f"file:{path}?mode=ro&immutable=1", uri=True,
                                       check_same_thread=False)
            meta = dict(self._db.execute("SELECT name, value FROM metadata").fetchall())
            sample = self._db.execute("SELECT tile_data FROM tiles LIMIT 1").fetchone()
            zooms = self._db.execute(
                "SELECT min(zoom_level), max(zoom_level) FROM tiles").fetchone()
        except sqlite3.Error as err:
            raise TileFileError(f"{path}: not a readable MBTiles file ({err})") from err
        fmt = _format_of(meta.get("format", ""))
        if not fmt and sample:
            fmt = _sniff(bytes(sample[0])) or ""
        if fmt not in (*RASTER_FORMATS, VECTOR_FORMAT):
            raise TileFileError(f"{path}: MBTiles format {meta.get('format')!r} is not one of "
                                "png, jpg, webp, pbf")
        bounds = None
        try:
            if meta.get("bounds"):
                w, s, e, n = (float(v) for v in meta["bounds"].split(","))
                bounds = (w, s, e, n)
        except ValueError:
            bounds = None
        layers: tuple[str, ...] = ()
        if meta.get("json"):
            try:
                layers = tuple(str(layer["id"]) for layer in
                               json.loads(meta["json"]).get("vector_layers", []))
            except (ValueError, TypeError, KeyError, AttributeError):
                layers = ()
        self.info = TileSetInfo(
            format=fmt,
            minzoom=int(meta.get("minzoom", zooms[0] if zooms[0] is not None else 0)),
            maxzoom=int(meta.get("maxzoom", zooms[1] if zooms[1] is not None else 14)),
            bounds=bounds,
            name=meta.get("name", path.stem),
            attribution=meta.get("attribution", ""),
            vector_layers=layers,
        )

    def tile(self, z: int, x: int, y: int) -> tuple[bytes, bool] | None:
        tms_y = (1 << z) - 1 - y
        with self._lock:
            row = self._db.execute(
                "SELECT tile_data FROM tiles WHERE zoom_level = ? AND tile_column = ? "
                "AND tile_row = ?", (z, x, tms_y)).fetchone()
        if row is None:
            return None
        data = bytes(row[0])
        return data, data[:2] == b"\x1f\x8b"

    def close(self) -> None:
        self._db.close()


# -- PMTiles v3 ----------------------------------------------------------------------------------
PMTILES_HEADER = struct.Struct("<7sBQQQQQQQQQQQBBBBBBiiiiBii")
_COMPRESSION = {0: "unknown", 1: "none", 2: "gzip", 3: "brotli", 4: "zstd"}
_TILE_TYPE = {1: "pbf", 2: "png", 3: "jpg", 4: "webp"}


def zxy_to_tileid(z: int, x: int, y: int) -> int:
    """The PMTiles tile id: tiles of all lower zooms, then the Hilbert index at zoom z."""
    if z > 31 or x >= (1 << z) or y >= (1 << z) or min(x, y, z) < 0:
        raise ValueError(f"tile {z}/{x}/{y} is out of range")
    acc = ((1 << (2 * z)) - 1) // 3
    d = 0
    s = (1 << z) >> 1
    while s > 0:
        rx = 1 if x & s else 0
        ry = 1 if y & s else 0
        d += s * s * ((3 * rx) ^ ry)
        if ry == 0:
            if rx == 1:
                x, y = s - 1 - (x % s), s - 1 - (y % s)
            x, y = y, x
        s >>= 1
    return acc + d


def _varints(buf: bytes, count: int, pos: int) -> tuple[list[int], int]:
    out = []
    for _ in range(count):
        value, shift = 0, 0
        while True:
            b = buf[pos]
            pos += 1
            value |= (b & 0x7F) << shift
            if b < 0x80:
                break
            shift += 7
        out.append(value)
    return out, pos


def decode_directory(buf: bytes) -> list[tuple[int, int, int, int]]:
    """Entries (tile_id, offset, length, run_length) of one uncompressed directory."""
    (n,), pos = _varints(buf, 1, 0)
    deltas, pos = _varints(buf, n, pos)
    runs, pos = _varints(buf, n, pos)
    lengths, pos = _varints(buf, n, pos)
    raw_offsets, pos = _varints(buf, n, pos)
    entries, tile_id = [], 0
    for i in range(n):
        tile_id += deltas[i]
        if raw_offsets[i] == 0 and i > 0:
            offset = entries[-1][1] + entries[-1][2]
        else:
            offset = raw_offsets[i] - 1
        entries.append((tile_id, offset, lengths[i], runs[i]))
    return entries


class PMTiles(TileFile):
    MAX_DEPTH = 4  # root + up to three levels of leaves (the spec allows no more)

    def __init__(self, path: Path):
        self.path = path
        self._lock = threading.Lock()
        self._dirs: OrderedDict[tuple[int, int], list] = OrderedDict()
        try:
            self._f = path.open("rb")
            raw = self._f.read(127)
        except OSError as err:
            raise TileFileError(f"{path}: cannot read ({err.strerror or err})") from err
        if len(raw) < 127 or raw[:7] != b"PMTiles":
            raise TileFileError(f"{path}: not a PMTiles file")
        h = PMTILES_HEADER.unpack(raw)
        if h[1] != 3:
            raise TileFileError(f"{path}: PMTiles version {h[1]}, only version 3 is read")
        (self._root_off, self._root_len, meta_off, meta_len, self._leaf_off, _leaf_len,
         self._data_off, _data_len) = h[2:10]
        self._internal = _COMPRESSION.get(h[14], "unknown")
        tile_compression = _COMPRESSION.get(h[15], "unknown")
        fmt = _TILE_TYPE.get(h[16])
        if fmt is None:
            raise TileFileError(f"{path}: PMTiles tile type {h[16]} is not one of "
                                "mvt, png, jpg, webp")
        if self._internal not in ("none", "gzip") or tile_compression not in ("none", "gzip",
                                                                              "unknown"):
            raise TileFileError(f"{path}: PMTiles compression {self._internal}/"
                                f"{tile_compression}: only none and gzip are read")
        self._gzip_tiles = tile_compression == "gzip"
        meta: dict[str, Any] = {}
        if meta_len:
            try:
                meta = json.loads(self._decompress(self._read(meta_off, meta_len)))
            except (ValueError, OSError):
                meta = {}
        layers = tuple(str(v.get("id")) for v in meta.get("vector_layers", [])
                       if isinstance(v, dict))
        self.info = TileSetInfo(
            format=fmt,
            minzoom=h[17],
            maxzoom=h[18],
            bounds=(h[19] / 1e7, h[20] / 1e7, h[21] / 1e7, h[22] / 1e7),
            name=str(meta.get("name", path.stem)),
            attribution=str(meta.get("attribution", "")),
            vector_layers=layers,
        )

    def _read(self, offset: int, length: int) -> bytes:
        with self._lock:
            self._f.seek(offset)
            return self._f.read(length)

    def _decompress(self, data: bytes) -> bytes:
        return gzip.decompress(data) if self._internal == "gzip" else data

    def _directory(self, offset: int, length: int) -> list:
        key = (offset, length)
        entries = self._dirs.get(key)
        if entries is None:
            entries = decode_directory(self._decompress(self._read(offset, length)))
            self._dirs[key] = entries
            if len(self._dirs) > 64:
                self._dirs.popitem(last=False)
        return entries

    def tile(self, z: int, x: int, y: int) -> tuple[bytes, bool] | None:
        try:
            tile_id = zxy_to_tileid(z, x, y)
        except ValueError:
            return None
        offset, length = self._root_off, self._root_len
        for _depth in range(self.MAX_DEPTH):
            entries = self._directory(offset, length)
            entry = _find(entries, tile_id)
            if entry is None:
                return None
            _tid, e_off, e_len, run = entry
            if run > 0:
                return self._read(self._data_off + e_off, e_len), self._gzip_tiles
            offset, length = self._leaf_off + e_off, e_len
        return None

    def close(self) -> None:
        self._f.close()


def _find(entries: list, tile_id: int):
    """The entry holding `tile_id` (a tile run covering it, or the leaf before it)."""
    lo, hi = 0, len(entries) - 1
    while lo <= hi:
        mid = (lo + hi) // 2
        diff = tile_id - entries[mid][0]
        if diff > 0:
            lo = mid + 1
        elif diff < 0:
            hi = mid - 1
        else:
            return entries[mid]
    if hi >= 0:
        entry = entries[hi]
        if entry[3] == 0 or tile_id - entry[0] < entry[3]:
            return entry
    return None


def open_tile_file(path: str | Path) -> TileFile:
    """An MBTiles or PMTiles reader for `path` (told apart by the file's first bytes)."""
    path = Path(path)
    try:
        with path.open("rb") as f:
            head = f.read(16)
    except OSError as err:
        raise TileFileError(f"{path}: cannot read ({err.strerror or err})") from err
    if head.startswith(b"PMTiles"):
        return PMTiles(path)
    if head.startswith(b"SQLite format 3\x00"):
        return MBTiles(path)
    raise TileFileError(f"{path}: neither an MBTiles (SQLite) nor a PMTiles file")


# -- writers (tests, and the demo base map of docs/screenshots) --------------------------------
def write_mbtiles(path: str | Path, tiles: dict[tuple[int, int, int], bytes],
                  metadata: dict[str, str]) -> None:
    """An MBTiles file of `tiles` keyed by XYZ (z, x, y)."""
    path = Path(path)
    path.unlink(missing_ok=True)
    db = sqlite3.connect(path)
    with db:
        db.execute("CREATE TABLE metadata (name TEXT, value TEXT)")
        db.execute("CREATE TABLE tiles (zoom_level INTEGER, tile_column INTEGER, "
                   "tile_row INTEGER, tile_data BLOB)")
        db.execute("CREATE UNIQUE INDEX tile_index ON tiles (zoom_level, tile_column, tile_row)")
        db.executemany("INSERT INTO metadata VALUES (?, ?)", list(metadata.items()))
        db.executemany("INSERT INTO tiles VALUES (?, ?, ?, ?)",
                       [(z, x, (1 << z) - 1 - y, data) for (z, x, y), data in tiles.items()])
    db.close()


def uvarint(value: int) -> bytes:
    """An unsigned LEB128 varint (PMTiles directories, protobuf)."""
    out = bytearray()
    while True:
        b = value & 0x7F
        value >>= 7
        if value:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def write_pmtiles(path: str | Path, tiles: dict[tuple[int, int, int], bytes], *,
                  tile_type: str, metadata: dict[str, Any],
                  bounds: tuple[float, float, float, float] = (-180, -85, 180, 85),
                  gzip_tiles: bool = False) -> None:
    """A PMTiles v3 file (root directory only, gzip directories) of `tiles` keyed by (z, x, y)."""
    by_id = sorted((zxy_to_tileid(*k), v) for k, v in tiles.items())
    data, entries, offset = bytearray(), [], 0
    for tile_id, blob in by_id:
        entries.append((tile_id, offset, len(blob)))
        data += blob
        offset += len(blob)
    d = bytearray(uvarint(len(entries)))
    last = 0
    for tile_id, _o, _n in entries:
        d += uvarint(tile_id - last)
        last = tile_id
    d += b"".join(uvarint(1) for _ in entries)
    d += b"".join(uvarint(n) for _t, _o, n in entries)
    d += b"".join(uvarint(o + 1) for _t, o, _n in entries)
    root = gzip.compress(bytes(d))
    meta = gzip.compress(json.dumps(metadata).encode())
    type_code = {v: k for k, v in _TILE_TYPE.items()}[_format_of(tile_type)]
    zooms = [k[0] for k in tiles]
    root_off = 127
    meta_off = root_off + len(root)
    data_off = meta_off + len(meta)
    header = PMTILES_HEADER.pack(
        b"PMTiles", 3, root_off, len(root), meta_off, len(meta), data_off, 0, data_off,
        len(data), len(entries), len(entries), len(entries), 1, 2, 2 if gzip_tiles else 1,
        type_code, min(zooms), max(zooms), *(int(round(v * 1e7)) for v in bounds),
        min(zooms), int(round((bounds[0] + bounds[2]) / 2 * 1e7)),
        int(round((bounds[1] + bounds[3]) / 2 * 1e7)))
    Path(path).write_bytes(header + root + meta + bytes(data))
