"""The searchable PDF through the service, on the corpus's PDFs, TIFFs and photos: the user's own pages come
back (turned upright at most) with their images as they were, small, PDF/A-2b, and a text layer that lies on
the words and extracts as result.txt. Pages that have text already (born digital, or OCR'd before) keep it,
and the layer adds only what they lack; images are re-encoded only when asked. One upload a file, all
submitted before any is waited for."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import pikepdf
import pytest
from pikepdf import pdfa

from bench import pdfcheck
from bench.scoring import normalise
from tests.pdf_inputs import born_digital_pdf, tesseract_pdf
from tests.support import Stack, corpus_file

# The 3-page JPEG PDF and the 3-frame TIFF are checked alike by tests/e2e/test_documents.py (their uploads
# are made there); a skewed page read deskewed by tests/workers/ocr/test_pdf.py.
FILES = (
    "ocrmypdf_cardinal.pdf",  # 4 pages, each turned another way (JBIG2)
    "tess_phototest.tif",  # bilevel, CCITT G4
    "photo_Histoire_Geo_IMG_20210329_122524.jpg",  # a phone photo, EXIF orientation 6
)
KIB = 1024
BORN, EARLIER, LOSSY = "born-digital.pdf", "tesseract-layer.pdf", "lossy.jpg"
BORN_LINES = ["Quarterly harbour report", "Shipments rose twelve percent"]
SCAN_TOP = 780  # pixels of the born-digital page's grid (300 dpi): the scan is drawn below, the text above


@pytest.fixture(scope="module")
def results(redis_stack: Stack, tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, Any]]:
    folder = tmp_path_factory.mktemp("archive-pdf")
    scan = corpus_file("tess_phototest.tif")
    uploads: dict[str, tuple[Path, dict[str, Any]]] = {name: (corpus_file(name), {}) for name in FILES}
    uploads["photo_Histoire_Geo_IMG_20210329_122524.jpg"][1]["lang"] = "fra"
    uploads[BORN] = (born_digital_pdf(folder / BORN, BORN_LINES, scan), {})
    uploads[EARLIER] = (tesseract_pdf(scan, folder), {})
    uploads[LOSSY] = (corpus_file("pyt_test.jpg"), {"pdf_jpeg_quality": 40, "pdf_image_dpi": 150})
    jobs = {
        name: redis_stack.submit_ok(path, formats="txt,json,pdf", **{"lang": "eng", **fields})
        for name, (path, fields) in uploads.items()
    }
    done = {}
    for name, job in jobs.items():
        finished = redis_stack.wait(job["id"], timeout=300)
        assert finished["status"] == "succeeded", finished
        pdf = folder / f"{name}.pdf"
        pdf.write_bytes(redis_stack.client.get(f"/v1/jobs/{job['id']}/result.pdf").content)
        result = json.loads(redis_stack.client.get(f"/v1/jobs/{job['id']}/result.json").content)
        done[name] = {"job": finished, "pdf": pdf, "text": redis_stack.text(job["id"]), "json": result}
        done[name]["source"] = uploads[name][0]
    return done


def assert_archive_pdf(pdf: Path, name: str, text: str) -> None:
    """PDF/A-2b with its markers, a text layer that extracts as result.txt and lies on the words."""
    report = pdfa.validate_written(pdf, "2b")
    assert report.passed, report.findings
    with pikepdf.open(pdf) as document:
        meta = document.open_metadata()
        assert (meta["pdfaid:part"], meta["pdfaid:conformance"]) == ("2", "B")
        assert str(document.Root.OutputIntents[0].S) == "/GTS_PDFA1"
        assert meta["dc:title"] == name == str(document.docinfo.Title)
    # "Matches": the same characters in the same order, whitespace aside (pdftotext in the layer's own order).
    assert normalise("\f".join(pdfcheck.pdftotext(pdf, raw=True))) == normalise(text)
    share, words = pdfcheck.words_on_ink(pdf)
    assert words > 0 and share >= 0.85, share


def assert_pages_kept(source: Path, pdf: Path, pages_total: int) -> None:
    """A PDF's own pages, their images as they were (same encoding, size and bytes), turned upright at most,
    within 1.10 x the input plus 30 KiB a page."""
    before, after = pdfcheck.page_images(source), pdfcheck.page_images(pdf)
    assert len(after) == len(before) == pages_total
    for old_page, new_page in zip(before, after, strict=True):
        assert [(i.filters, i.width, i.height, i.raw) for i in new_page] == [
            (i.filters, i.width, i.height, i.raw) for i in old_page
        ]
    assert pdfcheck.rendered_difference(source, pdf) < 4
    assert pdf.stat().st_size <= 1.10 * source.stat().st_size + 30 * KIB * len(before)


@pytest.mark.parametrize("name", FILES)
def test_the_pdf_is_pdfa_and_its_text_layer_is_result_txt_on_the_words(
    results: dict[str, dict[str, Any]], name: str
) -> None:
    assert_archive_pdf(results[name]["pdf"], name, results[name]["text"])


@pytest.mark.parametrize("name", [n for n in FILES if n.endswith(".pdf")])
def test_a_pdfs_own_pages_come_back_with_their_images_as_they_were(
    results: dict[str, dict[str, Any]], name: str
) -> None:
    assert_pages_kept(corpus_file(name), results[name]["pdf"], results[name]["job"]["pages_total"])


def test_a_photo_is_shown_upright_with_its_own_jpeg(results: dict[str, dict[str, Any]]) -> None:
    name = "photo_Histoire_Geo_IMG_20210329_122524.jpg"
    source, pdf = corpus_file(name), results[name]["pdf"]
    ((image,),) = pdfcheck.page_images(pdf)
    assert image.filters == ("/DCTDecode",) and image.raw == source.read_bytes()
    with pikepdf.open(pdf) as document:
        assert document.pages[0].rotation == 90  # EXIF orientation 6, by /Rotate
    assert pdf.stat().st_size <= 1.10 * source.stat().st_size + 30 * KIB


def test_a_bilevel_scan_stays_1_bit_ccitt(results: dict[str, dict[str, Any]]) -> None:
    ((image,),) = pdfcheck.page_images(results["tess_phototest.tif"]["pdf"])
    assert image.filters == ("/CCITTFaxDecode",) and image.bits == 1 and (image.width, image.height) == (640, 480)


def _words(pdf: Path) -> Counter[str]:
    """Every word of the PDF's text, as often as it is there (pdftotext in content order: no word dropped as
    a duplicate of another drawn at the same place)."""
    return Counter(normalise(" ".join(pdfcheck.pdftotext(pdf, raw=True))).split())


def test_a_born_digital_page_keeps_its_text_once_and_gets_the_words_of_its_scan(
    results: dict[str, dict[str, Any]],
) -> None:
    """The default mode OCRs the page: its own text is there once (not twice), the words of the scan drawn
    beside it are added; result.txt is the OCR's, both."""
    result = results[BORN]
    own = Counter(" ".join(BORN_LINES).split())
    (page,) = result["json"]["pages"]
    ocr = [w for b in page["blocks"] for line in b["lines"] for w in line["words"]]
    scan_words = Counter(normalise(w["text"]) for w in ocr if w["bbox"][1] >= SCAN_TOP)
    assert sum(scan_words.values()) >= 40  # tess_phototest's words
    assert all(normalise(w["text"]) in own for w in ocr if w["bbox"][3] < SCAN_TOP)  # the page's text was read
    assert _words(result["pdf"]) == own + scan_words


