"""`%PDF-` makes an upload a PDF only where the workers' PDF reader (pdfium) finds a header: at the start, or
after at most 1024 bytes of junk; bytes that open as an image stay an image whatever "%PDF-" they hold."""

from __future__ import annotations

import io
from pathlib import Path

import pypdfium2 as pdfium
import pytest
from PIL import Image
from PIL.PngImagePlugin import PngInfo

from ocr_api.errors import UnsupportedMediaType
from ocr_api.uploads import PDF, sniff_media_type
from tests.support import Stack, corpus_file

MAX_PIXELS = 60_000_000


def _pdf() -> bytes:
    buffer = io.BytesIO()
    with Image.open(corpus_file("paperless_simple.png")) as image:
        image.convert("RGB").save(buffer, "PDF", resolution=150)
    return buffer.getvalue()


def _png_holding_pdf_header() -> bytes:
    info = PngInfo()
    info.add_text("comment", "%PDF-1.7 not a PDF")
    buffer = io.BytesIO()
    with Image.open(corpus_file("paperless_simple.png")) as image:
        image.save(buffer, "PNG", pnginfo=info)
    data = buffer.getvalue()
    assert b"%PDF-" in data[:1024]
    return data


def _sniff(data: bytes) -> str:
    return sniff_media_type(io.BytesIO(data), MAX_PIXELS)


def _pdfium_opens(data: bytes) -> bool:
    try:
        pdfium.PdfDocument(data).close()
    except pdfium.PdfiumError:
        return False
    return True


def test_an_image_holding_the_pdf_header_is_an_image() -> None:
    assert _sniff(_png_holding_pdf_header()) == "image/png"


@pytest.mark.parametrize("junk", [0, 1, 500, 1019, 1020, 1024, 1025, 1100, 4000])
def test_the_sniff_calls_pdf_what_the_workers_reader_opens(junk: int) -> None:
    data = b"\n" * junk + _pdf()
    opens = _pdfium_opens(data)
    assert opens == (junk <= 1024), "pdfium's reach, as this test assumes it"
    if opens:
        assert _sniff(data) == PDF
    else:
        with pytest.raises(UnsupportedMediaType):
            _sniff(data)


def test_through_the_service_each_is_read_as_what_it_is(stack: Stack, tmp_path: Path) -> None:
    png, pdf = tmp_path / "header-inside.png", tmp_path / "junk-first.pdf"
    png.write_bytes(_png_holding_pdf_header())
    pdf.write_bytes(b"\r\n" * 200 + _pdf())
    for path, media_type in [(png, "image/png"), (pdf, PDF)]:
        job = stack.run(path, formats="txt")
        assert (job["status"], job["media_type"]) == ("succeeded", media_type), job
        assert "This is a test document." in stack.text(job["id"])
