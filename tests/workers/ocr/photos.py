"""Inputs for the photo tests, made by code with fixed seeds (bench/synthetic_photos.py): their text is exact."""

from __future__ import annotations

import io

from PIL import Image

from bench.synthetic import PROSE, font_paths, render_lines
from bench.synthetic_photos import jpeg_bytes, photograph
from workers.ocr import pages

LINES = [
    "The committee met on Tuesday to review the annual",
    "budget and the plans for the new library. Members",
    "agreed that the reading room should stay open in",
    "the evening during the winter months. A short",
    "report on the condition of the roof was presented",
    "by the buildings manager. Repairs to the heating",
    "system will be scheduled for the spring, when",
    "demand is lowest. The treasurer noted that",
]


def photo_bytes(family: str, seed: int, camera: bool = True) -> bytes:
    """A JPEG photo of LINES, as a phone saves it (with a camera's EXIF tags when `camera`)."""
    page = render_lines(LINES, font_paths()[0], 30, margin=1.5)
    return jpeg_bytes(photograph(page, family, seed, line_height=45), 85, camera)


def synthetic_photo(family: str, seed: int, camera: bool = True) -> pages.PageImage:
    """A photo of LINES as the loader gives it (JPEG with or without a camera's EXIF tags)."""
    loaded = Image.open(io.BytesIO(photo_bytes(family, seed, camera)))
    return pages.PageImage(image=loaded.convert("RGB"), dpi=None, camera=pages.has_camera_tags(loaded.getexif()))


def incomplete_page() -> Image.Image:
    """Six lines turned 30 degrees above three level ones: Tesseract reads the level ones, confidently."""
    font = font_paths()[0]
    top = render_lines(PROSE[:6], font, 30).rotate(30, expand=True, fillcolor=255, resample=Image.Resampling.BICUBIC)
    bottom = render_lines(PROSE[6:9], font, 30)
    page = Image.new("L", (max(top.width, bottom.width), top.height + bottom.height), 255)
    page.paste(top, (0, 0))
    page.paste(bottom, (0, top.height))
    return page
