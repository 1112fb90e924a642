"""Map label glyphs served by ioc itself: MapLibre's signed-distance-field glyph ranges (.pbf).

MapLibre draws text only from glyph ranges of 256 code points, fetched from the style's
`glyphs` URL; by default that is a font server on the internet. ioc renders them from a local
TrueType font instead (DejaVu Sans, Noto Sans or Liberation Sans, whichever the machine has;
`fonts-dejavu-core` on Debian), so unit and town labels draw with no internet. Each range is
made once per process (a few hundred milliseconds) and kept.

The format is the one of `fontnik`/`sdf-glyph-foundry`: 24 px glyphs, a 3 px border, the
distance field scaled so that the glyph's edge is 191 and each pixel outwards 32 less.
"""

from __future__ import annotations

import functools
import logging
from pathlib import Path

import numpy as np
from PIL import ImageFont

from layers.tile_files import uvarint

log = logging.getLogger(__name__)

FONT_SIZE = 24
BORDER = 3
FONT_FILES = (
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/truetype/noto/NotoSans-Regular.ttf",
    "/usr/share/fonts/truetype/liberation/LiberationSans-Regular.ttf",
)
BOLD_FONT_FILES = (
    "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf",
    "/usr/share/fonts/truetype/noto/NotoSans-Bold.ttf",
    "/usr/share/fonts/truetype/liberation/LiberationSans-Bold.ttf",
)
FONT = "Noto Sans Regular"  # the font stack names the styles ask for (any name works)
BOLD_FONT = "Noto Sans Bold"


def font_file(bold: bool = False) -> Path | None:
    """The first font of the list present on this machine (None: labels are not drawn)."""
    for name in BOLD_FONT_FILES if bold else FONT_FILES:
        if Path(name).is_file():
            return Path(name)
    return None


def labels_available() -> bool:
    return font_file() is not None


# -- protobuf, by hand (three small messages) ---------------------------------------------------
def _field_varint(number: int, value: int) -> bytes:
    return uvarint(number << 3) + uvarint(value)


def _field_bytes(number: int, value: bytes) -> bytes:
    return uvarint(number << 3 | 2) + uvarint(len(value)) + value


def _zigzag(value: int) -> int:
    return (value << 1) ^ (value >> 31)


# -- signed distance field -----------------------------------------------------------------------
def _sdf(alpha: np.ndarray) -> np.ndarray:
    """The glyph's distance field (bytes, edge = 191) from its coverage (0..1), with border."""
    a = np.pad(alpha, BORDER)
    inside = a >= 0.5
    h, w = a.shape
    ys, xs = np.mgrid[0:h, 0:w]
    pts = np.stack([ys.ravel(), xs.ravel()], axis=1).astype(np.float32)
    dist = np.full(h * w, 8.0, dtype=np.float32)
    if inside.any():
        # boundary pixels: inside pixels with an outside neighbour, and the reverse
        pad = np.pad(inside, 1)
        neighbour_out = ~(pad[:-2, 1:-1] & pad[2:, 1:-1] & pad[1:-1, :-2] & pad[1:-1, 2:])
        neighbour_in = pad[:-2, 1:-1] | pad[2:, 1:-1] | pad[1:-1, :-2] | pad[1:-1, 2:]
        edge_in = np.argwhere(inside & neighbour_out).astype(np.float32)
        edge_out = np.argwhere(~inside & neighbour_in).astype(np.float32)
        flat_inside = inside.ravel()
        if len(edge_out):
            d_in = np.sqrt(((pts[flat_inside, None, :] - edge_out[None]) ** 2).sum(-1)).min(1)
            dist[flat_inside] = -(d_in - 0.5)
        if len(edge_in):
            d_out = np.sqrt(((pts[~flat_inside, None, :] - edge_in[None]) ** 2).sum(-1)).min(1)
            dist[~flat_inside] = d_out - 0.5
        partial = ((a > 0) & (a < 1)).ravel()
        dist[partial] = 0.5 - a.ravel()[partial]  # anti-aliased edge: a sub-pixel distance
    value = np.clip(np.rint(191 - 32 * dist), 0, 255).astype(np.uint8)
    return value.reshape(h, w)


@functools.lru_cache(maxsize=4)
def _font(bold: bool) -> ImageFont.FreeTypeFont | None:
    path = font_file(bold) or font_file(False)
    if path is None:
        return None
    return ImageFont.truetype(str(path), FONT_SIZE, layout_engine=ImageFont.Layout.BASIC)


def _glyph(font: ImageFont.FreeTypeFont, code: int, missing: bytes) -> bytes | None:
    ch = chr(code)
    ascent = font.getmetrics()[0]
    advance = int(round(font.getlength(ch)))
    mask, (left, top_px) = font.getmask2(ch, mode="L")
    width, height = mask.size
    data = bytes(mask)
    if code > 32 and data == missing:
        return None  # the font has no glyph: MapLibre then draws nothing for it
    msg = _field_varint(1, code)
    if width and height:
        alpha = np.frombuffer(data, dtype=np.uint8).reshape(height, width) / 255.0
        msg += _field_bytes(2, _sdf(alpha).tobytes())
    msg += _field_varint(3, width) + _field_varint(4, height)
    # top: the glyph's top above the baseline, less the 24 px em MapLibre's layout assumes
    msg += _field_varint(5, _zigzag(left)) + _field_varint(6, _zigzag(ascent - top_px - 24))
    msg += _field_varint(7, advance)
    return msg


@functools.lru_cache(maxsize=64)
def glyph_range(fontstack: str, start: int) -> bytes:
    """The glyphs PBF of code points start..start+255 under the name `fontstack`."""
    if start < 0 or start % 256 or start > 65280:
        raise ValueError(f"not a glyph range start: {start}")
    font = _font("bold" in fontstack.lower())
    glyphs = b""
    if font is not None:
        missing = bytes(font.getmask2("\U0010fffd", mode="L")[0])
        for code in range(start, start + 256):
            if 0xD800 <= code <= 0xDFFF or code < 32 or 127 <= code < 160:
                continue
            glyph = _glyph(font, code, missing)
            if glyph is not None:
                glyphs += _field_bytes(3, glyph)
    stack = _field_bytes(1, fontstack.encode()) + _field_bytes(2, f"{start}-{start + 255}".encode())
    return _field_bytes(1, stack + glyphs)
