"""Turn a stored input into page images: frames of images (TIFF, GIF, WebP) and rendered PDF pages."""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PIL import Image, ImageOps, UnidentifiedImageError

from workers.ocr.errors import InputError

PDF = "application/pdf"
# Declared resolutions outside this range are treated as unknown (phone photos say 72, receipts even 1).
SANE_DPI = (100, 1200)


@dataclass
class PageImage:
    image: Image.Image
    dpi: int | None  # the resolution to tell the engine, None when unknown
    exif_rotated: bool = False
    source_dpi: int | None = None
    camera: bool = False  # the file carries a camera's EXIF tags (make, model, exposure): a photo


# EXIF tags only cameras write: Make, Model (0th IFD); ExposureTime, FNumber, FocalLength (Exif IFD).
CAMERA_TAGS = (0x010F, 0x0110)
EXPOSURE_TAGS = (0x829A, 0x829D, 0x920A)
EXIF_IFD = 0x8769


def has_camera_tags(exif: Image.Exif) -> bool:
    """Whether EXIF says a camera took the picture (a phone photo rather than a scan or a rendering)."""
    if any(exif.get(tag) for tag in CAMERA_TAGS):
        return True
    return any(tag in exif.get_ifd(EXIF_IFD) for tag in EXPOSURE_TAGS)


def _too_many_pixels(max_pixels: int) -> InputError:
    return InputError("too_many_pixels", f"the image has more than OCR_MAX_PIXELS_PER_PAGE={max_pixels} pixels")


def _check_pixels(image: Image.Image, max_pixels: int) -> None:
    """Refuse a frame above the limit before its pixels are decoded (Image.open and seek read headers only).

    The check is made here, explicitly, for the first frame and for each frame loaded: Pillow's own guard
    (Image.MAX_IMAGE_PIXELS, process-wide) is not set by the pipeline, and the API process turns it off
    (ocr_api/uploads.py). Where it is on, its error above twice its limit counts as too many pixels too."""
    if image.width * image.height > max_pixels:
        raise _too_many_pixels(max_pixels)


def _open_image(path: Path, max_pixels: int) -> Image.Image:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)  # the limit is checked below
            image = Image.open(path)
    except Image.DecompressionBombError as exc:
        raise _too_many_pixels(max_pixels) from exc
    except (UnidentifiedImageError, OSError) as exc:
        raise InputError("unreadable_input", f"the image cannot be read: {exc}") from exc
    try:
        _check_pixels(image, max_pixels)
    except InputError:
        image.close()
        raise
    return image


def open_pdf(path: Path) -> Any:
    import pypdfium2 as pdfium

    try:
        return pdfium.PdfDocument(str(path))
    except pdfium.PdfiumError as exc:
        text = str(exc).lower()
        if "password" in text or "security" in text:
            raise InputError("encrypted_pdf", "the PDF is encrypted; upload a copy without a password") from exc
        raise InputError("unreadable_input", f"the PDF cannot be read: {exc}") from exc


def count_pages(path: Path, media_type: str, max_pixels: int) -> int:
    if media_type == PDF:
        pdf = open_pdf(path)
        try:
            return len(pdf)
        finally:
            pdf.close()
    with _open_image(path, max_pixels) as image:
        return frame_count(image)


def frame_count(image: Image.Image) -> int:
    """The pages of an image: its frames, but one for an MPO (a phone's JPEG with its previews or depth maps
    after it, or a stereo camera's second view: one picture, read once)."""
    return 1 if image.format == "MPO" else int(getattr(image, "n_frames", 1))


def _sane_dpi(info_dpi: object) -> int | None:
    if isinstance(info_dpi, tuple) and info_dpi:
        try:
            value = round(float(info_dpi[0]))
        except (TypeError, ValueError):
            return None
        if SANE_DPI[0] <= value <= SANE_DPI[1]:
            return value
    return None


def _flatten(image: Image.Image) -> Image.Image:
    """Modes Tesseract reads well: alpha composited on white, palettes expanded."""
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(background, rgba).convert("RGB")
    if image.mode in ("1", "L", "RGB"):
        return image
    if image.mode in ("I;16", "I;16B", "I;16L", "I"):
        return ImageOps.autocontrast(image.convert("I").point(lambda v: v / 256).convert("L"))
    return image.convert("RGB")


