"""How much of a page's text a reading covers: the share of its text-like ink under the reading's words.

Confidence alone cannot see text that is missing: a photo read only in its flatter lower third reads at 94
confidence. Coverage can: the page's ink is split into connected components (OpenCV's
connectedComponentsWithStats on a locally thresholded copy), those of text size and shape that sit in a row
with a neighbour of similar height are the text-like ink, and a reading covers those whose centre lies under
one of its confident words (their boxes mapped back onto the page through the reading's `Chain`). The same
text-like ink, measured once on the page as loaded, judges every candidate reading of that page, whatever
was done to the image each one read.

How to use it (the API is these two calls; both are cheap next to a recognition):

    ink = text_ink(page.image)                       # once per page, on the page as loaded
    share = ink.covered(reading_tsv, reading_chain)  # per reading; None when the page has too little
                                                     # text-like ink for the share to mean anything

`covered` counts only words with a letter or digit and confidence >= `min_word_confidence` (default
`WORD_CONFIDENCE`), so a reading of noise, whose words are unsure, covers little, and noise itself rarely
looks like text: specks are too small, texture and halftone blobs have no neighbours of their height in a
row, rules and pictures have the wrong shape. A page whose "text-like" components are implausibly many for
their size (a texture, a dithered photo) gets no coverage at all (None): there the measure is not trusted.

`Reading.poor` and `Tuning.replaces` (workers/ocr/candidates.py) use it beside confidence: a reading covering
less than `poor_coverage` is poor whatever its confidence, and a candidate covering clearly more text at a
comparable confidence may replace the kept one (docs/accuracy.md says how the thresholds were chosen).
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
from PIL import Image
from scipy.spatial import cKDTree

from workers.ocr import tsv
from workers.ocr.geometry import Chain

__all__ = ["MIN_COMPONENTS", "WORD_CONFIDENCE", "TextInk", "text_ink"]

# The components are found on a copy whose longer side is at most this (a whole-factor box reduction).
WORK_SIZE = 1600
# Fewer text-like components than this: a word or a few, too little for a share to mean anything.
MIN_COMPONENTS = 12
# A word counts as covering ink only from this confidence on (and with a letter or digit).
WORD_CONFIDENCE = 50.0
# Component shape: height in work pixels, and the limits that leave out specks, rules, pictures, blobs.
MIN_HEIGHT = 4
MAX_HEIGHT_SHARE = 0.6  # of the image's height (a line cut from a page is little more than its text)
MAX_ASPECT = 12.0  # width over height (a few glued letters are wide; a rule is wider)
MAX_TALLNESS = 12.0  # height over width ('l', '1', 'I' are thin; a vertical rule is thinner)
FILL = (0.06, 0.97)  # ink over the component's box
# A component is text-like when another one of similar height lies in its row, close by.
NEIGHBOUR_HEIGHTS = 3.0  # how far (in its heights) a neighbour may be
SIMILAR_HEIGHT = 2.2  # how different in height a neighbour may be (ratio)
# More text-like components than this per (median height)^2 of the image's area: texture, not text (a
# page of small print has about one component per 4-6 square heights of the area it covers).
MAX_DENSITY = 0.5


@dataclass(frozen=True)
class TextInk:
    """The text-like ink components of a page: their centres in the page's pixel grid, and their heights."""

    centres: np.ndarray  # (n, 2) x, y in page pixels
    heights: np.ndarray  # (n,) in page pixels
    size: tuple[int, int]  # the page's width and height
    scale: float  # work pixels per page pixel

    @property
    def count(self) -> int:
        return len(self.centres)

    @property
    def measurable(self) -> bool:
        return self.count >= MIN_COMPONENTS

    def covered(self, page_tsv: str, chain: Chain, min_word_confidence: float = WORD_CONFIDENCE) -> float | None:
        """The share of the text-like components whose centre lies under a confident word of this reading
        (TSV of the image `chain` leads to); None when the page has too few of them to tell."""
        if not self.measurable:
            return None
        quads = [
            chain.quad(row.box)
            for row in tsv.rows(page_tsv)
            if row.level == tsv.WORD and row.conf >= min_word_confidence and any(c.isalnum() for c in row.text)
        ]
        if not quads:
            return 0.0
        width, height = (max(1, round(side * self.scale)) for side in self.size)
        mask = np.zeros((height, width), dtype=np.uint8)
        polygons = [np.round(np.asarray(q) * self.scale).astype(np.int32) for q in quads]
        cv2.fillPoly(mask, polygons, 1)
        # A word's box is tight around its ink: a component straddling its edge counts as covered.
        grown = cv2.dilate(mask, np.ones((3, 3), np.uint8))
        xs = np.clip((self.centres[:, 0] * self.scale).astype(int), 0, width - 1)
        ys = np.clip((self.centres[:, 1] * self.scale).astype(int), 0, height - 1)
        return float(grown[ys, xs].mean())


