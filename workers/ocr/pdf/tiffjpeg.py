"""A TIFF page whose data is JPEG, embedded as that JPEG (DCTDecode) instead of decoded and stored losslessly.

A new-style JPEG-in-TIFF page (compression 7, TIFF Technical Note 2) holds its quantisation and Huffman
tables once (the JPEGTables tag) and each strip as an abbreviated JPEG datastream of its rows. Merged into one
standalone JPEG, as libtiff's tiff2pdf does: the tables, the first strip's frame header with the page's full
height, and the strips' entropy-coded data in turn, a restart marker between two strips (it resets what a
strip's own datastream starts afresh: the DC predictions and the bit position). A page stored as RGB (not
YCbCr) gets an Adobe marker saying its colours are not transformed.

Only what can be merged exactly is: one or more strips of whole MCU rows (or a single tile the size of the
page), baseline or extended sequential frames without restart intervals of their own, and strips whose
headers agree. Each merged JPEG is decoded and compared with Pillow's reading of the TIFF page before it
replaces the page's lossless image; any doubt keeps the lossless one (old-style JPEG, compression 6, too).
"""

from __future__ import annotations

import io
import logging
import math
import struct
import warnings
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, ImageChops, ImageStat, TiffImagePlugin

__all__ = ["page_jpegs"]

log = logging.getLogger(__name__)
JPEG_COMPRESSION = 7
# (photometric interpretation, samples per pixel) taken: gray (black is zero), RGB, YCbCr.
_LAYOUTS = {(1, 1): "L", (2, 3): "RGB", (6, 3): "RGB"}
# An Adobe APP14 segment: version 100, no flags, transform 0 (the components are RGB as they are).
_ADOBE_RGB = b"\xff\xee\x00\x0eAdobe\x00\x64\x00\x00\x00\x00\x00"
_SOF = (0xC0, 0xC1)
_MAX_DIFFERENCE = 2.0  # mean, 0-255: the merged JPEG decodes as Pillow reads the TIFF page


@dataclass(frozen=True)
class PageJpeg:
    data: bytes
    rgb: bool  # stored as RGB: its colours are not to be transformed (DecodeParms /ColorTransform 0)


@dataclass
class _Stream:
    """One strip's JPEG datastream, split: its header segments (marker, bytes), frame header, scan."""

    segments: list[tuple[int, bytes]]
    frame: bytes  # the SOF segment, marker included
    scan: bytes  # the SOS segment, marker included
    data: bytes  # entropy-coded data (up to the EOI marker)


def page_jpegs(path: Path) -> dict[int, PageJpeg]:
    """The pages (0-based) of a TIFF file whose JPEG data can be embedded as it is, each as a standalone JPEG."""
    found: dict[int, PageJpeg] = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)  # pages.py checked the limit
        with Image.open(path) as image:
            if not isinstance(image, TiffImagePlugin.TiffImageFile):
                return found
            for n in range(getattr(image, "n_frames", 1)):
                image.seek(n)
                if image.tag_v2.get(259) != JPEG_COMPRESSION:
                    continue
                try:
                    jpeg = _page_jpeg(image, path)
                except (ValueError, OSError, struct.error, IndexError) as exc:
                    log.info("page %d of %s keeps a lossless copy: its JPEG data cannot be merged (%s)", n + 1,
                             path.name, exc)  # fmt: skip
                    continue
                if jpeg is not None:
                    found[n] = jpeg
    return found


def _page_jpeg(image: TiffImagePlugin.TiffImageFile, path: Path) -> PageJpeg | None:
    tags = image.tag_v2
    mode = _LAYOUTS.get((int(tags.get(262, -1)), int(tags.get(277, 1))))
    if mode is None or tags.get(284, 1) != 1 or tags.get(258, (8,))[0] != 8:
        return None
    width, height = image.size
    if 324 in tags:  # tiles: one the page's size, or none
        offsets, counts, rows = tags[324], tags[325], height
        if len(offsets) != 1 or (tags.get(322), tags.get(323)) != (width, height):
            return None
    else:
        offsets, counts, rows = tags[273], tags[279], min(int(tags.get(278, height)), height)
    strips = []
    with path.open("rb") as file:
        for offset, count in zip(offsets, counts, strict=True):
            file.seek(offset)
            strips.append(_split(file.read(count)))
    tables = _split_tables(tags.get(347))
    data = _merged(tables, strips, width, height, rows, rgb=tags.get(262) == 2)
    if data is None or not _decodes_as(data, image, mode):
        return None
    return PageJpeg(data, rgb=tags.get(262) == 2)


def _segments(data: bytes, start: int) -> tuple[list[tuple[int, bytes]], int]:
    """The marker segments from `start` up to and including SOS (or EOI); returns them and where they end."""
    segments, at = [], start
    while at + 4 <= len(data):
        if data[at] != 0xFF:
            raise ValueError("a JPEG marker was expected")
        marker = data[at + 1]
        if marker == 0xD9:
            break
        length = struct.unpack(">H", data[at + 2 : at + 4])[0]
        segments.append((marker, data[at : at + 2 + length]))
        at += 2 + length
        if marker == 0xDA:
            break
    return segments, at


