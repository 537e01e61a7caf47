"""A form's checkboxes: found by their outline, whitened before reading, counted with their ticks.

Tesseract reads a checkbox as a letter or two glued to its label ("&X] Email", "O Monthly", "1 Yearly").
A checkbox is a square outline about as high as the text beside it: a connected component of ink whose box
is square, whose four sides are (nearly) all ink, and whose inside is white (empty) or holds a mark (a
cross, a tick, a fill: checked). Letters are not: an "O" or "D" touches its box's sides only in places, an
"I" or "l" is not square, a bullet is filled to its edges with no outline apart. Found with OpenCV on a copy
of at most `tables.WORK_SIZE` px, as the ruled cells are.

The page is then read with its checkboxes whitened (pixels change, none move), so the labels read as
words; the page's notes count the checkboxes and the checked ones.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
from PIL import Image

from workers.ocr import imageops, tables, tsv

# A checkbox's side, in text heights (the median letter height of the page's ink).
MIN_SIDE_TEXT_HEIGHTS = 0.6
MAX_SIDE_TEXT_HEIGHTS = 2.0
MAX_ASPECT = 1.3  # longer side over shorter
# Each side of its box is ink over at least this share of its length (a drawn square; scanning may break it
# a little), and the ink of the outline is thin: its band is this share of the side.
SIDE_INK = 0.9
SIDE_BAND = 0.12
# Its inside (inset by INSIDE_INSET of the side) holding this share of ink is a mark: checked.
INSIDE_INSET = 0.22
CHECKED_INK = 0.08
# A checkbox stands apart from the words beside it: no ink this close (in text heights) to its left or right
# (a boxy "O" of dot-matrix print sits in its word, a letter's width from the next).
APART_TEXT_HEIGHTS = 0.35
WHITEN_MARGIN_PX = 2  # whitened around the box too (anti-aliased edges)


@dataclass(frozen=True)
class Checkbox:
    box: tsv.Box  # x0, y0, x1, y1 in the image's pixels
    checked: bool


def _side_ink(square: np.ndarray) -> float:
    """The least share of ink along the four sides of a component's box (each side a thin band); 0 when a
    corner has none (a round letter's box has empty corners, a square's has none)."""
    side = min(square.shape)
    band = max(1, round(side * SIDE_BAND))
    corners = (square[:band, :band], square[:band, -band:], square[-band:, :band], square[-band:, -band:])
    if not all(corner.any() for corner in corners):
        return 0.0
    sides = [
        square[:band, :].any(axis=0),
        square[-band:, :].any(axis=0),
        square[:, :band].any(axis=1),
        square[:, -band:].any(axis=1),
    ]
    return min(float(s.mean()) for s in sides)


def _inside_ink(square: np.ndarray) -> float:
    height, width = square.shape
    dy, dx = max(1, round(height * INSIDE_INSET)), max(1, round(width * INSIDE_INSET))
    inside = square[dy : height - dy, dx : width - dx]
    return float(inside.mean()) if inside.size else 0.0


def _apart(ink: np.ndarray, box: tsv.Box, reach: float) -> bool:
    """Whether no ink lies within `reach` px left or right of the box, in its rows."""
    x0, y0, x1, y1 = box
    gap = max(2, round(reach))
    left = ink[y0:y1, max(0, x0 - gap) : max(0, x0 - 1)]
    right = ink[y0:y1, x1 + 1 : x1 + gap]
    return not left.any() and not right.any()


def _on_paper(gray: np.ndarray, box: tsv.Box, outline: np.ndarray) -> bool:
    """Whether the box is drawn on light paper: the ring just around it is lighter than its outline by the
    ink contrast (a white speck in a dark picture is ringed by "ink" too, on no paper)."""
    x0, y0, x1, y1 = box
    ring = gray[max(0, y0 - 2) : y1 + 2, max(0, x0 - 2) : x1 + 2].astype(np.float32)
    inner = np.zeros(ring.shape, dtype=bool)
    top, left = y0 - max(0, y0 - 2), x0 - max(0, x0 - 2)
    inner[top : top + y1 - y0, left : left + x1 - x0] = True
    if inner.all():
        return False
    drawn = float(gray[y0:y1, x0:x1][outline].mean())
    return float(np.median(ring[~inner])) >= drawn + tables.INK_CONTRAST


def find_checkboxes(image: Image.Image, work: tables.WorkInk | None = None) -> list[Checkbox]:
    """The image's checkboxes (square outlines about as high as its text), top to bottom, left to right.
    `work`: the image's work copy and ink (tables.work_ink), when already made."""
    work = work or tables.work_ink(image)
    small, ink, height, factor = work.gray, work.ink, work.height, work.factor
    if height == 0:
        return []
    count, labels, stats, _ = cv2.connectedComponentsWithStats(ink.astype(np.uint8), connectivity=8)
    found = []
    for label in range(1, count):
        x, y, w, h, _ = (int(v) for v in stats[label])
        if not (MIN_SIDE_TEXT_HEIGHTS * height <= min(w, h) and max(w, h) <= MAX_SIDE_TEXT_HEIGHTS * height):
            continue
        if max(w, h) > MAX_ASPECT * min(w, h) or min(w, h) < 6:
            continue
        square = labels[y : y + h, x : x + w] == label
        if _side_ink(square) < SIDE_INK or not _apart(ink, (x, y, x + w, y + h), APART_TEXT_HEIGHTS * height):
            continue
        if not _on_paper(small, (x, y, x + w, y + h), square):
            continue
        # the mark inside may be its own component (a tick not touching the outline): all ink inside counts
        checked = _inside_ink(ink[y : y + h, x : x + w]) >= CHECKED_INK
        found.append(Checkbox((x * factor, y * factor, (x + w) * factor, (y + h) * factor), checked))
    return sorted(found, key=lambda c: (c.box[1], c.box[0]))


def whitened(image: Image.Image, boxes: list[Checkbox]) -> Image.Image:
    """The image in gray with each checkbox (outline and mark) whitened."""
    gray = np.asarray(imageops.grayscale(image), dtype=np.uint8).copy()
    m = WHITEN_MARGIN_PX
    for box in boxes:
        x0, y0, x1, y1 = box.box
        gray[max(0, y0 - m) : y1 + m, max(0, x0 - m) : x1 + m] = imageops.WHITE
    return Image.fromarray(gray)
