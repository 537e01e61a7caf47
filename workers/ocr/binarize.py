"""Background and contrast normalisation for faded print and uneven light (receipts on thermal paper).

The page's background (its light paper, shaded or yellowed unevenly) is estimated by a morphological
closing with a window larger than the strokes of the text, and each pixel divided by it: the paper becomes
white everywhere and faded ink keeps its contrast to its own surroundings, as flat-field correction does.
Then the contrast is stretched so that the darkest ink is black. Pixels move nowhere (no transform to record).

Sauvola's adaptive threshold (scikit-image's threshold_sauvola, as OCR-D and OCRmyPDF users apply it) was
measured on the corpus's receipts and made them worse (docs/accuracy.md): Tesseract binarises itself, and
a hard threshold of faint dot-matrix print breaks its glyphs. The normalised gray image is what is read.
"""

from __future__ import annotations

import cv2
import numpy as np
from PIL import Image

from workers.ocr import imageops

# The closing window (px): wider than the strokes of text up to about 60 px high, so the ink leaves the
# background estimate.
BACKGROUND_WINDOW_PX = 31
# The share of the darkest pixels that become black when the contrast is stretched.
DARKEST_FRACTION = 0.005
# The median filter (px) whose value paints a speck over: the paper around it.
_PAPER_WINDOW = 5


def flatten_background(image: Image.Image, window: int = BACKGROUND_WINDOW_PX) -> Image.Image:
    """The image in gray with its background divided out and its contrast stretched (same size)."""
    gray = np.asarray(imageops.grayscale(image), dtype=np.uint8)
    kernel = cv2.getStructuringElement(cv2.MORPH_RECT, (window, window))
    background = cv2.morphologyEx(gray, cv2.MORPH_CLOSE, kernel)
    flat = gray.astype(np.float32) / np.maximum(background.astype(np.float32), 1.0)
    darkest = float(np.quantile(flat, DARKEST_FRACTION))
    stretched = (flat - darkest) / max(1.0 - darkest, 1e-3)
    return Image.fromarray(np.clip(stretched * 255.0, 0, 255).astype(np.uint8))


def despeckle(image: Image.Image, max_area: int, clearance: int) -> tuple[Image.Image, int]:
    """The image with its specks painted over with the paper around them, and how many (the image itself where
    none): dark blobs of at most `max_area` pixels (under Otsu's threshold, the background divided out first)
    with no other ink within `clearance` pixels, as thermal paper's grain and dust lie; a full stop or an
    i's dot lies beside its letters. Enlarging a small image would make specks blots that read as punctuation."""
    gray = np.asarray(imageops.grayscale(image), dtype=np.uint8)
    flat = np.asarray(flatten_background(image), dtype=np.uint8)  # specks against even paper, not shade
    _, mask = cv2.threshold(flat, 0, 255, cv2.THRESH_BINARY_INV + cv2.THRESH_OTSU)
    _, labels, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
    small = np.flatnonzero(stats[1:, cv2.CC_STAT_AREA] <= max_area) + 1  # label 0 is the background
    tiny = np.isin(labels, small)
    window = cv2.getStructuringElement(cv2.MORPH_RECT, (2 * clearance + 1, 2 * clearance + 1))
    near = cv2.dilate(((mask > 0) & ~tiny).astype(np.uint8), window) > 0
    specks = np.setdiff1d(small, labels[tiny & near])
    if specks.size == 0:
        return image, 0
    painted, where = gray.copy(), np.isin(labels, specks)
    painted[where] = cv2.medianBlur(gray, _PAPER_WINDOW)[where]
    return Image.fromarray(painted), int(specks.size)
