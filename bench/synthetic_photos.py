"""Synthetic phone photos of printed pages, with exactly known ground truth (part of bench/synthetic.py's set).

A page is rendered (bench/synthetic.py's fonts and texts, several sizes and widths), bent a little where the
family says so, put in perspective onto a textured, unevenly lit table, blurred, grained and saved as JPEG,
some with a phone's EXIF tags. Nothing here was chosen by looking at the corpus photo; the ranges are those
of the accuracy issue (perspective up to lines fanning by about 30 degrees, mild curvature, uneven light).

Families (each is held out in turn by bench/tuning.py):
- photo-mild: corners moved by 3-7 % of the page, even light;
- photo-strong: one side of the page much farther away (lines fan by 15-30 degrees from bottom to top);
- photo-curved: a page bent like an open book's (lines bow by 1-2 line heights) in mild perspective;
- photo-dim: mild perspective in dim, uneven light (a strong gradient and vignette).
"""

from __future__ import annotations

import io
import random
import textwrap
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

FAMILIES = ("photo-mild", "photo-strong", "photo-curved", "photo-dim")
CAMERA = ("SyntheticPhone", "Model 7")  # EXIF Make and Model of the samples that carry them


def _table(rng: np.random.Generator, size: tuple[int, int]) -> np.ndarray:
    """A textured surface: grain at a few scales, tinted, darker than paper (grey levels 70-170)."""
    width, height = size
    base = rng.uniform(70, 170)
    surface = np.full((height, width), base, dtype=np.float32)
    for cells, amplitude in ((8, 25.0), (40, 12.0), (200, 6.0)):
        coarse = rng.normal(0, amplitude, (max(2, height * cells // width), cells)).astype(np.float32)
        surface += cv2.resize(coarse, (width, height), interpolation=cv2.INTER_CUBIC)
    return surface


def _bend(page: np.ndarray, bow: float) -> np.ndarray:
    """The page bent: each column shifted down by bow * (2x/w - 1)^2 line heights (an open book's curve)."""
    height, width = page.shape
    xs = np.arange(width, dtype=np.float32)
    shift = bow * ((2 * xs / width - 1) ** 2 - 0.5)
    map_x = np.tile(xs, (height, 1))
    map_y = (np.arange(height, dtype=np.float32)[:, None] - shift[None, :]).astype(np.float32)
    return cv2.remap(page, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=255)


def _corners(rng: np.random.Generator, family: str, width: int, height: int) -> np.ndarray:
    """Where the page's corners land in the photo (before the table margin is added)."""
    corners = np.array([[0, 0], [width, 0], [width, height], [0, height]], dtype=np.float32)
    jitter = 0.07 if family != "photo-strong" else 0.03
    corners += rng.uniform(-jitter, jitter, corners.shape).astype(np.float32) * [width, height]
    if family == "photo-strong":
        # One side far away: its edge shorter, the lines fanning towards it, from level at the bottom to
        # 15-30 degrees at the top.
        fan = np.tan(np.radians(rng.uniform(15, 30)))
        top = 1 if rng.random() < 0.5 else 0  # the far side's top corner: right or left
        corners[top, 1] += fan * width
    return corners


def _light(rng: np.random.Generator, size: tuple[int, int], dim: bool) -> np.ndarray:
    """A light field: a linear gradient and a vignette; dim: much darker on one side."""
    width, height = size
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
    angle = rng.uniform(0, 2 * np.pi)
    ramp = ((xs / width - 0.5) * np.cos(angle) + (ys / height - 0.5) * np.sin(angle)) + 0.5
    spread = rng.uniform(0.45, 0.65) if dim else rng.uniform(0.05, 0.2)
    vignette = ((xs / width - 0.5) ** 2 + (ys / height - 0.5) ** 2) * (0.8 if dim else 0.3)
    level = rng.uniform(0.55, 0.75) if dim else rng.uniform(0.9, 1.0)
    return np.clip(level * (1 - spread * ramp - vignette), 0.15, 1.0)


def photograph(page: Image.Image, family: str, seed: int, line_height: float) -> Image.Image:
    """The page as a phone would photograph it, for one family (deterministic for a seed); `line_height`:
    the distance between its lines, in its pixels (how much a curved page bows)."""
    rng = np.random.default_rng(seed)
    paper = np.asarray(page.convert("L"), dtype=np.float32) * rng.uniform(0.9, 0.97)
    if family == "photo-curved":
        paper = _bend(paper, rng.uniform(1.0, 2.0) * line_height * rng.choice([-1, 1]))
    height, width = paper.shape
    margin = int(0.12 * max(width, height))
    out_size = (width + 2 * margin, height + 2 * margin)
    corners = _corners(rng, family, width, height) + margin
    source = np.array([[0, 0], [width, 0], [width, height], [0, height]], dtype=np.float32)
    matrix = cv2.getPerspectiveTransform(source, corners)
    warped = cv2.warpPerspective(paper, matrix, out_size, flags=cv2.INTER_AREA, borderValue=0)
    inside = cv2.warpPerspective(np.ones_like(paper), matrix, out_size, flags=cv2.INTER_LINEAR, borderValue=0)
    scene = inside * warped + (1 - inside) * _table(rng, out_size)
    scene *= _light(rng, out_size, dim=family == "photo-dim")
    scene = cv2.GaussianBlur(scene, (0, 0), rng.uniform(0.6, 1.3))
    scene += rng.normal(0, rng.uniform(2, 5), scene.shape).astype(np.float32)
    return Image.fromarray(np.clip(scene, 0, 255).astype(np.uint8))


def jpeg_bytes(image: Image.Image, quality: int, camera: bool) -> bytes:
    """The photo as a phone saves it: JPEG, with its Make and Model EXIF tags when `camera`."""
    buf = io.BytesIO()
    exif = Image.Exif()
    if camera:
        exif[0x010F], exif[0x0110] = CAMERA
    image.save(buf, format="JPEG", quality=quality, exif=exif.tobytes())
    return buf.getvalue()


def photo_samples(
    fonts: list[Path], prose: list[str], seed: int
) -> list[tuple[str, Image.Image, list[str], int, bool]]:
    """(family, photo, ground-truth lines, JPEG quality, camera tags) for every family and font."""
    from bench.synthetic import render_lines  # bench.synthetic imports this module

    rng = random.Random(seed)
    out = []
    for family in FAMILIES:
        for i, font in enumerate([*fonts, *fonts][: max(4, len(fonts))]):  # at least four a family
            start = rng.randrange(len(prose))
            text = " ".join(prose[(start + k) % len(prose)] for k in range(len(prose)))
            lines = textwrap.wrap(text, rng.choice([40, 50, 60]))[: rng.choice([10, 14, 18])]
            text_height = rng.choice([26, 30, 36])
            page = render_lines(lines, font, text_height, margin=1.5)
            photo = photograph(page, family, seed * 1000 + len(out), 1.5 * text_height)
            out.append((family, photo, lines, rng.choice([60, 75, 90]), i % 2 == 0))
    return out
