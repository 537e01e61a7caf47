"""Upload checks: the type is sniffed from the bytes (never the name or the declared type), sizes are bounded."""

from __future__ import annotations

import re
import unicodedata
import warnings
from typing import BinaryIO

from PIL import Image, UnidentifiedImageError

from ocr_api.errors import InvalidInput, UnsupportedMediaType, UploadTooLarge

ACCEPTED = {
    "PNG": "image/png",
    "JPEG": "image/jpeg",
    "MPO": "image/jpeg",
    "TIFF": "image/tiff",
    "WEBP": "image/webp",
    "BMP": "image/bmp",
    "GIF": "image/gif",
}
PDF = "application/pdf"
PDF_HEADER = b"%PDF-"
# The PDF spec puts the header at the first byte; pdfium, the workers' PDF reader, also finds it after up to 1024
# bytes of junk (as Acrobat does). Bytes that open as an image are an image, whatever "%PDF-" they hold.
PDF_HEADER_MAX_OFFSET = 1024
ACCEPTED_LABEL = "PNG, JPEG, TIFF, WebP, BMP, GIF images and PDF documents"

# Pillow's guard against decompression bombs is one process-wide setting; this is the one place the service
# sets it. The API process opens images only to read their header, never decodes their pixels, and checks their
# size itself against OCR_MAX_PIXELS_PER_PAGE below (a 413 that says the size), so the guard is off here. The
# workers never set it: they check every frame they load against the same limit (workers/ocr/pages.py).
Image.MAX_IMAGE_PIXELS = None


def sniff_media_type(stream: BinaryIO, max_pixels: int) -> str:
    """The media type of the upload, read from its first bytes; raises 415/413/422 errors."""
    head = stream.read(PDF_HEADER_MAX_OFFSET + len(PDF_HEADER))
    stream.seek(0)
    if not head:
        raise InvalidInput("the uploaded file is empty")
    if head.startswith(PDF_HEADER):
        return PDF
    Image.init()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            image = Image.open(stream, formats=[f for f in ACCEPTED if f in Image.OPEN])
            fmt, width, height = image.format or "", image.width, image.height
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        if PDF_HEADER in head:  # a PDF after junk, within what the workers' reader accepts
            return PDF
        raise UnsupportedMediaType(
            f"the upload is not a supported file; accepted: {ACCEPTED_LABEL} (detected from the content)"
        ) from exc
    finally:
        stream.seek(0)
    if width * height > max_pixels:
        raise UploadTooLarge(
            f"the image is {width} x {height} pixels; the limit is {max_pixels} pixels per page "
            "(OCR_MAX_PIXELS_PER_PAGE)",
            {"width": width, "height": height, "max_pixels": max_pixels},
        )
    if width == 0 or height == 0:
        raise InvalidInput("the image has no pixels")
    return ACCEPTED[fmt]


# C0 and C1 controls, and the bidirectional overrides, embeddings, isolates and marks that make a name read
# differently from what it is ("invoice\u202efdp.exe" shows as "invoiceexe.pdf").
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def clean_filename(raw: str | None, max_len: int = 200) -> str | None:
    """The user's file name as harmless metadata: last path component, no control characters, bounded."""
    if not raw:
        return None
    name = unicodedata.normalize("NFC", raw).replace("\\", "/").rsplit("/", 1)[-1]
    name = _CONTROL.sub("", name).strip().lstrip(".")
    if len(name) > max_len:
        stem, dot, ext = name.rpartition(".")
        name = (stem[: max_len - len(ext) - 1] + dot + ext) if dot and len(ext) <= 10 else name[:max_len]
    return name or None
