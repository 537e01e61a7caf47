"""Phone photos of pages: whether an input looks like one, and the page found and flattened for reading.

Signs of a photo (`photo_signs`, cheap: a thumbnail and the EXIF tags the loader passed on): a camera's
EXIF tags, a page outline inside the frame (a bright quadrilateral on a darker ground, found with OpenCV's
contours), uneven light (the paper's level varying across the image), text lines fanning (their angle in
the top and bottom bands of the text differing).

Flattening (`flatten`), with OpenCV throughout:
1. illumination: the paper's level (a morphological closing of a small copy) divided out, so that dim and
   bright parts of the page read alike; this moves no pixels;
2. perspective: the page's outline (a quadrilateral: cv2.findContours, cv2.approxPolyDP) or, where there is
   none, the text lines' geometry (the angle of the top and bottom bands of text, by projection profiles,
   and the text's left and right extent) mapped to a rectangle (cv2.getPerspectiveTransform,
   cv2.warpPerspective), cropped to the page;
3. dewarp: where the lines still bow, each line's curve fitted (a parabola through its ink) and the page
   remapped so that they run straight (cv2.remap).
Every step that moves pixels records its transform in the reading's `Chain` (geometry.py), so the words
read on the flattened image land on the user's original photo.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np
from PIL import Image

from workers.ocr import imageops
from workers.ocr.coverage import TextInk, text_ink
from workers.ocr.geometry import Chain, Projective, Remap

THUMB = 512  # the signs are read on a copy this large
MIN_PAGE_SHARE = 0.2  # an outline covers at least this share of the photo ...
FRAME_MARGIN = 0.02  # ... and lies this far (share of the side) inside its frame somewhere
UNEVEN_LIGHT = 0.2  # the paper's level varies by this share of its brightest or more
FAN_DEGREES = 2.0  # the top and bottom bands of text differ in angle by this much or more
MAX_FAN_DEGREES = 40.0
MIN_BOW = 0.3  # lines bowing by this many line heights are dewarped
REMAP_STEP = 4  # the dewarp's maps are kept at every 4th pixel in the chain


@dataclass
class Flattened:
    image: Image.Image
    chain: Chain  # from the page as loaded to `image`
    steps: list[str] = field(default_factory=list)  # what was done, for result.json's preprocessing.steps


def _thumb(gray: np.ndarray) -> tuple[np.ndarray, float]:
    scale = min(1.0, THUMB / max(gray.shape))
    small = cv2.resize(gray, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA) if scale < 1 else gray
    return small, scale


def _paper_level(small: np.ndarray) -> np.ndarray:
    """The brightness of the paper under the text: a closing wider than letters, smoothed."""
    size = max(7, (min(small.shape) // 25) | 1)
    closed = cv2.morphologyEx(small, cv2.MORPH_CLOSE, cv2.getStructuringElement(cv2.MORPH_RECT, (size, size)))
    return cv2.GaussianBlur(closed, (0, 0), size / 2)


def page_outline(small: np.ndarray) -> np.ndarray | None:
    """The page as a quadrilateral (4 x 2, thumbnail pixels, clockwise from top left), when a bright page lies
    on a darker ground inside the frame; None when there is no such outline (a scan, a page filling it)."""
    blurred = cv2.GaussianBlur(small, (5, 5), 0)
    _, bright = cv2.threshold(blurred, 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    kernel = cv2.getStructuringElement(cv2.MORPH_RECT, (9, 9))
    bright = cv2.morphologyEx(bright, cv2.MORPH_CLOSE, kernel)
    contours, _ = cv2.findContours(bright, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    if not contours:
        return None
    hull = cv2.convexHull(max(contours, key=cv2.contourArea))
    height, width = small.shape
    if cv2.contourArea(hull) < MIN_PAGE_SHARE * width * height:
        return None
    quad = cv2.approxPolyDP(hull, 0.02 * cv2.arcLength(hull, True), True).reshape(-1, 2).astype(np.float32)
    if len(quad) != 4:
        return None
    margin = FRAME_MARGIN * max(width, height)
    inside = (quad[:, 0] > margin) & (quad[:, 0] < width - margin) & (quad[:, 1] > margin)
    inside &= quad[:, 1] < height - margin
    if not inside.any():
        return None  # the "page" is the whole frame
    return _clockwise(quad)


def _clockwise(quad: np.ndarray) -> np.ndarray:
    """Corners ordered top left, top right, bottom right, bottom left."""
    sums, diffs = quad.sum(axis=1), np.diff(quad, axis=1).ravel()
    return np.array([quad[np.argmin(sums)], quad[np.argmin(diffs)], quad[np.argmax(sums)], quad[np.argmax(diffs)]])


def _band_angles(gray: np.ndarray, text: TextInk) -> tuple[tuple[float, float], tuple[float, float]] | None:
    """The text lines' angle in the top and the bottom third of the text, each with its band's middle row
    (page pixels): (angle, y) for the top band, then the bottom band."""
    ys = text.centres[:, 1]
    top, bottom = np.percentile(ys, [2, 98])
    if bottom - top < 4 * float(np.median(text.heights)):
        return None
    bands = []
    for lo, hi in ((top, top + (bottom - top) / 3), (bottom - (bottom - top) / 3, bottom)):
        pad = int(2 * np.median(text.heights))
        crop = gray[max(0, int(lo) - pad) : int(hi) + pad]
        ink = imageops.ink_mask(Image.fromarray(crop), imageops.SKEW_WORK_SIZE)
        angle, strength = imageops.skew_angle(Image.fromarray(crop), MAX_FAN_DEGREES, ink=ink)
        if strength < 1.5:
            return None
        bands.append((angle, (lo + hi) / 2))
    return bands[0], bands[1]


def fanned(gray: np.ndarray, text: TextInk) -> bool:
    angles = _band_angles(gray, text) if text.measurable else None
    return angles is not None and abs(angles[0][0] - angles[1][0]) >= FAN_DEGREES


def photo_signs(image: Image.Image, camera: bool, text: TextInk) -> list[str]:
    """Why the image looks like a photo of a page (empty: it does not)."""
    gray = np.asarray(image.convert("L"))
    small, _ = _thumb(gray)
    signs = ["camera"] if camera else []
    if page_outline(small) is not None:
        signs.append("outline")
    level = _paper_level(small)
    lo, hi = np.percentile(level, [5, 95])
    if hi > 0 and (hi - lo) / hi >= UNEVEN_LIGHT:
        signs.append("uneven-light")
    if not signs and fanned(gray, text):
        signs.append("fanned-lines")
    return signs


def flatten_light(gray: np.ndarray) -> np.ndarray:
    """The paper's level divided out (a white page in even light); moves no pixels."""
    small, _ = _thumb(gray)
    level = cv2.resize(_paper_level(small), (gray.shape[1], gray.shape[0]), interpolation=cv2.INTER_LINEAR)
    flat = gray.astype(np.float32) / np.maximum(level.astype(np.float32), 1.0) * 255.0
    return np.clip(flat, 0, 255).astype(np.uint8)