def test_a_page_ocrd_before_keeps_its_layer_and_gets_no_second_one(results: dict[str, dict[str, Any]]) -> None:
    """Tesseract's own searchable PDF through the service: every word of its layer is there as often as it
    was (the new layer adds none of them again)."""
    before, after = _words(results[EARLIER]["source"]), _words(results[EARLIER]["pdf"])
    assert sum(before.values()) >= 40
    assert {word: after[word] for word in before} == dict(before)
    assert normalise(results[EARLIER]["text"])  # result.txt is the new OCR's, as ever


def test_lossy_optimisation_when_asked_shrinks_the_jpeg_and_stays_pdfa(results: dict[str, dict[str, Any]]) -> None:
    """pdf_jpeg_quality and pdf_image_dpi: the JPEG is re-encoded smaller (downsampled from 200 to 150 dpi),
    the PDF stays PDF/A-2b and its text layer is still result.txt on the words (off: the photo test above
    finds the JPEG's own bytes)."""
    result, source = results[LOSSY], corpus_file("pyt_test.jpg")
    ((image,),) = pdfcheck.page_images(result["pdf"])
    assert image.filters == ("/DCTDecode",) and (image.width, image.height) == (480, 360)
    assert len(image.raw) < 0.5 * source.stat().st_size
    assert_archive_pdf(result["pdf"], source.name, result["text"])
