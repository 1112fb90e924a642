"""The offline base map and label glyphs, served by ioc itself behind the log-in.

A province sets `IOC_WEB_MAP_TILES_FILE` to one MBTiles or PMTiles file of its area
(layers/tile_files.py reads both); ioc then serves

- `/tiles/{z}/{x}/{y}.{png|jpg|webp|pbf}`: the file's tiles (404 outside it), cached by the
  browser for a day and revalidated by ETag; the URL carries the file's version (`?v=`), so a
  new file is fetched at once;
- `/tiles/tilejson.json` and `/tiles/style.json`: TileJSON 3.0 and a MapLibre style of the
  file, for other map clients on the province's network;
- `/map-glyphs/{fontstack}/{start}-{end}.pbf`: label glyphs (dashboards/map_glyphs.py).

Every route sits behind the same gate as the pages (dashboards/auth.py: a session cookie,
else 401 or the log-in page). `map_base()` tells the map figures what to draw.
"""

from __future__ import annotations

import hashlib
import logging
import re
import threading
from collections import Counter
from pathlib import Path

from flask import Response, abort, has_request_context, jsonify, request

from dashboards import map_glyphs
from dashboards.context import context
from dashboards.map_style import MapBase, map_style
from ioc.config import Settings
from layers.tile_files import MIME, OSM_ATTRIBUTION, TileFile, TileFileError, open_tile_file

log = logging.getLogger(__name__)

TILE_CACHE_SECONDS = 86_400
GLYPH_CACHE_SECONDS = 7 * 86_400
# Requests served per route and outcome ("tile 200", "tile 404", "glyphs 200"...): what a
# test or an operator looks at to see that the map's tiles came from ioc.
REQUESTS: Counter[str] = Counter()

_lock = threading.Lock()
_open: dict[Path, tuple[tuple[int, int], TileFile | None]] = {}


def tile_file(path: Path | None) -> TileFile | None:
    """The reader of the configured file, opened once (again when the file changes); None
    when there is no file or it cannot be read (logged: the map is then drawn without it)."""
    if path is None:
        return None
    try:
        st = path.stat()
        stamp = (st.st_mtime_ns, st.st_size)
    except OSError as err:
        log.error("base map file %s: %s", path, err)
        return None
    with _lock:
        held = _open.get(path)
        if held is not None and held[0] == stamp:
            return held[1]
        if held is not None and held[1] is not None:
            held[1].close()
        try:
            reader: TileFile | None = open_tile_file(path)
        except TileFileError as err:
            log.error("base map not drawn: %s", err)
            reader = None
        _open[path] = (stamp, reader)
        return reader


def _version(reader: TileFile) -> str:
    st = reader.path.stat()
    return hashlib.sha1(f"{reader.path}:{st.st_mtime_ns}:{st.st_size}".encode()).hexdigest()[:10]


def _absolute(path: str) -> str:
    """`path` as an absolute URL of this server: MapLibre loads vector tiles in a web worker,
    where a relative URL does not resolve."""
    if not has_request_context():
        return path
    return request.host_url.rstrip("/") + request.script_root + path


def attribution(reader: TileFile) -> str:
    return reader.info.attribution or OSM_ATTRIBUTION


def map_base(settings: Settings | None = None) -> MapBase:
    """What the map figures draw under and over their layers, for this request."""
    settings = settings or context().settings
    glyphs = (_absolute("/map-glyphs/{fontstack}/{range}.pbf")
              if map_glyphs.labels_available() else None)
    reader = tile_file(settings.web.map_tiles_file)
    if reader is not None:
        info = reader.info
        return MapBase(
            tiles=_absolute(f"/tiles/{{z}}/{{x}}/{{y}}.{info.format}?v={_version(reader)}"),
            vector=info.is_vector,
            minzoom=info.minzoom,
            maxzoom=info.maxzoom,
            bounds=info.bounds,
            attribution=attribution(reader),
            glyphs=glyphs,
            own_file=True,
        )
    if settings.web.map_tile_url:
        return MapBase(tiles=settings.web.map_tile_url, glyphs=glyphs)
    return MapBase(glyphs=glyphs)


# -- routes --------------------------------------------------------------------------------------
def _reader_or_404() -> TileFile:
    reader = tile_file(context().settings.web.map_tiles_file)
    if reader is None:
        REQUESTS["tile 404"] += 1
        abort(404)
    return reader


def tile_view(z: int, x: int, y: int, ext: str) -> Response:
    reader = _reader_or_404()
    info = reader.info
    if ext != info.format or not info.minzoom <= z <= info.maxzoom or max(x, y) >= (1 << z):
        REQUESTS["tile 404"] += 1
        abort(404)
    found = reader.tile(z, x, y)
    if found is None:
        REQUESTS["tile 404"] += 1
        # no tile here (outside the province): an empty answer the browser may keep too
        resp = Response(status=404)
        resp.headers["Cache-Control"] = f"private, max-age={TILE_CACHE_SECONDS}"
        return resp
    data, gzipped = found
    etag = hashlib.sha1(data).hexdigest()[:16]
    resp = Response(data, mimetype=MIME[info.format])
    resp.headers["Cache-Control"] = f"private, max-age={TILE_CACHE_SECONDS}"
    resp.set_etag(etag)
    if gzipped:
        resp.headers["Content-Encoding"] = "gzip"
    REQUESTS["tile 200"] += 1
    return resp.make_conditional(request)


def tilejson_view() -> Response:
    reader = _reader_or_404()
    info = reader.info
    body = {
        "tilejson": "3.0.0",
        "name": info.name,
        "attribution": attribution(reader),
        "scheme": "xyz",
        "tiles": [_absolute(f"/tiles/{{z}}/{{x}}/{{y}}.{info.format}?v={_version(reader)}")],
        "minzoom": info.minzoom,
        "maxzoom": info.maxzoom,
        "vector_layers": [{"id": layer, "fields": {}} for layer in info.vector_layers],
    }
    if info.bounds:
        body["bounds"] = list(info.bounds)
    REQUESTS["tilejson 200"] += 1
    return jsonify(body)


def style_view() -> Response:
    _reader_or_404()
    REQUESTS["style 200"] += 1
    return jsonify(map_style(map_base()))


_RANGE = re.compile(r"^(\d+)-(\d+)$")


def glyphs_view(fontstack: str, glyph_range: str) -> Response:
    m = _RANGE.match(glyph_range)
    if not m or int(m.group(2)) != int(m.group(1)) + 255 or not map_glyphs.labels_available():
        REQUESTS["glyphs 404"] += 1
        abort(404)
    try:
        data = map_glyphs.glyph_range(fontstack[:200], int(m.group(1)))
    except ValueError:
        REQUESTS["glyphs 404"] += 1
        abort(404)
    resp = Response(data, mimetype="application/x-protobuf")
    resp.headers["Cache-Control"] = f"private, max-age={GLYPH_CACHE_SECONDS}"
    REQUESTS["glyphs 200"] += 1
    return resp


def register_base_map_routes(server) -> None:
    """Mount the tile and glyph routes (called from create_app; the gate covers them)."""
    server.add_url_rule("/tiles/<int:z>/<int:x>/<int:y>.<ext>", "base_map_tile", tile_view,
                        methods=["GET"])
    server.add_url_rule("/tiles/tilejson.json", "base_map_tilejson", tilejson_view,
                        methods=["GET"])
    server.add_url_rule("/tiles/style.json", "base_map_style", style_view, methods=["GET"])
    server.add_url_rule("/map-glyphs/<path:fontstack>/<glyph_range>.pbf", "base_map_glyphs",
                        glyphs_view, methods=["GET"])
