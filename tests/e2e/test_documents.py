"""Multi-page documents through the real stack: every page's text in order, every format valid, PDF inputs
that cannot be read fail with their reason, and skip_text reuses a PDF's own text."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import jsonschema
import pypdf
import pypdfium2 as pdfium
import pytest
from lxml import etree
from PIL import Image, features

from bench.pdfcheck import page_images, pdftotext
from bench.scoring import cer
from tests.e2e.test_archive_pdf import assert_archive_pdf, assert_pages_kept
from tests.support import REPO, Stack, corpus_file, ground_truth

ALL_FORMATS = "txt,hocr,alto,tsv,json,pdf"
ALTO = "{http://www.loc.gov/standards/alto/ns-v4#}"
XHTML = "{http://www.w3.org/1999/xhtml}"
SCHEMA = json.loads((REPO / "docs" / "result.schema.json").read_text())
MULTI_PAGE = ("paperless_multi-page-images.tiff", "paperless_multi-page-images.pdf")


def _result(stack: Stack, job_id: str, fmt: str) -> bytes:
    response = stack.client.get(f"/v1/jobs/{job_id}/result.{fmt}")
    assert response.status_code == 200, response.text
    return response.content


def _assert_pages_match_ground_truth(pages: list[str], name: str) -> None:
    expected = [p for p in ground_truth(name).split("\n\n") if p.strip()]
    assert len(pages) == len(expected)
    for page, truth in zip(pages, expected, strict=True):
        assert cer(truth, page) < 0.05, (truth, page)


@pytest.fixture(scope="module")
def documents(redis_stack: Stack) -> dict[str, dict[str, Any]]:
    """The 3-page TIFF and the 3-page PDF, each OCR'd once with every format."""
    jobs = {name: redis_stack.submit_ok(corpus_file(name), formats=ALL_FORMATS) for name in MULTI_PAGE}
    return {name: redis_stack.wait(job["id"]) for name, job in jobs.items()}


@pytest.mark.parametrize("name", MULTI_PAGE)
def test_every_page_is_read_in_order(redis_stack: Stack, documents: dict[str, dict[str, Any]], name: str) -> None:
    job = documents[name]
    assert job["status"] == "succeeded", job
    assert job["pages_total"] == 3 and job["pages_done"] == 3
    text = redis_stack.text(job["id"])
    _assert_pages_match_ground_truth(text.split("\f"), name)
    assert [f"Page {n}." in page for n, page in enumerate(text.split("\f"), start=1)] == [True] * 3


