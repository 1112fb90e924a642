"""Camera pictures of simulated incidents (Pillow): a street scene with what the analytics saw
-- flames, smoke, people fighting, a crash, a car and its plate, readable -- and the camera's
on-screen caption. Deterministic: the same incident gives the same bytes."""

from __future__ import annotations

import io
import random
from functools import lru_cache
from pathlib import Path

from PIL import Image, ImageDraw, ImageFilter, ImageFont

SIZE = (640, 360)
FONT_DIRS = (Path("/usr/share/fonts/truetype/dejavu"), Path("/usr/share/fonts/dejavu"),
             Path("/usr/share/fonts/TTF"))


@lru_cache(maxsize=8)
def _font(size: int, bold: bool = True) -> ImageFont.ImageFont:
    name = "DejaVuSans-Bold.ttf" if bold else "DejaVuSans.ttf"
    for folder in FONT_DIRS:
        if (folder / name).exists():
            return ImageFont.truetype(str(folder / name), size)
    return ImageFont.load_default(size)


def _scene(draw: ImageDraw.ImageDraw, rng: random.Random, night: bool) -> None:
    w, h = SIZE
    sky = (18, 24, 38) if night else (120, 150, 180)
    draw.rectangle((0, 0, w, h), fill=sky)
    x = 0
    while x < w:  # shop houses along the street
        bw, bh = rng.randrange(50, 110), rng.randrange(90, 190)
        tone = rng.randrange(60, 140) if not night else rng.randrange(30, 60)
        draw.rectangle((x, h * 0.62 - bh, x + bw, h * 0.62),
                       fill=(tone, tone - 10 if tone > 20 else tone, tone - 20 if tone > 30 else tone))
        for wy in range(int(h * 0.62 - bh + 10), int(h * 0.62 - 20), 26):
            for wx in range(x + 8, x + bw - 14, 22):
                lit = night and rng.random() < 0.5
                draw.rectangle((wx, wy, wx + 10, wy + 12),
                               fill=(230, 200, 110) if lit else (50, 60, 70))
        x += bw + rng.randrange(0, 8)
    draw.rectangle((0, h * 0.62, w, h), fill=(58, 60, 64))  # road
    for lx in range(0, w, 80):
        draw.rectangle((lx, h * 0.8, lx + 40, h * 0.8 + 5), fill=(220, 220, 200))


def _person(draw, x: int, y: int, colour, lean: int = 0) -> None:
    draw.ellipse((x - 7, y - 48, x + 7, y - 34), fill=(225, 190, 160))
    draw.line((x, y - 34, x + lean, y - 12), fill=colour, width=8)
    draw.line((x + lean, y - 12, x - 6, y), fill=(40, 40, 60), width=5)
    draw.line((x + lean, y - 12, x + 8, y), fill=(40, 40, 60), width=5)
    draw.line((x, y - 28, x + 14 + lean, y - 36), fill=colour, width=4)


def _car(draw, x: int, y: int, colour, plate: str | None) -> None:
    draw.rounded_rectangle((x, y - 70, x + 200, y), radius=14, fill=colour)
    draw.polygon([(x + 30, y - 70), (x + 55, y - 108), (x + 150, y - 108), (x + 175, y - 70)],
                 fill=colour)
    draw.polygon([(x + 40, y - 72), (x + 60, y - 102), (x + 145, y - 102), (x + 165, y - 72)],
                 fill=(40, 55, 70))
    draw.ellipse((x + 20, y - 18, x + 56, y + 18), fill=(20, 20, 20))
    draw.ellipse((x + 144, y - 18, x + 180, y + 18), fill=(20, 20, 20))
    draw.rectangle((x + 8, y - 52, x + 30, y - 40), fill=(255, 240, 180))
    draw.rectangle((x + 170, y - 52, x + 192, y - 40), fill=(255, 240, 180))
    if plate:
        font = _font(22)
        box = draw.textbbox((0, 0), plate, font=font)
        pw, ph = box[2] - box[0] + 16, box[3] - box[1] + 12
        px, py = x + 100 - pw // 2, y - 40
        draw.rectangle((px, py, px + pw, py + ph), fill=(250, 250, 250), outline=(0, 0, 0),
                       width=2)
        draw.text((px + 8 - box[0], py + 6 - box[1]), plate, font=font, fill=(0, 0, 0))


