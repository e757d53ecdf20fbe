"""Draw the bundled GIFs: small, looping, animated, deterministic.

Run `.venv/bin/python app/gifs/generate.py` to rewrite app/gifs/*.gif (Pillow, a dev
dependency; the service itself only reads the files). The file name is the GIF's slug and,
capitalised, its title.
"""

from __future__ import annotations

import math
import random
import sys
from collections.abc import Callable
from pathlib import Path

from PIL import Image, ImageDraw

SIZE = 64
FRAMES = 12
FRAME_MS = 90
HERE = Path(__file__).resolve().parent

Painter = Callable[[ImageDraw.ImageDraw, int], None]
_BG = (24, 26, 33)


def _bouncing_ball(draw: ImageDraw.ImageDraw, i: int) -> None:
    height = abs(math.sin(math.pi * i / FRAMES))
    y = 50 - 36 * height
    squash = 3 if i == 0 else 0
    draw.rectangle((0, 58, SIZE, SIZE), fill=(70, 70, 90))
    draw.ellipse((22 - squash, y - 10 + squash, 42 + squash, y + 8), fill=(240, 80, 60))


def _spinning_square(draw: ImageDraw.ImageDraw, i: int) -> None:
    angle = 2 * math.pi * i / FRAMES / 4  # a quarter turn per loop looks continuous
    corners = [
        (32 + 20 * math.cos(angle + k * math.pi / 2), 32 + 20 * math.sin(angle + k * math.pi / 2))
        for k in range(4)
    ]
    draw.polygon(corners, fill=(80, 170, 250))


def _pulsing_heart(draw: ImageDraw.ImageDraw, i: int) -> None:
    scale = 1 + 0.25 * math.sin(2 * math.pi * i / FRAMES)
    points = []
    for step in range(60):
        t = 2 * math.pi * step / 60
        x = 16 * math.sin(t) ** 3
        y = 13 * math.cos(t) - 5 * math.cos(2 * t) - 2 * math.cos(3 * t) - math.cos(4 * t)
        points.append((32 + x * scale * 1.3, 30 - y * scale * 1.3))
    draw.polygon(points, fill=(230, 40, 90))