@pytest.mark.parametrize("name", MULTI_PAGE)
def test_every_format_is_valid(
    redis_stack: Stack, documents: dict[str, dict[str, Any]], name: str, tmp_path: Path
) -> None:
    job = documents[name]
    text_pages = redis_stack.text(job["id"]).split("\f")

    hocr = etree.fromstring(_result(redis_stack, job["id"], "hocr"))
    assert len(hocr.findall(f".//{XHTML}div[@class='ocr_page']")) == 3
    assert hocr.findall(f".//{XHTML}span[@class='ocrx_word']")

    alto = etree.fromstring(_result(redis_stack, job["id"], "alto"))
    assert alto.findtext(f"{ALTO}Description/{ALTO}MeasurementUnit") == "pixel"
    version = alto.findtext(f".//{ALTO}OCRProcessing//{ALTO}processingSoftware/{ALTO}softwareVersion")
    assert version == job["engine"]["tesseract_version"]
    alto_pages = alto.findall(f"{ALTO}Layout/{ALTO}Page")
    assert len(alto_pages) == 3
    for alto_page, page_text in zip(alto_pages, text_pages, strict=True):
        assert alto_page.find(f"{ALTO}PrintSpace/{ALTO}TextBlock/{ALTO}TextLine/{ALTO}SP") is not None
        strings = alto_page.findall(f".//{ALTO}String")
        assert all({"HPOS", "VPOS", "WIDTH", "HEIGHT", "WC", "CONTENT"} <= set(s.keys()) for s in strings)
        assert cer(page_text, " ".join(s.get("CONTENT") for s in strings)) < 0.02

    tsv = _result(redis_stack, job["id"], "tsv").decode().splitlines()
    assert tsv[0].split("\t")[:2] == ["level", "page_num"]
    assert {row.split("\t")[1] for row in tsv[1:]} == {"1", "2", "3"}

    document = json.loads(_result(redis_stack, job["id"], "json"))
    jsonschema.validate(document, SCHEMA)
    assert document["job_id"] == job["id"] and [p["page"] for p in document["pages"]] == [1, 2, 3]
    assert document["engine"]["models"] == job["engine"]["models"]
    assert document["engine"]["options"]["lang"] == "eng"

    pdf_bytes = _result(redis_stack, job["id"], "pdf")
    reader = pypdf.PdfReader(io.BytesIO(pdf_bytes))
    assert len(reader.pages) == 3
    rendered_pdf = pdfium.PdfDocument(pdf_bytes)
    for n, page_text in enumerate(text_pages):
        assert cer(page_text, reader.pages[n].extract_text()) < 0.05
        assert cer(page_text, rendered_pdf[n].get_textpage().get_text_range()) < 0.05
    pdf = tmp_path / "result.pdf"
    pdf.write_bytes(pdf_bytes)
    assert_archive_pdf(pdf, name, redis_stack.text(job["id"]))
    if name.endswith(".pdf"):  # the PDF's own pages, their JPEGs as they were
        assert_pages_kept(corpus_file(name), pdf, 3)
    else:  # the TIFF's gray frames embedded losslessly
        assert all(i.filters == ("/FlateDecode",) for page in page_images(pdf) for i in page)


@pytest.mark.parametrize("name", ["tess_phototest-rotated-L.png", "ocrmypdf_rotated_skew.pdf"])
def test_pdf_page_image_lines_up_with_the_words(stack: Stack, name: str) -> None:
    """Turned or deskewed before recognition: the JSON's boxes are on the page as given, and the PDF shows that
    page (turned upright by its /Rotate only), so each word box holds ink of the page turned back."""
    job = stack.run(corpus_file(name), formats="json,pdf")
    assert job["status"] == "succeeded", job
    page = json.loads(_result(stack, job["id"], "json"))["pages"][0]
    pdf = pdfium.PdfDocument(_result(stack, job["id"], "pdf"))
    shown = pdf[0].render(scale=page["dpi"] / 72).to_pil().convert("L")
    rendered = shown.rotate(page["rotation"], expand=True).resize((page["width"], page["height"]))
    words = [w for block in page["blocks"] for line in block["lines"] for w in line["words"]]
    assert len(words) > 40
    # A word's box is tight around its letters: at least 5 % of it is dark where the image lines up.
    inked = [sum(rendered.crop(tuple(w["bbox"])).histogram()[:128]) > 0.05 * _area(w["bbox"]) for w in words]
    assert sum(inked) >= 0.97 * len(words)


def _area(bbox: list[int]) -> int:
    return (bbox[2] - bbox[0]) * (bbox[3] - bbox[1])