def _split_tables(tables: object) -> list[tuple[int, bytes]]:
    if not isinstance(tables, bytes) or not tables:
        return []
    if tables[:2] != b"\xff\xd8":
        raise ValueError("JPEGTables is not a JPEG datastream")
    return _segments(tables, 2)[0]


def _split(strip: bytes) -> _Stream:
    if strip[:2] != b"\xff\xd8":
        raise ValueError("a strip is not a JPEG datastream")
    segments, end = _segments(strip, 2)
    markers = [marker for marker, _ in segments]
    if not markers or markers[-1] != 0xDA or 0xDD in markers:  # no scan, or restart intervals of its own
        raise ValueError("a strip has no scan or has restart intervals")
    frames = [segment for marker, segment in segments if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC)]
    if len(frames) != 1 or frames[0][1] not in _SOF:
        raise ValueError("a strip is not one sequential frame")
    eoi = strip.rfind(b"\xff\xd9")
    kept = [(m, s) for m, s in segments[:-1] if not 0xC0 <= m <= 0xCF or m in (0xC4, 0xCC)]
    return _Stream(kept, frames[0], segments[-1][1], strip[end : eoi if eoi >= end else len(strip)])


def _merged(
    tables: list[tuple[int, bytes]], strips: list[_Stream], width: int, height: int, rows: int, *, rgb: bool
) -> bytes | None:
    """One JPEG of the page's strips, or None where they cannot be joined exactly."""
    first = strips[0]
    header = (first.segments, first.scan, first.frame[:5], first.frame[7:])
    if any((s.segments, s.scan, s.frame[:5], s.frame[7:]) != header for s in strips):
        return None  # strips with other tables, components or scans
    if any(_frame_height(s) != rows for s in strips[:-1]):
        return None  # each strip but the last holds `rows` rows
    components = first.frame[9]
    sampling = [first.frame[11 + 3 * i] for i in range(components)]
    mcu_w = 8 * max(s >> 4 for s in sampling) if components > 1 else 8
    mcu_h = 8 * max(s & 15 for s in sampling) if components > 1 else 8
    frame_width = int(struct.unpack(">H", first.frame[7:9])[0])
    restart = math.ceil(width / mcu_w) * (rows // mcu_h)
    if frame_width != width or (len(strips) > 1 and (rows % mcu_h or not 0 < restart <= 0xFFFF)):
        return None
    frame = first.frame[:5] + struct.pack(">H", height) + first.frame[7:]
    adobe = rgb and all(marker != 0xEE for marker, _ in tables + first.segments)
    out = [b"\xff\xd8", _ADOBE_RGB if adobe else b""]
    out += [segment for _, segment in tables + first.segments] + [frame]
    if len(strips) > 1:
        out.append(b"\xff\xdd\x00\x04" + struct.pack(">H", restart))
    out.append(first.scan)
    for n, strip in enumerate(strips):
        out.append(strip.data)
        if n + 1 < len(strips):
            out.append(bytes((0xFF, 0xD0 + n % 8)))
    out.append(b"\xff\xd9")
    return b"".join(out)


def _frame_height(stream: _Stream) -> int:
    return int(struct.unpack(">H", stream.frame[5:7])[0])


def _decodes_as(data: bytes, page: Image.Image, mode: str) -> bool:
    """Whether the JPEG decodes to the page's size and, closely, to Pillow's reading of the TIFF page."""
    with Image.open(io.BytesIO(data)) as jpeg:
        if jpeg.format != "JPEG" or jpeg.size != page.size or jpeg.mode != mode:
            return False
        decoded = jpeg.convert(mode)
    expected = page.convert(mode)
    difference = ImageStat.Stat(ImageChops.difference(decoded, expected)).mean
    return sum(difference) / len(difference) <= _MAX_DIFFERENCE


def with_page_jpegs(document: bytes, path: Path) -> bytes:
    """img2pdf's PDF of the image at `path` with each TIFF page whose JPEG data can be kept given that JPEG
    (DCTDecode) in place of its lossless copy; the document as it was when there is none (or on any doubt)."""
    import pikepdf

    try:
        jpegs = page_jpegs(path)
        return _replaced(document, jpegs) if jpegs else document
    except (pikepdf.PdfError, ValueError, OSError) as exc:
        log.warning("%s keeps its lossless pages: its JPEG data cannot be embedded (%s)", path.name, exc)
        return document


def _replaced(document: bytes, jpegs: dict[int, PageJpeg]) -> bytes:
    import pikepdf

    with pikepdf.open(io.BytesIO(document)) as pdf:
        for n, jpeg in jpegs.items():
            images = list(pdf.pages[n].get_images(recursive=False).values()) if n < len(pdf.pages) else []
            if len(images) != 1:
                continue
            image = images[0]
            image.write(jpeg.data, filter=pikepdf.Name.DCTDecode)
            if "/DecodeParms" in image:
                del image["/DecodeParms"]
            if jpeg.rgb:
                image.DecodeParms = pikepdf.Dictionary(ColorTransform=0)
        out = io.BytesIO()
        pdf.save(out)
        return out.getvalue()