def _rainbow_stripes(draw: ImageDraw.ImageDraw, i: int) -> None:
    colours = [
        (228, 3, 3),
        (255, 140, 0),
        (255, 237, 0),
        (0, 128, 38),
        (36, 64, 142),
        (115, 41, 130),
    ]
    offset = i * 8 * len(colours) // FRAMES
    for x in range(-SIZE, SIZE * 2, 8):
        colour = colours[((x + offset) // 8) % len(colours)]
        draw.polygon(
            [
                (x + offset % 8, 0),
                (x + 8 + offset % 8, 0),
                (x + 8 + offset % 8 - 32, 64),
                (x + offset % 8 - 32, 64),
            ],
            fill=colour,
        )


def _orbiting_moons(draw: ImageDraw.ImageDraw, i: int) -> None:
    draw.ellipse((24, 24, 40, 40), fill=(250, 200, 60))
    for moon, (radius, speed, colour) in enumerate(
        [(14, 1, (120, 200, 255)), (24, 2, (200, 120, 255)), (30, -1, (120, 255, 160))]
    ):
        angle = 2 * math.pi * speed * i / FRAMES + moon
        x, y = 32 + radius * math.cos(angle), 32 + radius * math.sin(angle)
        draw.ellipse((x - 3, y - 3, x + 3, y + 3), fill=colour)


def _loading_spinner(draw: ImageDraw.ImageDraw, i: int) -> None:
    for k in range(FRAMES):
        angle = 2 * math.pi * k / FRAMES
        age = (i - k) % FRAMES
        shade = max(50, 255 - age * 25)
        x, y = 32 + 20 * math.cos(angle), 32 + 20 * math.sin(angle)
        draw.ellipse((x - 4, y - 4, x + 4, y + 4), fill=(shade, shade, shade))


def _checkerboard_wave(draw: ImageDraw.ImageDraw, i: int) -> None:
    for row in range(8):
        for col in range(8):
            lift = 3 * math.sin(2 * math.pi * (i / FRAMES + col / 8))
            if (row + col) % 2:
                draw.rectangle(
                    (col * 8, row * 8 + lift, col * 8 + 7, row * 8 + 7 + lift), fill=(240, 240, 240)
                )


def _falling_rain(draw: ImageDraw.ImageDraw, i: int) -> None:
    drops = random.Random(7)
    for _ in range(24):
        x, start, length = drops.randrange(SIZE), drops.randrange(SIZE), drops.randrange(4, 9)
        y = (start + i * SIZE // FRAMES) % SIZE
        draw.line((x, y, x - 1, y + length), fill=(110, 160, 255))


def _blinking_eye(draw: ImageDraw.ImageDraw, i: int) -> None:
    openness = 1.0 if i < 8 else [0.5, 0.05, 0.5, 1.0][i - 8]
    half = 16 * openness
    draw.ellipse((10, 32 - half, 54, 32 + half), fill=(250, 250, 250))
    if openness > 0.3:
        look = 6 * math.sin(2 * math.pi * i / 8)
        draw.ellipse((24 + look, 24, 40 + look, 40), fill=(60, 140, 90))
        draw.ellipse((29 + look, 29, 35 + look, 35), fill=(10, 10, 10))


def _growing_rings(draw: ImageDraw.ImageDraw, i: int) -> None:
    for ring in range(3):
        radius = ((i / FRAMES + ring / 3) % 1) * 30
        shade = int(255 * (1 - radius / 32))
        draw.ellipse(
            (32 - radius, 32 - radius, 32 + radius, 32 + radius),
            outline=(shade // 3, shade, shade),
            width=2,
        )


def _sine_wave(draw: ImageDraw.ImageDraw, i: int) -> None:
    phase = 2 * math.pi * i / FRAMES
    points = [(x, 32 + 18 * math.sin(phase + x * 2 * math.pi / SIZE)) for x in range(SIZE)]
    draw.line(points, fill=(255, 210, 70), width=3)


def _chomping_circle(draw: ImageDraw.ImageDraw, i: int) -> None:
    mouth = 40 * abs(math.sin(math.pi * i / (FRAMES / 2)))
    for dot in range(3):
        x = 44 + dot * 12 - (i * 12 // FRAMES)
        draw.ellipse((x - 2, 30, x + 2, 34), fill=(255, 200, 180))
    draw.pieslice((6, 12, 46, 52), start=mouth / 2, end=360 - mouth / 2, fill=(255, 225, 0))


def _starfield(draw: ImageDraw.ImageDraw, i: int) -> None:
    stars = random.Random(11)
    for _ in range(30):
        angle, start = stars.uniform(0, 2 * math.pi), stars.uniform(0.05, 1)
        distance = ((start + i / FRAMES) % 1) ** 2 * 46
        x, y = 32 + distance * math.cos(angle), 32 + distance * math.sin(angle)
        size = 1 + distance / 23
        draw.rectangle((x, y, x + size, y + size), fill=(255, 255, 255))


def _color_wheel(draw: ImageDraw.ImageDraw, i: int) -> None:
    for k in range(6):
        start = k * 60 + i * 60 / FRAMES * 2
        hue = [
            (255, 80, 80),
            (255, 200, 60),
            (120, 230, 90),
            (60, 200, 230),
            (90, 110, 255),
            (220, 90, 230),
        ][k]
        draw.pieslice((8, 8, 56, 56), start=start, end=start + 60, fill=hue)
    draw.ellipse((24, 24, 40, 40), fill=_BG)


GIFS: dict[str, Painter] = {
    "bouncing-ball": _bouncing_ball,
    "spinning-square": _spinning_square,
    "pulsing-heart": _pulsing_heart,
    "rainbow-stripes": _rainbow_stripes,
    "orbiting-moons": _orbiting_moons,
    "loading-spinner": _loading_spinner,
    "checkerboard-wave": _checkerboard_wave,
    "falling-rain": _falling_rain,
    "blinking-eye": _blinking_eye,
    "growing-rings": _growing_rings,
    "sine-wave": _sine_wave,
    "chomping-circle": _chomping_circle,
    "starfield": _starfield,
    "color-wheel": _color_wheel,
}


def frames(painter: Painter) -> list[Image.Image]:
    result = []
    for i in range(FRAMES):
        image = Image.new("RGB", (SIZE, SIZE), _BG)
        painter(ImageDraw.Draw(image), i)
        result.append(image.quantize(colors=32, method=Image.Quantize.MEDIANCUT, dither=0))
    return result


def write(slug: str, painter: Painter, directory: Path = HERE) -> Path:
    path = directory / f"{slug}.gif"
    first, *rest = frames(painter)
    first.save(path, save_all=True, append_images=rest, duration=FRAME_MS, loop=0, optimize=False)
    return path


def main(directory: Path = HERE) -> None:
    for slug, painter in GIFS.items():
        path = write(slug, painter, directory)
        print(f"{path.name}: {path.stat().st_size} bytes")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else HERE)
