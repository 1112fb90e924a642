"""The blurred copy of a snapshot: faces and plates unreadable, the scene still there."""

from __future__ import annotations

import io
import random

import pytest
from PIL import Image, ImageDraw, ImageFilter, ImageStat

from evidence.blur import BlurError, blur_image

PLATE_BOX = (440, 300, 760, 380)  # where the test frame has its plate


def street_frame(width: int = 1280, height: int = 720, fmt: str = "JPEG") -> bytes:
    """A camera-like frame: a noisy scene, a face-like blob and a plate with sharp text."""
    rng = random.Random(7)
    img = Image.new("RGB", (width, height), (70, 80, 90))
    draw = ImageDraw.Draw(img)
    for _ in range(400):  # texture: small random rectangles
        x, y = rng.randrange(width), rng.randrange(height)
        colour = tuple(rng.randrange(256) for _ in range(3))
        draw.rectangle((x, y, x + rng.randrange(2, 12), y + rng.randrange(2, 12)), fill=colour)
    draw.ellipse((150, 120, 290, 300), fill=(224, 180, 150))  # a face
    draw.ellipse((185, 170, 205, 190), fill=(20, 20, 20))  # eyes
    draw.ellipse((235, 170, 255, 190), fill=(20, 20, 20))
    draw.rectangle(PLATE_BOX, fill=(250, 250, 250))
    x0, y0, x1, y1 = PLATE_BOX
    for i in range(8):  # black glyph strokes, like characters of a plate
        gx = x0 + 14 + i * 38
        draw.rectangle((gx, y0 + 12, gx + 8, y1 - 12), fill=(0, 0, 0))
        draw.rectangle((gx, y0 + 12, gx + 24, y0 + 20), fill=(0, 0, 0))
    out = io.BytesIO()
    img.save(out, format=fmt, quality=92) if fmt == "JPEG" else img.save(out, format=fmt)
    return out.getvalue()


def _open(data: bytes) -> Image.Image:
    return Image.open(io.BytesIO(data)).convert("RGB")


def _edges(img: Image.Image) -> float:
    return ImageStat.Stat(img.convert("L").filter(ImageFilter.FIND_EDGES)).mean[0]


def test_blur_removes_detail():
    original = street_frame()
    blurred = blur_image(original)
    before, after = _open(original), _open(blurred)
    assert blurred[:3] == b"\xff\xd8\xff" and blurred != original
    assert after.size == (960, 540)  # capped size, same aspect
    assert _edges(after) < _edges(before.resize(after.size)) / 3


def test_plate_text_is_unreadable():
    before = _open(street_frame())
    after = _open(blur_image(street_frame())).resize(before.size)
    plate_before = before.crop(PLATE_BOX).convert("L")
    plate_after = after.crop(PLATE_BOX).convert("L")
    # the strokes are gone: no dark glyph left on the white plate, contrast collapsed
    assert ImageStat.Stat(plate_before).stddev[0] > 80
    assert ImageStat.Stat(plate_after).stddev[0] < 25
    assert plate_after.getextrema()[0] > 60


def test_face_features_are_unreadable():
    after = _open(blur_image(street_frame())).resize((1280, 720))
    face = after.crop((150, 120, 290, 300)).convert("L")
    assert face.getextrema()[0] > 60  # the eyes are no longer there


def test_scene_colours_survive():
    before = _open(street_frame())
    after = _open(blur_image(street_frame()))
    mean_before = ImageStat.Stat(before).mean
    mean_after = ImageStat.Stat(after).mean
    assert all(abs(a - b) < 12 for a, b in zip(mean_before, mean_after, strict=True))


def test_png_and_small_images():
    assert blur_image(street_frame(fmt="PNG"))[:3] == b"\xff\xd8\xff"
    tiny = io.BytesIO()
    Image.new("RGB", (3, 2), (255, 0, 0)).save(tiny, format="PNG")
    assert _open(blur_image(tiny.getvalue())).size == (3, 2)


@pytest.mark.parametrize("data", [b"", b"not an image", b"\xff\xd8\xff\xe0" + b"x" * 50])
def test_unreadable_bytes_raise(data):
    with pytest.raises(BlurError):
        blur_image(data)
