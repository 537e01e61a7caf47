"""Phone photos: signs of a photo, the page found and flattened, its words mapped back onto the photo; and a
confident reading that misses most of the page recognised as poor. Real engine, synthetic photos made by
bench/synthetic_photos.py with fixed seeds (exact ground truth)."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from PIL import Image

from bench.scoring import cer
from tests.support import corpus_file
from tests.workers.ocr.photos import LINES, incomplete_page, synthetic_photo
from tests.workers.ocr.support import page_options
from workers.ocr import coverage, pages, photo, tesseract, tsv
from workers.ocr.candidates import DEFAULT_TUNING, CandidatePage, Variant
from workers.ocr.engines import OcrEngine
from workers.ocr.engines.tesserocr import TesserocrEngine
from workers.ocr.geometry import Remap
from workers.ocr.preprocess import read_page


@pytest.fixture(scope="module")
def engine() -> OcrEngine:
    return TesserocrEngine(tesseract.tessdata_dir())


def _ink(image: Image.Image) -> np.ndarray:
    gray = np.asarray(image.convert("L"))
    return cv2.adaptiveThreshold(gray, 1, cv2.ADAPTIVE_THRESH_MEAN_C, cv2.THRESH_BINARY_INV, 31, 15).astype(bool)


def _ink_share(image: Image.Image, quads: list[np.ndarray]) -> float:
    """The share of word quads (on the photo) that hold its ink (at least 5 % dark pixels inside)."""
    ink = _ink(image)
    hits = 0
    for quad in quads:
        mask = np.zeros(ink.shape, np.uint8)
        cv2.fillPoly(mask, [np.round(quad).astype(np.int32)], 1)
        hits += mask.sum() > 0 and ink[mask.astype(bool)].mean() >= 0.05
    return hits / len(quads)


def test_the_loader_passes_a_cameras_exif_tags_on() -> None:
    assert synthetic_photo("photo-mild", 1, camera=True).camera
    assert not synthetic_photo("photo-mild", 1, camera=False).camera
    scan = pages.load_page(
        corpus_file("tess_phototest.tif"), "image/tiff", 1, dpi=None, render_dpi=300, max_pixels=10**8
    )
    assert not scan.camera
    phone = "photo_Histoire_Geo_IMG_20210329_122524.jpg"
    assert pages.load_page(corpus_file(phone), "image/jpeg", 1, dpi=None, render_dpi=300, max_pixels=10**8).camera


def test_a_scan_shows_no_sign_of_a_photo_and_a_photo_does() -> None:
    scan = pages.load_page(
        corpus_file("tess_phototest.tif"), "image/tiff", 1, dpi=None, render_dpi=300, max_pixels=10**8
    )
    assert photo.photo_signs(scan.image, scan.camera, coverage.text_ink(scan.image)) == []
    shot = synthetic_photo("photo-strong", 5, camera=False)
    assert "outline" in photo.photo_signs(shot.image, shot.camera, coverage.text_ink(shot.image))


@pytest.mark.parametrize(
    ("family", "seed", "step"), [("photo-strong", 5, "photo-perspective"), ("photo-curved", 3, "photo-dewarp")]
)
def test_a_flattened_readings_words_map_back_onto_the_photos_ink(
    engine: OcrEngine, family: str, seed: int, step: str
) -> None:
    shot = synthetic_photo(family, seed)
    reading = read_page(engine, 1, shot, page_options())
    steps = reading.output.info["steps"]
    assert step in steps, steps
    assert cer("\n".join(LINES), reading.output.text, ignore_case=True) < 0.05
    off = read_page(engine, 1, shot, page_options(flatten=False)).output
    assert cer("\n".join(LINES), off.text, ignore_case=True) > 0.2  # the photo as it is reads badly
    if step == "photo-dewarp":
        assert any(isinstance(s, Remap) for s in reading.chain.steps)
    rows = [row for row in tsv.rows(reading.output.tsv) if row.level == tsv.WORD and row.text.strip()]
    assert len(rows) >= 40
    quads = [np.asarray(reading.chain.quad(row.box)) for row in rows]
    assert _ink_share(shot.image, quads) >= 0.95
    if step == "photo-perspective":  # there the flattened image's own boxes miss the photo's ink
        unmapped = [
            np.asarray([(r.box[0], r.box[1]), (r.box[2], r.box[1]), (r.box[2], r.box[3]), (r.box[0], r.box[3])])
            for r in rows
        ]
        assert _ink_share(shot.image, unmapped) < 0.8


def test_a_confident_but_incomplete_reading_is_poor(engine: OcrEngine) -> None:
    image = incomplete_page()
    candidates = CandidatePage(engine, image, None, DEFAULT_TUNING, text=coverage.text_ink(image))
    first = candidates.read(Variant(), 3, "eng")
    assert first.quality >= DEFAULT_TUNING.poor_confidence  # confident ...
    assert first.coverage is not None and first.coverage < 0.45  # ... over a third of the text
    assert first.poor(DEFAULT_TUNING)
    output = read_page(engine, 1, pages.PageImage(image, None), page_options()).output
    assert output.info["coverage"] < DEFAULT_TUNING.poor_coverage
    assert output.info["passes"] > 1  # poor, so more passes were tried