def _animation(path: Path, fmt: str) -> Path:
    """The multi-page TIFF's pages at half size as the frames of an animation."""
    frames = []
    with Image.open(corpus_file("paperless_multi-page-images.tiff")) as tiff:
        for n in range(tiff.n_frames):
            tiff.seek(n)
            page = tiff.convert("L")
            frames.append(page.resize((page.width // 2, page.height // 2), Image.Resampling.LANCZOS))
    frames[0].save(path, fmt, save_all=True, append_images=frames[1:], duration=500, loop=0)
    return path


@pytest.mark.parametrize("fmt", ["GIF", "WEBP"])
def test_animation_frames_are_pages_in_order(stack: Stack, tmp_path: Path, fmt: str) -> None:
    if fmt == "WEBP" and not features.check("webp"):
        pytest.skip("Pillow built without WebP")
    job = stack.run(_animation(tmp_path / f"pages.{fmt.lower()}", fmt))
    assert job["status"] == "succeeded", job
    assert job["pages_total"] == 3 and job["pages_done"] == 3
    _assert_pages_match_ground_truth(stack.text(job["id"]).split("\f"), "paperless_multi-page-images.tiff")


def test_a_pdf_with_a_password_fails_saying_so(stack: Stack, tmp_path: Path) -> None:
    writer = pypdf.PdfWriter(clone_from=corpus_file("paperless_multi-page-images.pdf"))
    writer.encrypt(user_password="secret", owner_password="owner", algorithm="AES-256")
    path = tmp_path / "locked.pdf"
    with path.open("wb") as fh:
        writer.write(fh)
    job = stack.run(path)
    assert job["status"] == "failed"
    assert job["error"]["code"] == "encrypted_pdf" and "password" in job["error"]["message"]
    assert stack.client.get(f"/v1/jobs/{job['id']}/result.txt").status_code == 409


def test_a_truncated_pdf_fails_saying_so(stack: Stack, tmp_path: Path) -> None:
    data = corpus_file("paperless_multi-page-images.pdf").read_bytes()
    path = tmp_path / "truncated.pdf"
    path.write_bytes(data[: len(data) * 2 // 3])
    job = stack.run(path)
    assert job["status"] == "failed"
    assert job["error"]["code"] == "unreadable_input" and "PDF" in job["error"]["message"]


def test_skip_text_reuses_a_pdfs_own_text(stack: Stack, documents: dict[str, dict[str, Any]], tmp_path: Path) -> None:
    """The searchable PDF made from the TIFF goes in again: its pages keep their text, no OCR runs."""
    source = documents["paperless_multi-page-images.tiff"]
    searchable = tmp_path / "searchable.pdf"
    searchable.write_bytes(_result(stack, source["id"], "pdf"))
    job = stack.run(searchable, skip_text="true", formats="txt,json,pdf")
    assert job["status"] == "succeeded", job
    assert job["options"] == {"skip_text": True}
    assert stack.text(job["id"]).split("\f") == [p.rstrip("\n") + "\n" for p in stack.text(source["id"]).split("\f")]
    document = json.loads(_result(stack, job["id"], "json"))
    jsonschema.validate(document, SCHEMA)
    assert [p["source"] for p in document["pages"]] == ["text_layer"] * 3
    # Pages that keep their text are copied as they are, not rasterized again.
    assert len(pypdf.PdfReader(io.BytesIO(_result(stack, job["id"], "pdf"))).pages) == 3

    ocr_again = stack.run(searchable, formats="json")  # without skip_text the same file is OCR'd
    assert [p["source"] for p in json.loads(_result(stack, ocr_again["id"], "json"))["pages"]] == ["ocr"] * 3


def test_pages_reads_only_the_pages_named_in_page_order(redis_stack: Stack, tmp_path: Path) -> None:
    tiff = corpus_file("paperless_multi-page-images.tiff")
    job = redis_stack.run(tiff, pages="3,1-1,7", formats="txt,pdf")  # page 7 is past the end: left out
    assert job["status"] == "succeeded" and job["pages_total"] == 2, job
    assert job["options"] == {"pages": "3,1-1,7"}
    first, second = redis_stack.text(job["id"]).split("\f")
    assert "Page 1." in first and "Page 3." in second
    # The searchable PDF holds the pages read, in the same order, each with its own text.
    response = redis_stack.client.get(f"/v1/jobs/{job['id']}/result.pdf")
    assert response.status_code == 200
    pdf = tmp_path / "result.pdf"
    pdf.write_bytes(response.content)
    pdf_pages = pdftotext(pdf, raw=True)
    assert len(pdf_pages) == 2 and "Page 1." in pdf_pages[0] and "Page 3." in pdf_pages[1], pdf_pages
    failed = redis_stack.run(tiff, pages="4-9")
    assert failed["status"] == "failed" and failed["error"]["code"] == "pages_out_of_range", failed
    assert "3 page" in failed["error"]["message"]
