"""Hostile and odd files, end to end: each is a clear 4xx at upload or a job that ends `failed` with the reason
(or `succeeded`, where the file is odd but valid), never a 5xx or a stuck job, and the workers go on working.
The hanging and crashing engines are in test_poison.py; upload-only checks in tests/api/test_bad_input.py."""

from __future__ import annotations

import io
import struct
import time
import zipfile
from pathlib import Path
from typing import Any

import pytest
from PIL import Image, ImageDraw, ImageFont

from tests.support import Stack, corpus_file


def outcome(stack: Stack, data: bytes, name: str, timeout: float = 120) -> dict[str, Any]:
    """{"rejected": status, "error": ...} for a 4xx at upload, else the finished job."""
    response = stack.client.post("/v1/jobs", files={"file": (name, io.BytesIO(data), "application/octet-stream")})
    assert response.status_code < 500, response.text
    if response.status_code != 202:
        assert 400 <= response.status_code < 500
        error = response.json()["error"]
        assert error["code"] and error["message"]
        return {"rejected": response.status_code, "error": error}
    job = stack.wait(response.json()["id"], timeout)
    if job["status"] == "failed":
        assert job["error"]["code"] and job["error"]["message"], job
    return job


def truncate(data: bytes, keep: float = 0.4) -> bytes:
    return data[: int(len(data) * keep)]


def text_image(mode: str, text: str = "Hostile inputs 42") -> Image.Image:
    image = Image.new("L", (900, 200), 255)
    draw = ImageDraw.Draw(image)
    try:
        font: Any = ImageFont.truetype("DejaVuSans.ttf", 48)
    except OSError:
        font = ImageFont.load_default(48)
    draw.text((30, 60), text, fill=0, font=font)
    return image.convert(mode) if mode != "I;16" else image.point(lambda v: v * 257, "I").convert("I;16")


def encoded(image: Image.Image, fmt: str, **params: Any) -> bytes:
    buf = io.BytesIO()
    image.save(buf, fmt, **params)
    return buf.getvalue()


@pytest.mark.parametrize(
    ("source", "fmt"),
    [("ocrdgt_clauren_mimil_1815_0031.jpg", "JPEG"), ("tess_phototest.tif", "TIFF"), ("doctor_image-pdf.pdf", "PDF")],
)
def test_truncated_files_are_refused_or_fail_with_the_reason(stack: Stack, source: str, fmt: str) -> None:
    result = outcome(stack, truncate(corpus_file(source).read_bytes()), f"cut.{fmt.lower()}")
    assert result.get("rejected") in (415, 422) or result["status"] in ("failed", "succeeded"), result
    if result.get("status") == "failed":
        assert result["error"]["code"] in ("unreadable_input", "no_pages"), result


def test_a_pdf_page_of_200_by_200_inches_stays_within_the_pixel_budget(tmp_path: Path) -> None:
    """Rendered at whatever resolution fits OCR_MAX_PIXELS_PER_PAGE, in this process: a poster page OCRs as a
    smaller image instead of taking gigabytes (end to end it is a blank page that takes Tesseract a while)."""
    from workers.ocr import pages

    poster = tmp_path / "poster.pdf"
    Image.new("L", (200, 200), 255).save(poster, "PDF", resolution=1.0)  # 200 x 200 pixels at 1 dpi: 200 inches
    started = time.monotonic()
    assert pages.count_pages(poster, pages.PDF, 4_000_000) == 1
    page = pages.load_page(poster, pages.PDF, 1, dpi=None, render_dpi=300, max_pixels=4_000_000)
    assert page.image.width * page.image.height <= 4_000_000 and page.image.width > 1000
    assert time.monotonic() - started < 10


def test_a_pdf_that_is_also_a_zip_is_read_as_the_pdf(stack: Stack) -> None:
    pdf = encoded(text_image("L"), "PDF", resolution=150.0)
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("payload/../../evil.txt", "owned")
    result = outcome(stack, pdf + archive.getvalue(), "polyglot.pdf")
    assert result.get("status") == "succeeded", result
    assert result["media_type"] == "application/pdf" and "Hostile" in stack.text(result["id"])
    root = (stack.data_dir / "files").resolve()
    assert not list(stack.data_dir.rglob("evil.txt")) and root.exists()


def many_page_tiff(pages: int) -> bytes:
    """A TIFF of `pages` 8 x 8 white pages sharing one strip, written by hand (Pillow's save_all is quadratic)."""
    strip_at, first_ifd = 8, 16
    ifd_size = 2 + 9 * 12 + 4
    out = bytearray(struct.pack("<2sHI", b"II", 42, first_ifd) + b"\xff" * 8)
    for n in range(pages):
        at = first_ifd + n * ifd_size
        entries = [(256, 3, 8), (257, 3, 8), (258, 3, 1), (259, 3, 1), (262, 3, 1), (273, 4, strip_at),
                   (277, 3, 1), (278, 3, 8), (279, 4, 8)]  # fmt: skip
        out += struct.pack("<H", len(entries))
        for tag, kind, value in entries:
            out += struct.pack("<HHII", tag, kind, 1, value)
        out += struct.pack("<I", at + ifd_size if n + 1 < pages else 0)
    return bytes(out)


def test_a_tiff_of_10000_pages_fails_fast_on_the_page_limit(stack: Stack) -> None:
    data = many_page_tiff(10_000)
    assert Image.open(io.BytesIO(many_page_tiff(3))).n_frames == 3
    started = time.monotonic()
    result = outcome(stack, data, "pages.tif")
    assert result.get("status") == "failed", result
    assert result["error"]["code"] == "too_many_pages" and "10000 pages" in result["error"]["message"]
    assert time.monotonic() - started < 30


@pytest.mark.parametrize(
    ("mode", "fmt"), [("CMYK", "JPEG"), ("CMYK", "TIFF"), ("I;16", "PNG"), ("P", "PNG"), ("P", "GIF")]
)
def test_unusual_colour_modes_are_read(stack: Stack, mode: str, fmt: str) -> None:
    image = text_image(mode)
    assert image.mode == mode
    result = outcome(stack, encoded(image, fmt), f"modes.{fmt.lower()}")
    assert result.get("status") == "succeeded", result
    assert "Hostile" in stack.text(result["id"])


def test_the_workers_still_work_after_all_that(stack: Stack) -> None:
    assert all(proc.poll() is None for proc in stack.procs)
    assert stack.run(corpus_file("tess_HelloGoogle.tif"))["status"] == "succeeded"
