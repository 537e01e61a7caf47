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


def flatten_background(image: Image.Image, window: int = BACKGROUND_WINDOW_PX) -> Image.Image:
    """The image in gray with its background divided out and its contrast stretched (same size)."""
    gray = np.asarray(imageops.grayscale(image), dtype=np.uint8)
    kernel = cv2.getStructuringElement(cv2.MORPH_RECT, (window, window))
    background = cv2.morphologyEx(gray, cv2.MORPH_CLOSE, kernel)
    flat = gray.astype(np.float32) / np.maximum(background.astype(np.float32), 1.0)
    darkest = float(np.quantile(flat, DARKEST_FRACTION))
    stretched = (flat - darkest) / max(1.0 - darkest, 1e-3)
    return Image.fromarray(np.clip(stretched * 255.0, 0, 255).astype(np.uint8))