def _rectify(quad: np.ndarray) -> tuple[np.ndarray, tuple[int, int]]:
    """The homography taking a quadrilateral (page pixels) to an upright rectangle of its sides' lengths."""
    tl, tr, br, bl = quad
    width = max(np.linalg.norm(tr - tl), np.linalg.norm(br - bl))
    height = max(np.linalg.norm(bl - tl), np.linalg.norm(br - tr))
    target = np.array([[0, 0], [width, 0], [width, height], [0, height]], dtype=np.float32)
    return cv2.getPerspectiveTransform(quad.astype(np.float32), target), (round(width), round(height))


def _text_quad(gray: np.ndarray, text: TextInk) -> np.ndarray | None:
    """A quadrilateral from the text lines: the top and bottom bands' lines (angle through their middle)
    cut by the text's left and right extent, padded by two line heights."""
    angles = _band_angles(gray, text)
    if angles is None or abs(angles[0][0] - angles[1][0]) < FAN_DEGREES:
        return None
    pad = 2 * float(np.median(text.heights))
    left, right = np.percentile(text.centres[:, 0], [1, 99])
    x0, x1 = float(left) - pad, float(right) + pad
    xc = (x0 + x1) / 2

    def y_at(angle_y: tuple[float, float], x: float, shift: float) -> float:
        angle, y = angle_y
        return y + (x - xc) * float(np.tan(np.radians(angle))) + shift

    top, bottom = angles
    # The band lines run through the middle of the top and bottom thirds: the page's text reaches half a
    # band further; approximate it by the band's own half height plus the padding.
    reach = (bottom[1] - top[1]) / 4 + pad
    quad = [(x0, y_at(top, x0, -reach)), (x1, y_at(top, x1, -reach))]
    quad += [(x1, y_at(bottom, x1, reach)), (x0, y_at(bottom, x0, reach))]
    return np.array(quad, dtype=np.float32)


