"""The copy of a snapshot that roles without the right to see faces and plates get (Pillow).

Blurring alone can leave large text readable and can sometimes be partly undone, so the
picture is first reduced to a coarse grid (the longest side becomes `GRID` cells: a
1280-pixel frame turns into 40-pixel blocks, larger than a face or a plate in a street
camera's view) and then smoothed with a Gaussian blur so that the blocks do not suggest
shapes. What is left shows the scene (smoke, a crowd, a car's colour) and nothing else.
"""

from __future__ import annotations

import io

from PIL import Image, ImageFilter, ImageOps, UnidentifiedImageError

GRID = 32  # cells along the longest side
MAX_SIDE = 960  # the blurred copy is never larger than this
MAX_PIXELS = 40_000_000  # refuse decompression bombs (a camera frame is far smaller)


class BlurError(Exception):
    """The bytes are not an image this module can blur (the image is then withheld)."""


def blur_image(content: bytes, *, grid: int = GRID, max_side: int = MAX_SIDE) -> bytes:
    """A JPEG of `content` with faces and plates made unreadable."""
    try:
        with Image.open(io.BytesIO(content)) as img:
            if img.width * img.height > MAX_PIXELS:
                raise BlurError(f"image of {img.width}x{img.height} pixels is too large")
            img.draft("RGB", (max_side, max_side))  # JPEG: decode at a reduced size
            frame = ImageOps.exif_transpose(img).convert("RGB")
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError) as err:
        raise BlurError(f"not a readable image: {err}") from None
    frame.thumbnail((max_side, max_side))
    w, h = frame.size
    scale = grid / max(w, h)
    cells = (max(1, round(w * scale)), max(1, round(h * scale)))
    coarse = frame.resize(cells, Image.Resampling.BOX).resize((w, h), Image.Resampling.BILINEAR)
    cell_px = max(w, h) / grid
    smooth = coarse.filter(ImageFilter.GaussianBlur(radius=max(2.0, cell_px / 2)))
    out = io.BytesIO()
    smooth.save(out, format="JPEG", quality=70)
    return out.getvalue()
