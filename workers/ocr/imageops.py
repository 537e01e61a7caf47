"""Image operations for preprocessing: quarter turns, skew angle and deskew, dark borders, rescaling.

Pure functions of Pillow images (numpy for the measurements); no OCR engine here.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageOps

WHITE = 255
# The skew search works on a copy whose longer side is at most this many pixels (enough for 0.1 degree
# steps), and on at most SKEW_MAX_POINTS of its ink pixels, picked at random with a fixed seed.
SKEW_WORK_SIZE = 1600
SKEW_MAX_POINTS = 20_000

_TRANSPOSE = {
    90: Image.Transpose.ROTATE_270,  # PIL's ROTATE_n turns counter-clockwise; 90 clockwise is ROTATE_270
    180: Image.Transpose.ROTATE_180,
    270: Image.Transpose.ROTATE_90,
}


def turn_clockwise(image: Image.Image, degrees: int) -> Image.Image:
    """Turn by a multiple of 90 degrees clockwise, losslessly."""
    degrees %= 360
    if degrees == 0:
        return image
    if degrees not in _TRANSPOSE:
        raise ValueError(f"not a quarter turn: {degrees}")
    return image.transpose(_TRANSPOSE[degrees])


def grayscale(image: Image.Image) -> Image.Image:
    return image if image.mode == "L" else image.convert("L")


def otsu_threshold(gray: np.ndarray) -> int:
    """The gray level that best splits the histogram (Otsu): levels up to it are dark, above it light."""
    hist = np.bincount(gray.ravel(), minlength=256).astype(np.float64)
    total = hist.sum()
    if total == 0:
        return 128
    levels = np.arange(256, dtype=np.float64)
    weight_dark = np.cumsum(hist)
    weight_light = total - weight_dark
    sum_dark = np.cumsum(hist * levels)
    mean_dark = sum_dark / np.maximum(weight_dark, 1)
    mean_light = (sum_dark[-1] - sum_dark) / np.maximum(weight_light, 1)
    between = weight_dark * weight_light * (mean_dark - mean_light) ** 2
    return int(np.argmax(between))


def ink_mask(image: Image.Image, max_side: int | None = None) -> tuple[np.ndarray, float]:
    """Dark pixels (text) as a boolean array, of a copy scaled to at most `max_side`, and that scale."""
    if image.mode == "1":  # bilevel: black is ink, nothing to threshold
        if max_side and max(image.size) > max_side:
            factor = -(-max(image.size) // max_side)
            small = image.resize((image.width // factor, image.height // factor), Image.Resampling.NEAREST)
            return ~np.asarray(small, dtype=bool), small.width / image.width
        return ~np.asarray(image, dtype=bool), 1.0
    gray = grayscale(image)
    scale = 1.0
    if max_side and max(gray.size) > max_side:
        factor = -(-max(gray.size) // max_side)
        gray = gray.reduce(factor)  # a box filter by a whole factor: several times faster than resize
        scale = gray.width / image.width
    pixels = np.asarray(gray, dtype=np.uint8)
    return pixels <= otsu_threshold(pixels), scale


Ink = tuple[np.ndarray, float]  # what ink_mask returns, to share between measures of one image


def skew_angle(
    image: Image.Image, max_angle: float = 10.0, step: float = 0.1, ink: Ink | None = None
) -> tuple[float, float]:
    """The text lines' skew in degrees (positive: lines fall to the right) and the strength of that answer.

    Projection profiles: the ink's row histogram is sharpest when its rows follow the text lines. The
    strength is the best angle's sharpness over the straight one's (1.0: no better than leaving it). All
    the angles of a search are scored in one pass over the ink points.
    """
    mask, _ = ink or ink_mask(image, SKEW_WORK_SIZE)
    ys, xs = np.nonzero(mask)
    if len(ys) < 50 or len(ys) > 0.5 * mask.size:
        return 0.0, 1.0
    if len(ys) > SKEW_MAX_POINTS:
        # A seeded random sample: an evenly strided one forms a lattice whose rows line up at made-up angles.
        pick = np.random.default_rng(0).choice(len(ys), SKEW_MAX_POINTS, replace=False)
        ys, xs = ys[pick], xs[pick]
    ys = ys.astype(np.float64)
    xs = xs.astype(np.float64) - mask.shape[1] / 2
    height = mask.shape[0]

    def sharpness(angles: np.ndarray) -> np.ndarray:
        rows = np.round(ys[None, :] - xs[None, :] * np.tan(np.radians(angles))[:, None]).astype(np.int64)
        rows -= rows.min(axis=1, keepdims=True)
        span = int(rows.max()) + 1
        profiles = np.bincount((rows + np.arange(len(angles))[:, None] * span).ravel(), minlength=len(angles) * span)
        diffs = np.diff(profiles.reshape(len(angles), span).astype(np.float64), axis=1)
        return np.asarray(np.sum(diffs**2, axis=1) / height)

    coarse = np.arange(-max_angle, max_angle + 1e-9, 0.5)
    best = float(coarse[int(np.argmax(sharpness(coarse)))])
    fine = np.arange(best - 0.5, best + 0.5 + 1e-9, step)
    scores = sharpness(np.append(fine, 0.0))
    best_index = int(np.argmax(scores[:-1]))
    straight = float(scores[-1])
    return round(float(fine[best_index]), 2), (float(scores[best_index]) / straight if straight else 1.0)


def rotate_degrees(image: Image.Image, angle: float) -> Image.Image:
    """Turn counter-clockwise by `angle` degrees about the centre, keeping the size; corners come in white.

    Bilevel images stay bilevel (nearest neighbour: ten times faster, and Tesseract reads them as well).
    """
    if image.mode == "1":
        return image.rotate(angle, resample=Image.Resampling.NEAREST, fillcolor=1)
    fill = WHITE if len(image.getbands()) == 1 else (WHITE,) * len(image.getbands())
    return image.rotate(angle, resample=Image.Resampling.BILINEAR, fillcolor=fill)


def clear_dark_borders(image: Image.Image, max_fraction: float = 0.1) -> tuple[Image.Image, float]:
    """Whiten the dark areas that touch the image's edges (scanner background, shadows of the sheet).

    Only pixels reachable from an edge through dark pixels along a row or column go; nothing changes when
    that would be more than `max_fraction` of the image (light text on a dark ground). Returns the image and
    the fraction of pixels whitened.
    """
    gray = grayscale(image)
    pixels = np.asarray(gray, dtype=np.uint8)
    dark = pixels <= min(otsu_threshold(pixels), 127)
    reach = np.zeros_like(dark)
    for axis in (0, 1):
        reach |= np.cumprod(dark, axis=axis, dtype=np.uint8).astype(bool)
        flipped = np.flip(dark, axis=axis)
        reach |= np.flip(np.cumprod(flipped, axis=axis, dtype=np.uint8).astype(bool), axis=axis)
    fraction = float(reach.mean())
    if fraction == 0 or fraction > max_fraction:
        return image, 0.0
    out = pixels.copy()
    out[reach] = WHITE
    return Image.fromarray(out), fraction


def add_border(image: Image.Image, width: int) -> Image.Image:
    fill: int | tuple[int, ...] = WHITE if image.mode in ("L", "1") else (WHITE,) * len(image.getbands())
    return ImageOps.expand(image, border=width, fill=fill)


def rescale(image: Image.Image, factor: float) -> Image.Image:
    size = (max(1, round(image.width * factor)), max(1, round(image.height * factor)))
    source = image.convert("L") if image.mode == "1" else image
    return source.resize(size, Image.Resampling.LANCZOS if factor < 1 else Image.Resampling.BICUBIC)


@dataclass(frozen=True)
class TextMetrics:
    text_height: float  # median height (px) of the bands of rows that hold ink: about one line of text
    margin: float  # the least white space (px) between the ink and an edge of the image
    ink_width: int  # the size (px) of the box around all the ink
    ink_height: int


def text_metrics(image: Image.Image, ink: Ink | None = None) -> TextMetrics | None:
    """How high the text is and how much white is around it, from the rows of the ink; None when there is
    no ink, or so much that the measure means nothing (noise, a photo, a dark page)."""
    mask, scale = ink or ink_mask(image, SKEW_WORK_SIZE)
    fraction = float(mask.mean())
    if fraction == 0 or fraction > 0.5:
        return None
    rows = mask.sum(axis=1) >= max(1, int(0.002 * mask.shape[1]))
    cols = mask.any(axis=0)
    if not rows.any():
        return None
    heights = []
    run = 0
    for has_ink in [*rows.tolist(), False]:
        if has_ink:
            run += 1
        elif run:
            heights.append(run)
            run = 0
    bands = [h for h in heights if h >= 3] or heights
    row_idx = np.flatnonzero(rows)
    col_idx = np.flatnonzero(cols)
    top, bottom = int(row_idx[0]), int(row_idx[-1])
    left, right = int(col_idx[0]), int(col_idx[-1])
    margin = min(top, left, mask.shape[0] - 1 - bottom, mask.shape[1] - 1 - right)
    return TextMetrics(
        text_height=float(np.median(bands)) / scale,
        margin=margin / scale,
        ink_width=round((right - left + 1) / scale),
        ink_height=round((bottom - top + 1) / scale),
    )


def ink_runs_vertically(image: Image.Image) -> bool:
    """Whether the box around the ink is taller than wide: a word or line turned a quarter."""
    metrics = text_metrics(image)
    return metrics is not None and metrics.ink_height > metrics.ink_width