def _work_gray(image: Image.Image) -> tuple[np.ndarray, float]:
    gray = image.convert("L")
    scale = 1.0
    if max(gray.size) > WORK_SIZE:
        factor = -(-max(gray.size) // WORK_SIZE)
        gray = gray.reduce(factor)
        scale = gray.width / image.width
    return np.asarray(gray, dtype=np.uint8), scale


def _dark_ink(gray: np.ndarray) -> np.ndarray:
    """Pixels clearly darker than their neighbourhood (uneven light and a grey ground do not matter), by more
    than the image's grain: on a noisy image the bar rises with the noise (its MAD from a 3x3 median)."""
    smooth = cv2.medianBlur(gray, 3)
    noise = 1.4826 * float(np.median(np.abs(gray.astype(np.int16) - smooth)))
    block = max(15, (min(gray.shape) // 40) | 1)
    offset = max(12.0, 3.0 * noise)
    return cv2.adaptiveThreshold(smooth, 1, cv2.ADAPTIVE_THRESH_MEAN_C, cv2.THRESH_BINARY_INV, block, offset)


def _shaped_like_text(stats: np.ndarray, image_height: int) -> np.ndarray:
    w = stats[:, cv2.CC_STAT_WIDTH].astype(np.float64)
    h = stats[:, cv2.CC_STAT_HEIGHT].astype(np.float64)
    fill = stats[:, cv2.CC_STAT_AREA] / (w * h)
    return (
        (h >= MIN_HEIGHT)
        & (h <= MAX_HEIGHT_SHARE * image_height)
        & (w <= MAX_ASPECT * h)
        & (h <= MAX_TALLNESS * w)
        & (fill >= FILL[0])
        & (fill <= FILL[1])
    )


def _in_rows(centres: np.ndarray, heights: np.ndarray) -> np.ndarray:
    """Components with a neighbour of similar height beside them, in their row."""
    keep = np.zeros(len(centres), dtype=bool)
    if len(centres) < 2:
        return keep
    reach = NEIGHBOUR_HEIGHTS * float(np.percentile(heights, 90))
    pairs = cKDTree(centres).query_pairs(reach, output_type="ndarray")
    if not len(pairs):
        return keep
    i, j = pairs[:, 0], pairs[:, 1]
    tall = np.maximum(heights[i], heights[j])
    ratio = tall / np.minimum(heights[i], heights[j])
    gap = np.abs(centres[i] - centres[j])
    near = (ratio <= SIMILAR_HEIGHT) & (gap[:, 1] <= 0.6 * tall) & (gap[:, 0] <= NEIGHBOUR_HEIGHTS * tall)
    keep[i[near]] = True
    keep[j[near]] = True
    return keep


def text_ink(image: Image.Image) -> TextInk:
    """The page's text-like ink components (see the module's docstring); measured once per page."""
    gray, scale = _work_gray(image)
    count, _, stats, centroids = cv2.connectedComponentsWithStats(_dark_ink(gray), connectivity=8)
    stats, centroids = stats[1:count], centroids[1:count]  # label 0 is the background
    shaped = _shaped_like_text(stats, gray.shape[0])
    stats, centroids = stats[shaped], centroids[shaped]
    heights = stats[:, cv2.CC_STAT_HEIGHT].astype(np.float64)
    rows = _in_rows(centroids, heights)
    centres, heights = centroids[rows], heights[rows]
    if len(heights) and len(heights) > MAX_DENSITY * gray.size / float(np.median(heights)) ** 2:
        centres, heights = centres[:0], heights[:0]  # texture: no coverage measured on this page
    return TextInk(
        centres=(centres + 0.5) / scale, heights=heights / scale, size=(image.width, image.height), scale=scale
    )
