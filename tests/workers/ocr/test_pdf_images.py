"""The searchable PDF's images: re-encoded only when the job asks (and never larger), a TIFF page's JPEG data
kept as that JPEG, an MPO (a phone's JPEG with a preview after it) one page."""

from __future__ import annotations

import io
import struct
from pathlib import Path

import pikepdf
import pytest
from pikepdf import pdfa
from PIL import Image, ImageChops, ImageStat

from bench import pdfcheck
from tests.support import corpus_file
from tests.workers.ocr.test_pdf import MAX_PIXELS, _words_page
from workers.ocr import pages
from workers.ocr.pdf import Lossy, images, searchable_pdf
from workers.ocr.pdf.lossy import reencode_images


def _pdf(tmp: Path, source: Path, media_type: str, lossy: Lossy | None, size: tuple[int, int]) -> Path:
    target = tmp / f"{source.stem}.{lossy}.pdf"
    with target.open("wb") as out:
        searchable_pdf(source, media_type, [_words_page(*size, "some words")], out, title=source.name,
                       creator="test", redo=False, archive=True, dpi=None, default_dpi=300, max_pixels=MAX_PIXELS,
                       lossy=lossy)  # fmt: skip
    return target


def test_lossy_optimisation_only_when_asked_and_never_larger(tmp_path: Path) -> None:
    """Off (the default): the JPEG's own bytes. A JPEG quality: re-encoded smaller, still PDF/A-2b, looking
    alike. A quality that would make it larger (95 over the file's own): kept as it is."""
    source = corpus_file("pyt_test.jpg")  # 640 x 480 gray at 200 dpi
    off = _pdf(tmp_path, source, "image/jpeg", None, (640, 480))
    assert [i.raw for i in pdfcheck.page_images(off)[0]] == [source.read_bytes()]
    smaller = _pdf(tmp_path, source, "image/jpeg", Lossy(jpeg_quality=40), (640, 480))
    ((image,),) = pdfcheck.page_images(smaller)
    assert image.filters == ("/DCTDecode",) and (image.width, image.height) == (640, 480)
    assert len(image.raw) < 0.6 * source.stat().st_size
    assert pdfa.validate_written(smaller, "2b").passed
    assert pdfcheck.rendered_difference(off, smaller) < 2
    kept = _pdf(tmp_path, source, "image/jpeg", Lossy(jpeg_quality=95), (640, 480))
    assert [i.raw for i in pdfcheck.page_images(kept)[0]] == [source.read_bytes()]
    downsampled = _pdf(tmp_path, source, "image/jpeg", Lossy(max_dpi=100), (640, 480))
    assert [(i.width, i.height) for i in pdfcheck.page_images(downsampled)[0]] == [(320, 240)]


def test_lossy_optimisation_leaves_bilevel_and_masked_images_alone(tmp_path: Path) -> None:
    rgba = Image.linear_gradient("L").resize((300, 200)).convert("RGBA")
    rgba.putalpha(Image.linear_gradient("L").resize((300, 200)))
    rgba.save(tmp_path / "alpha.png", dpi=(300, 300))
    for source in (corpus_file("tess_phototest.tif"), tmp_path / "alpha.png"):
        document = images.image_document(source, dpi=None, default_dpi=300, max_pixels=MAX_PIXELS)
        with pikepdf.open(io.BytesIO(document)) as pdf:
            assert reencode_images(pdf, Lossy(jpeg_quality=10, max_dpi=50)) == (0, 0, 0), source.name


@pytest.mark.parametrize(("mode", "options"), [("RGB", {"strip_size": 1 << 24}), ("YCbCr", {}), ("L", {})])
def test_a_tiff_page_whose_data_is_jpeg_keeps_that_jpeg(tmp_path: Path, mode: str, options: dict) -> None:
    """Pillow (libtiff) writes new-style JPEG-in-TIFF: RGB in one strip, YCbCr and gray in strips of 32 and
    88 rows. The PDF embeds the strips' data merged into one JPEG (not decoded and stored losslessly), which
    decodes to the pixels of the TIFF page."""
    photo = Image.open(corpus_file("photo_Histoire_Geo_IMG_20210329_122524.jpg")).reduce(8).crop((0, 0, 490, 370))
    source = tmp_path / f"{mode}.tif"
    photo.convert(mode).save(source, compression="jpeg", quality=80, dpi=(150, 150), **options)
    document = images.image_document(source, dpi=None, default_dpi=300, max_pixels=MAX_PIXELS)
    with pikepdf.open(io.BytesIO(document)) as pdf:
        (image,) = pdf.pages[0].get_images().values()
        assert str(image.Filter) == "/DCTDecode" and (int(image.Width), int(image.Height)) == (490, 370)
        assert len(image.read_raw_bytes()) < source.stat().st_size
        decoded = pikepdf.PdfImage(image).as_pil_image().convert("RGB")
    with Image.open(source) as tiff:
        difference = ImageStat.Stat(ImageChops.difference(decoded, tiff.convert("RGB"))).mean
    assert max(difference) < 0.5, difference


def _phone_mpo(path: Path) -> Path:
    """A JPEG with an MPF segment naming a primary image and a large thumbnail after it, as phones write."""
    photo = Image.open(corpus_file("pyt_test.jpg")).convert("RGB")
    photo.save(path, "MPO", save_all=True, append_images=[photo.resize((160, 120))], dpi=(200, 200))
    data = path.read_bytes()
    with Image.open(path) as image:
        entries = image.mpinfo[0xB002]
    for entry, attribute in zip(entries, (0xA0030000, 0x40010001), strict=True):  # primary; VGA thumbnail
        mptype = {"Baseline MP Primary Image": 0x030000}.get(entry["Attribute"]["MPType"], 0)
        old = struct.pack("<LLL", mptype, entry["Size"], entry["DataOffset"])
        assert data.count(old) == 1
        data = data.replace(old, struct.pack("<LLL", attribute, entry["Size"], entry["DataOffset"]))
    path.write_bytes(data)
    return path


def test_a_phone_mpo_is_one_page_with_its_own_jpeg(tmp_path: Path) -> None:
    """Pillow sees two frames; img2pdf embeds a primary image with its thumbnail as one page (the file as it
    is). The service reads it as one page too, so the PDF has the pages the results have."""
    source = _phone_mpo(tmp_path / "phone.jpg")
    with Image.open(source) as image:
        assert image.format == "MPO" and image.n_frames == 2
    assert pages.count_pages(source, "image/jpeg", MAX_PIXELS) == 1
    result = _pdf(tmp_path, source, "image/jpeg", None, (640, 480))
    ((image,),) = pdfcheck.page_images(result)
    assert image.filters == ("/DCTDecode",) and image.raw == source.read_bytes()
