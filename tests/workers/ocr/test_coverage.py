"""Coverage: the share of a page's text-like ink under a reading's confident words (workers/ocr/coverage.py)."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from bench.synthetic import PROSE, font_paths, render_lines
from tests.workers.ocr.fakes import ScriptedEngine
from workers.ocr import coverage, imageops, tesseract, tsv
from workers.ocr.candidates import DEFAULT_TUNING, CandidatePage, Reading, Variant
from workers.ocr.engines import RecognizeOptions
from workers.ocr.engines.tesserocr import TesserocrEngine
from workers.ocr.geometry import Chain, Projective


@pytest.fixture(scope="module")
def page() -> Image.Image:
    return render_lines(PROSE[:9], font_paths()[0], text_height=30).convert("L")


@pytest.fixture(scope="module")
def page_tsv(page: Image.Image) -> str:
    engine = TesserocrEngine(tesseract.tessdata_dir())
    return engine.recognize(page, RecognizeOptions(lang="eng", psm=3)).tsv


def _last_lines(page_tsv: str, count: int) -> str:
    """The TSV with only the words of its last `count` lines (the page's lower part)."""
    tops = sorted(row.box[1] for row in tsv.rows(page_tsv) if row.level == tsv.LINE)
    return _keep_words(page_tsv, lambda row: row.box[3] > tops[-count])


def _keep_words(page_tsv: str, keep: object) -> str:
    """The TSV with only the word rows for which keep(row) holds."""
    out = []
    for line, row in zip(page_tsv.splitlines(), tsv.rows(page_tsv), strict=False):
        if row.level != tsv.WORD or keep(row):  # type: ignore[operator]
            out.append(line)
    return "\n".join(out)


def test_a_full_reading_covers_the_text_and_a_third_of_it_a_third(page: Image.Image, page_tsv: str) -> None:
    ink = coverage.text_ink(page)
    assert ink.measurable and ink.count > 200
    assert ink.covered(page_tsv, Chain()) == pytest.approx(1.0, abs=0.03)
    lower_third = _last_lines(page_tsv, 3)  # of 9
    assert ink.covered(lower_third, Chain()) == pytest.approx(1 / 3, abs=0.1)


def test_unsure_words_cover_nothing(page: Image.Image, page_tsv: str) -> None:
    """A reading of garbage (every word under WORD_CONFIDENCE) covers no ink, however much of it it spans."""
    unsure = "\n".join(
        "\t".join([*cols[:10], "20", *cols[11:]]) if cols[0] == "5" else "\t".join(cols) for cols in tsv.split(page_tsv)
    )
    assert coverage.text_ink(page).covered(unsure, Chain()) == 0.0


def test_boxes_of_an_enlarged_image_map_back_through_the_chain(page: Image.Image, page_tsv: str) -> None:
    """The same reading made on a copy enlarged 2x covers the same ink once its boxes map back."""
    engine = TesserocrEngine(tesseract.tessdata_dir())
    enlarged = imageops.rescale(page, 2.0)
    chain = Chain().then(Projective.resize(page.size, enlarged.size))
    read = engine.recognize(enlarged, RecognizeOptions(lang="eng", psm=3)).tsv
    ink = coverage.text_ink(page)
    assert ink.covered(read, chain) == pytest.approx(1.0, abs=0.03)
    assert ink.covered(read, Chain()) < 0.5  # unmapped, the boxes miss most of the page's text


@pytest.mark.parametrize("sigma", [25.0, 40.0, 80.0])
def test_grain_is_not_text(sigma: float) -> None:
    """Grain: no text-like ink, so no coverage is measured (None); the bar rises with the image's noise."""
    rng = np.random.default_rng(3)
    grain = Image.fromarray(np.clip(rng.normal(200, sigma, (900, 1200)), 0, 255).astype(np.uint8))
    ink = coverage.text_ink(grain)
    assert not ink.measurable, ink.count
    assert ink.covered("", Chain()) is None


def test_text_on_a_noisy_page_is_still_found(page: Image.Image, page_tsv: str) -> None:
    rng = np.random.default_rng(4)
    noisy = np.clip(np.asarray(page, dtype=np.float64) + rng.normal(0, 40, (page.height, page.width)), 0, 255)
    ink = coverage.text_ink(Image.fromarray(noisy.astype(np.uint8)))
    assert ink.count >= 0.8 * coverage.text_ink(page).count
    assert ink.covered(page_tsv, Chain()) >= 0.9


def test_a_confident_reading_covering_little_is_poor_and_one_covering_more_wins(
    page: Image.Image, page_tsv: str
) -> None:
    """Fake readings (scripted TSVs) of the real page: the kept reading's few confident words cover a third of
    the text, a candidate covering it all at a comparable confidence replaces it; garbage does not."""
    lower_third = _last_lines(page_tsv, 3)  # of 9
    ink = coverage.text_ink(page)

    def reading(text_tsv: str) -> Reading:
        from workers.ocr.engines import Recognition

        recognition = Recognition(text="x", hocr_page="", tsv=text_tsv, mean_confidence=0.0)
        return Reading(Variant(), page, recognition, 3, "eng", Chain(), ink)

    kept, full = reading(lower_third), reading(page_tsv)
    assert kept.quality >= DEFAULT_TUNING.poor_confidence  # confident ...
    assert kept.poor(DEFAULT_TUNING)  # ... but incomplete
    assert not full.poor(DEFAULT_TUNING)
    assert DEFAULT_TUNING.replaces(full, kept)
    garbage = "\n".join(f"5\t1\t1\t1\t1\t{n}\t{20 * n}\t{5 * n}\t18\t30\t40\tq{n}x" for n in range(1, 200))
    assert not DEFAULT_TUNING.replaces(reading(garbage), kept)


def test_a_candidate_page_gives_each_reading_its_coverage(page: Image.Image) -> None:
    engine = ScriptedEngine(first=[("hello", 95.0)], later=[])
    candidates = CandidatePage(engine, page, None, DEFAULT_TUNING, text=coverage.text_ink(page))
    reading = candidates.read(Variant(), 3, "eng")
    assert reading.coverage is not None and reading.coverage < 0.1
    assert reading.poor(DEFAULT_TUNING)
