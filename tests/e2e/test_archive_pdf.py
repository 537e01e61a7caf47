"""The searchable PDF through the service, on the corpus's PDFs, TIFFs and photos: the user's own pages come
back (turned upright at most) with their images as they were, small, PDF/A-2b, and a text layer that lies on
the words and extracts as result.txt. One upload a file, all submitted before any is waited for."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pikepdf
import pytest
from pikepdf import pdfa

from bench import pdfcheck
from bench.scoring import normalise
from tests.support import Stack, corpus_file

# The 3-page JPEG PDF and the 3-frame TIFF are checked alike by tests/e2e/test_documents.py (their uploads
# are made there); a skewed page read deskewed by tests/workers/ocr/test_pdf.py.
FILES = (
    "ocrmypdf_cardinal.pdf",  # 4 pages, each turned another way (JBIG2)
    "tess_phototest.tif",  # bilevel, CCITT G4
    "photo_Histoire_Geo_IMG_20210329_122524.jpg",  # a phone photo, EXIF orientation 6
)
KIB = 1024


@pytest.fixture(scope="module")
def results(redis_stack: Stack, tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, Any]]:
    lang = {"photo_Histoire_Geo_IMG_20210329_122524.jpg": "fra"}
    jobs = {
        name: redis_stack.submit_ok(corpus_file(name), formats="txt,json,pdf", lang=lang.get(name, "eng"))
        for name in FILES
    }
    folder = tmp_path_factory.mktemp("archive-pdf")
    done = {}
    for name, job in jobs.items():
        finished = redis_stack.wait(job["id"], timeout=300)
        assert finished["status"] == "succeeded", finished
        pdf = folder / f"{name}.pdf"
        pdf.write_bytes(redis_stack.client.get(f"/v1/jobs/{job['id']}/result.pdf").content)
        done[name] = {"job": finished, "pdf": pdf, "text": redis_stack.text(job["id"])}
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
