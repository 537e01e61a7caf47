"""Turn a stored input into page images: frames of images (TIFF, GIF, WebP) and rendered PDF pages."""

from __future__ import annotations

import warnings
from collections.abc import Iterator
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


def _open_image(path: Path, max_pixels: int) -> Image.Image:
    Image.MAX_IMAGE_PIXELS = max_pixels
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(path)
            if image.width * image.height > max_pixels:
                raise Image.DecompressionBombError("too many pixels")
            return image
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise InputError(
            "too_many_pixels", f"the image has more than OCR_MAX_PIXELS_PER_PAGE={max_pixels} pixels"
        ) from exc
    except (UnidentifiedImageError, OSError) as exc:
        raise InputError("unreadable_input", f"the image cannot be read: {exc}") from exc


def _open_pdf(path: Path):
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
        pdf = _open_pdf(path)
        try:
            return len(pdf)
        finally:
            pdf.close()
    with _open_image(path, max_pixels) as image:
        return int(getattr(image, "n_frames", 1))


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
    path: Path, media_type: str, page_no: int, *, dpi: int | None, render_dpi: int, max_pixels: int
) -> PageImage:
    """Page `page_no` (1-based). `dpi` is the user's override of the image's declared resolution."""
    if media_type == PDF:
        return _render_pdf_page(path, page_no, dpi or render_dpi, max_pixels)
    image = _open_image(path, max_pixels)
    try:
        image.seek(page_no - 1)
        source_dpi = _sane_dpi(image.info.get("dpi"))
        exif_orientation = image.getexif().get(0x0112, 1) if page_no == 1 else 1
        oriented = ImageOps.exif_transpose(image) if exif_orientation not in (0, 1) else image.copy()
        oriented.load()
    except EOFError as exc:
        raise InputError("unreadable_input", f"page {page_no} is missing from the file") from exc
    except (OSError, SyntaxError, ValueError) as exc:
        raise InputError("unreadable_input", f"the image is damaged or truncated: {exc}") from exc
    finally:
        image.close()
    return PageImage(
        image=_flatten(oriented),
        dpi=dpi or source_dpi,
        exif_rotated=exif_orientation not in (0, 1),
        source_dpi=source_dpi,
    )


def _render_pdf_page(path: Path, page_no: int, dpi: int, max_pixels: int) -> PageImage:
    import pypdfium2 as pdfium

    pdf = _open_pdf(path)
    try:
        page = pdf[page_no - 1]
        width_pt, height_pt = page.get_size()
        scale = dpi / 72
        if width_pt * height_pt * scale * scale > max_pixels:
            # Keep huge pages (posters, drawings) within the pixel budget rather than failing them.
            scale = (max_pixels / (width_pt * height_pt)) ** 0.5
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


Box = tuple[int, int, int, int]


@dataclass
class TextLayer:
    """A PDF page's own text, its words grouped in lines with boxes in pixels of the page at `dpi`."""

    text: str
    width: int
    height: int
    dpi: int
    lines: list[list[tuple[str, Box]]]


def read_text_layer(path: Path, page_no: int, dpi: int) -> TextLayer | None:
    """The text a PDF page already carries (for skip_text), or None when it has none."""
    import ctypes

    import pypdfium2 as pdfium
    import pypdfium2.raw as pdfium_c

    pdf = _open_pdf(path)
    try:
        page = pdf[page_no - 1]
        textpage = page.get_textpage()
        text = textpage.get_text_range()
        if not text.strip():
            return None
        width_pt, height_pt = page.get_size()
        width, height = round(width_pt * dpi / 72), round(height_pt * dpi / 72)

        def to_pixels(x: float, y: float) -> tuple[int, int]:
            # PDFium's own page-to-device mapping handles /Rotate and crop box origins.
            dx, dy = ctypes.c_int(), ctypes.c_int()
            pdfium_c.FPDF_PageToDevice(page.raw, 0, 0, width, height, 0, x, y, ctypes.byref(dx), ctypes.byref(dy))
            return dx.value, dy.value

        lines: list[list[tuple[str, Box]]] = [[]]
        word, boxes = "", list[Box]()
        for ch, (left, bottom, right, top) in _chars(textpage, pdfium_c):
            if ch.isspace():
                if word:
                    lines[-1].append((word, _union_box(boxes)))
                    word, boxes = "", []
                if ch in "\r\n" and lines[-1]:
                    lines.append([])
                continue
            word += ch
            (x0, y0), (x1, y1) = to_pixels(left, top), to_pixels(right, bottom)
            boxes.append((min(x0, x1), min(y0, y1), max(x0, x1), max(y0, y1)))
        if word:
            lines[-1].append((word, _union_box(boxes)))
        page.close()
    except pdfium.PdfiumError as exc:
        raise InputError("unreadable_input", f"page {page_no} of the PDF is damaged: {exc}") from exc
    finally:
        pdf.close()
    clean = "\n".join(line.rstrip() for line in text.replace("\r\n", "\n").replace("\r", "\n").split("\n"))
    return TextLayer(
        text=clean.strip("\n") + "\n", width=width, height=height, dpi=dpi, lines=[ln for ln in lines if ln]
    )


def _chars(textpage: Any, pdfium_c: Any) -> Iterator[tuple[str, tuple[float, float, float, float]]]:
    """Each character of a PDFium text page with its box (left, bottom, right, top) in PDF points."""
    count = textpage.count_chars()
    i = 0
    while i < count:
        code = pdfium_c.FPDFText_GetUnicode(textpage.raw, i)
        box = textpage.get_charbox(i)
        i += 1
        if 0xD800 <= code < 0xDC00 and i < count:  # a UTF-16 surrogate pair: one character
            low = pdfium_c.FPDFText_GetUnicode(textpage.raw, i)
            if 0xDC00 <= low < 0xE000:
                code = 0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00)
                i += 1
        if 0xD800 <= code < 0xE000 or code == 0:
            continue
        yield chr(code), box


def _union_box(boxes: list[Box]) -> Box:
    return (min(b[0] for b in boxes), min(b[1] for b in boxes), max(b[2] for b in boxes), max(b[3] for b in boxes))
