"""Pages and their pixel limit: checked by the pipeline itself for every frame, whatever Pillow's global says."""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image

from workers.ocr import pages
from workers.ocr.errors import InputError


def _tiff(path: Path, sizes: list[tuple[int, int]]) -> Path:
    frames = [Image.new("L", size, 255) for size in sizes]
    frames[0].save(path, "TIFF", save_all=True, append_images=frames[1:])
    return path


@pytest.mark.parametrize("guard", [None, 1_000_000, Image.MAX_IMAGE_PIXELS])
def test_the_limit_is_the_pipelines_own_for_every_frame(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, guard: int | None
) -> None:
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", guard)
    path = _tiff(tmp_path / "two.tif", [(100, 100), (1200, 1000)])
    assert pages.count_pages(path, "image/tiff", 2_000_000) == 2
    assert pages.load_page(path, "image/tiff", 2, dpi=None, render_dpi=300, max_pixels=2_000_000).image.size == (
        1200,
        1000,
    )
    assert pages.load_page(path, "image/tiff", 1, dpi=None, render_dpi=300, max_pixels=50_000).image.size == (100, 100)
    with pytest.raises(InputError) as refused:
        pages.load_page(path, "image/tiff", 2, dpi=None, render_dpi=300, max_pixels=50_000)
    assert refused.value.code == "too_many_pixels"
    with pytest.raises(InputError) as refused:
        pages.count_pages(path, "image/tiff", 5_000)
    assert refused.value.code == "too_many_pixels"
    assert guard == Image.MAX_IMAGE_PIXELS  # the pipeline sets no process-wide limit


def blank_pdf(path: Path, width_pt: float, height_pt: float) -> Path:
    """A one-page PDF with nothing on it but its MediaBox: a few hundred bytes for any page size."""
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 {width_pt:.0f} {height_pt:.0f}] >>".encode(),
    ]
    out, offsets = bytearray(b"%PDF-1.4\n"), []
    for number, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += f"{number} 0 obj\n".encode() + body + b"\nendobj\n"
    xref = len(out)
    out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
    out += b"".join(f"{offset:010d} 00000 n \n".encode() for offset in offsets)
    out += f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode()
    path.write_bytes(bytes(out))
    return path


@pytest.mark.parametrize("size_pt", [(1e6, 1e6), (14400, 14400), (1e9, 1e9), (30000, 200)])
def test_a_huge_pdf_page_renders_within_the_limit_counting_every_pixel(
    tmp_path: Path, size_pt: tuple[float, float]
) -> None:
    # The square pages once rendered at 7746 x 7746 = 60,000,516 pixels for a limit of 60,000,000: the scale
    # fitted the area but pypdfium2 rounds each side up.
    path = blank_pdf(tmp_path / "huge.pdf", *size_pt)
    page = pages.load_page(path, pages.PDF, 1, dpi=None, render_dpi=300, max_pixels=60_000_000)
    width, height = page.image.size
    assert width * height <= 60_000_000
    assert width * height > 50_000_000  # scaled down to fit, not further
    assert page.dpi is not None and page.dpi < 300


@pytest.mark.parametrize("size_pt", [(1e8, 1), (3e7, 3)])
def test_a_pdf_page_that_fits_at_no_scale_is_too_many_pixels_before_rendering(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, size_pt: tuple[float, float]
) -> None:
    # A strip a point high: scaled to the limit's area it is still a pixel high and 77 million wide.
    path = blank_pdf(tmp_path / "strip.pdf", *size_pt)
    rendered: list[float] = []
    import pypdfium2 as pdfium

    monkeypatch.setattr(pdfium.PdfPage, "render", lambda page, **kw: rendered.append(kw["scale"]))
    with pytest.raises(InputError) as refused:
        pages.load_page(path, pages.PDF, 1, dpi=None, render_dpi=300, max_pixels=60_000_000)
    assert refused.value.code == "too_many_pixels"
    assert rendered == []  # refused from the page's size, before any bitmap was made


def test_a_later_frame_over_the_limit_fails_before_its_pixels_are_decoded(tmp_path: Path) -> None:
    # What the API refuses at upload (tests/api/test_bad_input.py), the worker refuses too, from the headers:
    # a TIFF whose second page is 10950 x 10950 (7.7 KB), a GIF whose second frame grows its 10 x 10 canvas.
    tiff = tmp_path / "pages.tif"
    Image.new("1", (100, 100), 1).save(
        tiff, "TIFF", save_all=True, append_images=[Image.new("1", (10950, 10950), 1)], compression="group4"
    )
    first = tmp_path / "first.gif"
    Image.new("P", (10, 10), 0).save(first, "GIF")
    gif = tmp_path / "grows.gif"
    descriptor = b"," + (0).to_bytes(2, "little") * 2 + (10950).to_bytes(2, "little") * 2 + b"\x00"
    gif.write_bytes(first.read_bytes()[:-1] + descriptor + b"\x08\x01\x00\x00;")
    for path, media_type in ((tiff, "image/tiff"), (gif, "image/gif")):
        assert pages.count_pages(path, media_type, 60_000_000) == 2
        assert pages.load_page(path, media_type, 1, dpi=None, render_dpi=300, max_pixels=60_000_000).image.size[0] < 200
        with pytest.raises(InputError) as refused:
            pages.load_page(path, media_type, 2, dpi=None, render_dpi=300, max_pixels=60_000_000)
        assert refused.value.code == "too_many_pixels", path
