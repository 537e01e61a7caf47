"""Image operations for preprocessing: quarter turns, skew angle and deskew, dark borders, rescaling.

Pure functions of Pillow images (numpy for the measurements); no OCR engine here.
"""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageOps

WHITE = 255
# The skew search works on a copy whose longer side is at most this many pixels (enough for 0.1 degree
# steps), and on at most SKEW_MAX_POINTS of its ink pixels, evenly picked.
SKEW_WORK_SIZE = 1600
SKEW_MAX_POINTS = 100_000

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
    gray = grayscale(image)
    scale = 1.0
    if max_side and max(gray.size) > max_side:
        scale = max_side / max(gray.size)
        gray = gray.resize(
            (max(1, round(gray.width * scale)), max(1, round(gray.height * scale))), Image.Resampling.BOX
        )
    pixels = np.asarray(gray, dtype=np.uint8)
    return pixels <= otsu_threshold(pixels), scale


def skew_angle(image: Image.Image, max_angle: float = 10.0, step: float = 0.1) -> tuple[float, float]:
    """The text lines' skew in degrees (positive: lines fall to the right) and the strength of that answer.

    Projection profiles: the ink's row histogram is sharpest when its rows follow the text lines. The
    strength is the best angle's sharpness over the straight one's (1.0: no better than leaving it).
    """
    mask, _ = ink_mask(image, SKEW_WORK_SIZE)
    ys, xs = np.nonzero(mask)
    if len(ys) < 50 or len(ys) > 0.5 * mask.size:
        return 0.0, 1.0
    if len(ys) > SKEW_MAX_POINTS:
        stride = -(-len(ys) // SKEW_MAX_POINTS)
        ys, xs = ys[::stride], xs[::stride]
    ys = ys.astype(np.float64)
    xs = xs.astype(np.float64) - mask.shape[1] / 2
    height = mask.shape[0]

    def sharpness(angle: float) -> float:
        t = np.tan(np.radians(angle))
        rows = np.round(ys - xs * t).astype(np.int64)
        profile = np.bincount(rows - rows.min())
        return float(np.sum(np.diff(profile.astype(np.float64)) ** 2)) / height

    coarse = np.arange(-max_angle, max_angle + 1e-9, 0.5)
    best = max(coarse, key=sharpness)
    fine = np.arange(best - 0.5, best + 0.5 + 1e-9, step)
    best = max(fine, key=sharpness)
    straight = sharpness(0.0)
    return round(float(best), 2), (sharpness(best) / straight if straight else 1.0)


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
