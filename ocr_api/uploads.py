"""Upload checks: the type is sniffed from the bytes (never the name or the declared type), sizes are bounded."""

from __future__ import annotations

import logging
import re
import unicodedata
import warnings
from collections.abc import Iterator
from typing import BinaryIO

from PIL import Image, UnidentifiedImageError

from ocr_api.errors import DamagedFile, InvalidInput, UnsupportedMediaType, UploadTooLarge

log = logging.getLogger(__name__)

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
# Signatures strong enough to say what a file was meant to be (BMP's two letters are not: text starts so too).
# Bytes that start with one but do not open are a damaged file of that type (422), not an unsupported one (415).
SIGNATURES = (
    (b"\x89PNG\r\n\x1a\n", "PNG"),
    (b"\xff\xd8\xff", "JPEG"),
    (b"II*\x00", "TIFF"),
    (b"MM\x00*", "TIFF"),
    (b"GIF87a", "GIF"),
    (b"GIF89a", "GIF"),
)

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
        raise _unreadable(head) from exc
    finally:
        stream.seek(0)
    if width == 0 or height == 0:
        raise InvalidInput("the image has no pixels")
    check_frame_pixels(stream, fmt, max_pixels)  # every frame, not the first alone
    return ACCEPTED[fmt]


def _unreadable(head: bytes) -> DamagedFile | UnsupportedMediaType:
    """Why bytes no image reader opens are refused: damaged when they start like a supported image."""
    claimed = signature_format(head)
    if claimed is not None:
        return DamagedFile(
            f"the upload starts like a {claimed} image but cannot be read: it is damaged or cut short; "
            "upload the whole file again",
            {"format": claimed},
        )
    return UnsupportedMediaType(
        f"the upload is not a supported file; accepted: {ACCEPTED_LABEL} (detected from the content)"
    )


def signature_format(head: bytes) -> str | None:
    """The image format the first bytes claim (PNG, JPEG, TIFF, GIF, WebP), or None."""
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "WebP"
    return next((name for magic, name in SIGNATURES if head.startswith(magic)), None)


def check_frame_pixels(stream: BinaryIO, fmt: str, max_pixels: int, max_frames: int | None = None) -> None:
    """Every frame of the image within OCR_MAX_PIXELS_PER_PAGE (413 otherwise), read from the headers alone: a
    small TIFF may hold a first page of a few pixels and a second of a billion. At most `max_frames` frames are
    looked at (OCR_MAX_PAGES): a document with more fails in the worker on that limit before any page is read.

    TIFF and MPO frames are seeked (Pillow reads each frame's header, not its pixels); a GIF's image descriptors
    are walked here, since Pillow decodes every frame before the one it seeks to; WebP and PNG frames lie within
    the canvas the first header declares; JPEG and BMP have one frame."""
    if max_frames is None:
        from workers.settings import get_worker_settings

        max_frames = get_worker_settings().max_pages
    try:
        frames = _gif_frames(stream) if fmt == "GIF" else _seeked_frames(stream, max_frames)
        for index, (width, height) in enumerate(frames):
            if index >= max_frames:  # a longer document fails in the worker on OCR_MAX_PAGES, before any page
                return
            if width * height > max_pixels:
                raise UploadTooLarge(
                    f"page {index + 1} of the image is {width} x {height} pixels; the limit is {max_pixels} "
                    "pixels per page (OCR_MAX_PIXELS_PER_PAGE)",
                    {"page": index + 1, "width": width, "height": height, "max_pixels": max_pixels},
                )
    finally:
        stream.seek(0)


def _seeked_frames(stream: BinaryIO, max_frames: int) -> list[tuple[int, int]]:
    """The size of each frame, seeking up to one frame past `max_frames`: headers only, for TIFF and MPO. A
    list, not a generator: the warnings filter is not left changed while the caller looks at the sizes."""
    sizes: list[tuple[int, int]] = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        image = Image.open(stream, formats=[f for f in ACCEPTED if f in Image.OPEN])
        if image.format not in ("TIFF", "MPO"):
            return [image.size]
        for index in range(max_frames + 1):
            try:
                image.seek(index)
            except EOFError:
                break
            except (OSError, SyntaxError, ValueError) as exc:  # a damaged later frame: the worker says which
                log.info("frame %d of an upload cannot be read: %s", index + 1, exc)
                break
            sizes.append(image.size)
    return sizes


_GIF_MAX_BLOCKS = 1_000_000  # a GIF's blocks walked at most (a 50 MiB file holds about 200,000 sub-blocks)


def _gif_frames(stream: BinaryIO) -> Iterator[tuple[int, int]]:
    """The extent of each frame of a GIF (the canvas grown to hold it, as Pillow does), from its image
    descriptors: colour tables and image data are skipped by their lengths, never decoded."""
    stream.seek(0)
    header = stream.read(13)
    width, height = int.from_bytes(header[6:8], "little"), int.from_bytes(header[8:10], "little")
    if header[10] & 0x80:
        stream.seek(3 << ((header[10] & 7) + 1), 1)
    for _ in range(_GIF_MAX_BLOCKS):
        kind = stream.read(1)
        if kind == b",":
            descriptor = stream.read(9)
            if len(descriptor) < 9:
                return
            left, top, w, h = (int.from_bytes(descriptor[i : i + 2], "little") for i in range(0, 8, 2))
            width, height = max(width, left + w), max(height, top + h)
            yield width, height
            if descriptor[8] & 0x80:
                stream.seek(3 << ((descriptor[8] & 7) + 1), 1)
            stream.read(1)  # LZW minimum code size
        elif kind == b"!":
            stream.read(1)  # extension label
        else:  # the trailer, the end of the file or garbage: no more frames
            return
        if not _skip_gif_sub_blocks(stream):
            return


def _skip_gif_sub_blocks(stream: BinaryIO) -> bool:
    """Skip data sub-blocks up to their terminator; False at the end of the file."""
    for _ in range(_GIF_MAX_BLOCKS):
        length = stream.read(1)
        if not length:
            return False
        if length == b"\x00":
            return True
        stream.seek(length[0], 1)
    return False


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