def _fire(draw, rng, x: int, y: int, smoke_only: bool) -> None:
    for i in range(7):  # smoke rising
        r = 30 + i * 12
        cx, cy = x + rng.randrange(-20, 20) + i * 8, y - 60 - i * 28
        g = 120 + i * 12
        draw.ellipse((cx - r, cy - r * 0.7, cx + r, cy + r * 0.7), fill=(g, g, g))
    if smoke_only:
        return
    for _ in range(26):  # flames
        fx, fh = x + rng.randrange(-60, 60), rng.randrange(40, 110)
        colour = rng.choice(((255, 80, 0), (255, 140, 0), (255, 200, 40), (230, 40, 20)))
        draw.polygon([(fx - 14, y), (fx + 14, y), (fx + rng.randrange(-8, 8), y - fh)],
                     fill=colour)


@lru_cache(maxsize=64)
def _background(camera: str, night: bool) -> Image.Image:
    """The camera's own street (the same in every picture of that camera)."""
    img = Image.new("RGB", SIZE)
    _scene(ImageDraw.Draw(img), random.Random(camera), night)
    return img


def draw_snapshot(kind: str, *, camera: str, caption_time: str, plate: str | None,
                  seed: str, hour: int = 12, label: str | None = None) -> bytes:
    """The JPEG of one incident: what `kind` looks like at this camera (an ordinary
    detection, kind "object", shows its `label`: a person or a vehicle)."""
    rng = random.Random(seed)
    night = hour < 6 or hour >= 19
    img = _background(camera, night).copy()
    draw = ImageDraw.Draw(img)
    w, h = SIZE
    if kind == "object":
        kind = "intrusion" if label == "person" else "traffic_violation"
    ground = int(h * 0.9)
    if kind in ("fire", "smoke"):
        _fire(draw, rng, rng.randrange(200, 440), int(h * 0.64), smoke_only=kind == "smoke")
    elif kind == "fight":
        x = rng.randrange(200, 400)
        _person(draw, x, ground, (200, 40, 40), lean=8)
        _person(draw, x + 30, ground, (40, 80, 200), lean=-8)
        _person(draw, x + 120, ground - 10, (90, 160, 90))
    elif kind == "crowd":
        for _ in range(40):
            _person(draw, rng.randrange(20, w - 20), rng.randrange(ground - 60, ground),
                    tuple(rng.randrange(60, 230) for _ in range(3)))
    elif kind == "accident":
        _car(draw, 140, ground, (200, 200, 210), plate)
        _car(draw, 300, ground - 20, (180, 30, 30), None)
    elif kind == "intrusion":
        for fx in range(0, w, 24):  # the fence of the closed zone
            draw.line((fx, int(h * 0.55), fx, int(h * 0.75)), fill=(160, 160, 160), width=3)
        draw.line((0, int(h * 0.58), w, int(h * 0.58)), fill=(160, 160, 160), width=3)
        _person(draw, rng.randrange(150, 500), ground, (30, 30, 30))
    elif kind in ("traffic_violation", "wanted_plate") or plate:
        _car(draw, rng.randrange(160, 280), ground, rng.choice(
            ((230, 230, 235), (30, 30, 35), (170, 20, 30), (40, 70, 150))), plate)
    else:
        _person(draw, rng.randrange(150, 500), ground, (120, 120, 200))
    if night:
        img = img.filter(ImageFilter.GaussianBlur(0.6))
        draw = ImageDraw.Draw(img)
    font = _font(15, bold=False)  # the camera's on-screen caption
    caption = f"{camera}  {caption_time}"
    box = draw.textbbox((8, 6), caption, font=font)
    draw.rectangle((box[0] - 4, box[1] - 3, box[2] + 4, box[3] + 3), fill=(0, 0, 0))
    draw.text((8, 6), caption, font=font, fill=(255, 255, 255))
    out = io.BytesIO()
    img.save(out, format="JPEG", quality=80, optimize=False)
    return out.getvalue()