def _lines_bow(gray: np.ndarray, text: TextInk) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """Each text line's parabola (a, b, c of y = a x'^2 + b x' + c, x' from the middle), for lines long
    enough to tell, when the lines bow by MIN_BOW line heights or more."""
    height = float(np.median(text.heights))
    width = gray.shape[1]
    dark = cv2.adaptiveThreshold(gray, 255, cv2.ADAPTIVE_THRESH_MEAN_C, cv2.THRESH_BINARY_INV, 31, 15)
    kernel = cv2.getStructuringElement(cv2.MORPH_RECT, (max(3, int(2 * height)), 1))
    lines = cv2.morphologyEx(dark, cv2.MORPH_CLOSE, kernel)
    count, labels, stats, _ = cv2.connectedComponentsWithStats(lines, connectivity=8)
    fits = []
    for label in range(1, count):
        x, y, w, h = stats[label, :4]
        if w < 0.4 * width or h > 6 * height:
            continue
        rows, cols = np.nonzero(labels[y : y + h, x : x + w] == label)
        xs = cols + x - width / 2
        fits.append(np.polyfit(xs, rows + y, 2))
    if len(fits) < 3:
        return None
    coeffs = np.array(fits)
    bow = np.median(np.abs(coeffs[:, 0])) * (width / 2) ** 2
    if bow < MIN_BOW * height:
        return None
    order = np.argsort(coeffs[:, 2])
    return coeffs[order, 0], coeffs[order, 1], coeffs[order, 2]


def dewarp(gray: np.ndarray, text: TextInk) -> tuple[np.ndarray, Remap] | None:
    """The page with its bowed lines made straight, and the remap that did it (None: lines are straight)."""
    fit = _lines_bow(gray, text)
    if fit is None:
        return None
    a, b, c = fit
    height, width = gray.shape
    ys = np.arange(height, dtype=np.float32)
    xs = np.arange(width, dtype=np.float32) - width / 2
    # A line read straight at row y comes from y + a(y) x'^2 + b(y) x' - (its value at the middle: none).
    a_y = np.interp(ys, c, a).astype(np.float32)
    b_y = np.interp(ys, c, b).astype(np.float32)
    map_y = ys[:, None] + a_y[:, None] * xs[None, :] ** 2 + b_y[:, None] * xs[None, :]
    map_x = np.broadcast_to(np.arange(width, dtype=np.float32)[None, :], (height, width))
    map_x, map_y = np.ascontiguousarray(map_x), map_y.astype(np.float32)
    flat = cv2.remap(gray, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=255)
    step = REMAP_STEP
    return flat, Remap(map_x[::step, ::step].copy(), map_y[::step, ::step].copy(), step)


def flatten(image: Image.Image, text: TextInk) -> Flattened:
    """The photo's page flattened: even light, perspective undone (outline, else text lines), lines
    straightened where they bow. The chain maps the result back onto `image`; `text` is its text-like ink."""
    original = np.asarray(image.convert("L"))
    small, scale = _thumb(original)
    outline = page_outline(small)  # on the photo as it is: evened light hides the page's edge
    gray = flatten_light(original)
    chain, steps = Chain(), ["light"]
    quad = outline / scale if outline is not None else (_text_quad(gray, text) if text.measurable else None)
    if quad is not None:
        homography, size = _rectify(quad)
        if size[0] * size[1] <= 2 * gray.size and min(size) > 32:
            gray = cv2.warpPerspective(gray, homography, size, flags=cv2.INTER_CUBIC, borderValue=255)
            chain = chain.then(Projective.of(homography))
            steps.append("perspective" if outline is not None else "perspective-lines")
    flat_text = text_ink(Image.fromarray(gray))
    if flat_text.measurable:
        straightened = dewarp(gray, flat_text)
        if straightened is not None:
            gray, remap = straightened
            chain = chain.then(remap)
            steps.append("dewarp")
    return Flattened(Image.fromarray(gray), chain, steps)
