"""Inputs made on the fly for the reliability tests."""

from __future__ import annotations

import random
import string
from pathlib import Path

from PIL import Image, ImageDraw


def slow_page(path: Path) -> Path:
    """A page of dense random letters and speckles that keeps Tesseract busy for minutes (measured: 4-5 min
    on one shared core), while a real document page takes a second or two."""
    rng = random.Random(1)
    width, height = 2500, 3500
    image = Image.new("L", (width, height), 255)
    draw = ImageDraw.Draw(image)
    for y in range(0, height, 18):
        draw.text((5, y), "".join(rng.choice(string.ascii_letters + "  ") for _ in range(300)), fill=0)
    pixels = image.load()
    assert pixels is not None
    for _ in range(200_000):
        pixels[rng.randrange(width), rng.randrange(height)] = 0
    image.save(path)
    return path