def load_page(
    path: Path,
    media_type: str,
    page_no: int,
    *,
    dpi: int | None,
    render_dpi: int,
    max_pixels: int,
    hide_text: bool = False,
) -> PageImage:
    """Page `page_no` (1-based). `dpi` is the user's override of the image's declared resolution.
    `hide_text`: a PDF page is rendered without its text (redo_ocr reads only what is not text already)."""
    if media_type == PDF:
        return _render_pdf_page(path, page_no, dpi or render_dpi, max_pixels, hide_text=hide_text)
    image = _open_image(path, max_pixels)
    try:
        source_dpi, exif_orientation, oriented = _read_frame(image, page_no, max_pixels)
        camera = page_no == 1 and has_camera_tags(image.getexif())
    finally:
        image.close()
    return PageImage(
        image=_flatten(oriented),
        dpi=dpi or source_dpi,
        exif_rotated=exif_orientation not in (0, 1),
        source_dpi=source_dpi,
        camera=camera,
    )


def _read_frame(image: Image.Image, page_no: int, max_pixels: int) -> tuple[int | None, int, Image.Image]:
    """Frame `page_no` of an open image: its declared resolution, EXIF orientation and pixels, upright."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)  # the limit is checked here
            image.seek(page_no - 1)
            _check_pixels(image, max_pixels)  # frames of one file may differ in size
            source_dpi = _sane_dpi(image.info.get("dpi"))
            exif_orientation = image.getexif().get(0x0112, 1) if page_no == 1 else 1
            oriented = ImageOps.exif_transpose(image) if exif_orientation not in (0, 1) else image.copy()
            oriented.load()
    except Image.DecompressionBombError as exc:
        raise _too_many_pixels(max_pixels) from exc
    except EOFError as exc:
        raise InputError("unreadable_input", f"page {page_no} is missing from the file") from exc
    except (OSError, SyntaxError, ValueError) as exc:
        raise InputError("unreadable_input", f"the image is damaged or truncated: {exc}") from exc
    return source_dpi, exif_orientation, oriented


def _rendered_pixels(width_pt: float, height_pt: float, scale: float) -> int:
    return math.ceil(width_pt * scale) * math.ceil(height_pt * scale)  # as pypdfium2 sizes the bitmap


def pdf_render_scale(width_pt: float, height_pt: float, scale: float, max_pixels: int) -> float:
    """The scale to render a page at: `scale`, or less where that would pass `max_pixels`, so that huge pages
    (posters, drawings, a forged MediaBox of a million points) render within the pixel budget rather than fail.
    The size is checked before rendering; a page that fits at no scale (a strip a pixel high and a hundred
    million wide: ceil() gives each side a pixel at least) fails with too_many_pixels."""
    if _rendered_pixels(width_pt, height_pt, scale) > max_pixels:
        scale = (max_pixels / (width_pt * height_pt)) ** 0.5
        for _ in range(8):  # ceil() adds up to a pixel to each side: shrink a little until it fits
            if _rendered_pixels(width_pt, height_pt, scale) <= max_pixels:
                break
            scale *= 0.99
    if _rendered_pixels(width_pt, height_pt, scale) > max_pixels:
        raise _too_many_pixels(max_pixels)
    return scale


def _remove_text(page: Any) -> None:
    """The page's text objects taken out before it is rendered (in memory only; the file is not changed)."""
    import pypdfium2.raw as pdfium_c

    for obj in list(page.get_objects(filter=[pdfium_c.FPDF_PAGEOBJ_TEXT], max_depth=1)):
        page.remove_obj(obj)


def _render_pdf_page(path: Path, page_no: int, dpi: int, max_pixels: int, *, hide_text: bool = False) -> PageImage:
    import pypdfium2 as pdfium

    pdf = open_pdf(path)
    try:
        page = pdf[page_no - 1]
        if hide_text:
            _remove_text(page)
        width_pt, height_pt = page.get_size()
        scale = pdf_render_scale(width_pt, height_pt, dpi / 72, max_pixels)
        if scale < dpi / 72:
            dpi = int(scale * 72)
        bitmap = page.render(scale=scale, grayscale=False)
        image = bitmap.to_pil()
        image.load()
        page.close()
    except pdfium.PdfiumError as exc:
        raise InputError(
            "unreadable_input", f"page {page_no} of the PDF is damaged and cannot be rendered: {exc}"
        ) from exc
    finally:
        pdf.close()
    return PageImage(image=_flatten(image), dpi=dpi, source_dpi=dpi)
