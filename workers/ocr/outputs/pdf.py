"""Searchable PDF: each page is its image with an invisible text layer placed on the recognized words.

Built the way Tesseract's own PDF renderer and OCRmyPDF's hocrtransform build theirs: a glyphless font
(every character draws nothing, all equally wide) in text render mode 3 (invisible), each word stretched
horizontally (Tz) to its box from the TSV, so search, selection and copy land on the words in the image.
Characters get per-page codes mapped back to Unicode by a ToUnicode CMap, so any script extracts
correctly. Pages are written one at a time by the page task and merged with pypdf at the end.
"""

from __future__ import annotations

import base64
import io
import zlib
from collections.abc import Iterable
from pathlib import Path
from typing import BinaryIO

from PIL import Image, ImageChops, TiffImagePlugin

from workers.ocr.outputs.page import PageOutput
from workers.ocr.outputs.structure import page_structure

__all__ = ["copy_pdf_page", "merge_pdf_pages", "page_pdf"]

# Tesseract's tessdata/pdf.ttf (Apache-2.0): one empty glyph, so the text layer is invisible in any viewer.
GLYPHLESS_FONT = base64.b64decode(
    "AAEAAAAKAIAAAwAgT1MvMlbeyJQAAAEoAAAAYGNtYXAACgA0AAABkAAAAB5nbHlmFSJBJAAAAbgAAAAYaGVhZAt48WUAAACsAAAANmhoZWEM"
    "AgQCAAAA5AAAACRobXR4BAAAAAAAAYgAAAAIbG9jYQAMAAAAAAGwAAAABm1heHAABAAFAAABCAAAACBuYW1l8usW2gAAAdAAAABLcG9zdAAB"
    "AAEAAAIcAAAAIAABAAAAAQAAsJRxEF8PPPUEBwgAAAAAAM+a/G4AAAAA1MOn8gAAAAAEAAgAAAAAEAACAAAAAAAAAAEAAAgA//8AAAQAAAAA"
    "AAQAAAEAAAAAAAAAAAAAAAAAAAACAAEAAAACAAQAAQAAAAAAAQAAAAAAAAAAAAAAAAAAAAAAAwAAAZAABQAAAAAAAAAAAAAAAAAAAAAAAAAA"
    "AAAAAAUAAQABAAAAAAAAAAAAAAAAAAAAAAAAAAAAR09PRwBAAAAAAAAB//8AAAABAAGAAAAAAAAAAAAAAAAAAAABAAAAAAAABAAAAAAAAAIA"
    "AQAAAAAAFAADAAAAAAAUAAYACgAAAAAAAAAAAAAAAAAMAAAAAQAAAAAEAAgAAAMAADEhESEEAPwACAAAAAADACoAAAADAAAABQAWAAAAAQAA"
    "AAAABQALABYAAwABBAkABQAWAAAAVgBlAHIAcwBpAG8AbgAgADEALgAwVmVyc2lvbiAxLjAAAAEAAAAAAAAAAAAAAAAAAQAAAAAAAAAAAAAA"
    "AAAAAAA="
)
GLYPH_WIDTH = 0.5  # of the font size: the /DW 500 below
JPEG_QUALITY = 75
DEFAULT_DPI = 300


# -- a minimal PDF file writer -----------------------------------------------------------------------
class _PdfFile:
    def __init__(self) -> None:
        self._objects: list[bytes] = []

    def reserve(self) -> int:
        self._objects.append(b"")
        return len(self._objects)

    def put(self, body: bytes | str, number: int | None = None) -> int:
        data = body.encode("latin-1") if isinstance(body, str) else body
        if number is None:
            number = self.reserve()
        self._objects[number - 1] = data
        return number

    def put_stream(self, entries: str, data: bytes, *, compress: bool = False) -> int:
        if compress:
            data, entries = zlib.compress(data), f"{entries} /Filter /FlateDecode"
        return self.put(f"<< {entries} /Length {len(data)} >>\nstream\n".encode("latin-1") + data + b"\nendstream")

    def to_bytes(self, root: int, info: int | None = None) -> bytes:
        out = bytearray(b"%PDF-1.5\n%\xe2\xe3\xcf\xd3\n")
        offsets = []
        for number, body in enumerate(self._objects, start=1):
            offsets.append(len(out))
            out += f"{number} 0 obj\n".encode() + body + b"\nendobj\n"
        xref = len(out)
        out += f"xref\n0 {len(offsets) + 1}\n0000000000 65535 f \n".encode()
        out += b"".join(f"{offset:010d} 00000 n \n".encode() for offset in offsets)
        trailer = f"<< /Size {len(offsets) + 1} /Root {root} 0 R" + (f" /Info {info} 0 R" if info else "") + " >>"
        out += f"trailer\n{trailer}\nstartxref\n{xref}\n%%EOF\n".encode()
        return bytes(out)


# -- the page image ----------------------------------------------------------------------------------
def _is_gray(image: Image.Image) -> bool:
    red, green, blue = image.split()
    return ImageChops.difference(red, green).getbbox() is None and ImageChops.difference(red, blue).getbbox() is None


def _g4_strip(image: Image.Image) -> bytes:
    """CCITT Group 4 data of a bilevel image: libtiff encodes it into one TIFF strip, which is copied out."""
    buffer = io.BytesIO()
    image.save(buffer, "TIFF", compression="group4", strip_size=((image.width + 7) // 8) * image.height)
    buffer.seek(0)
    with TiffImagePlugin.TiffImageFile(buffer) as tiff:
        offsets, counts = tiff.tag_v2[273], tiff.tag_v2[279]  # StripOffsets, StripByteCounts
    if len(offsets) != 1:
        raise ValueError("expected a single G4 strip")
    return buffer.getvalue()[offsets[0] : offsets[0] + counts[0]]


def encode_image(image: Image.Image) -> tuple[str, bytes]:
    """The image XObject's dictionary entries and data: CCITT G4 for bilevel pages, JPEG otherwise."""
    if image.mode not in ("1", "L", "RGB"):
        image = image.convert("RGB")
    if image.mode == "RGB" and _is_gray(image):
        image = image.convert("L")
    if image.mode == "L" and (colors := image.getcolors(2)) and {value for _, value in colors} <= {0, 255}:
        image = image.convert("1")
    size = f"/Width {image.width} /Height {image.height}"
    if image.mode == "1":
        parms = f"<< /K -1 /Columns {image.width} /Rows {image.height} /BlackIs1 true >>"
        entries = f"{size} /ColorSpace /DeviceGray /BitsPerComponent 1 /Filter /CCITTFaxDecode /DecodeParms {parms}"
        return entries, _g4_strip(image)
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=JPEG_QUALITY, optimize=True)
    space = "/DeviceGray" if image.mode == "L" else "/DeviceRGB"
    return f"{size} /ColorSpace {space} /BitsPerComponent 8 /Filter /DCTDecode", buffer.getvalue()


# -- the text layer ----------------------------------------------------------------------------------
class _Codes:
    """Two-byte character codes for one page's font, each mapped back to its Unicode character."""

    def __init__(self) -> None:
        self.chars: dict[str, int] = {}

    def hex(self, text: str) -> str:
        return "".join(f"{self.chars.setdefault(ch, len(self.chars) + 1):04X}" for ch in text)

    def to_unicode_cmap(self) -> bytes:
        entries = [f"<{code:04X}> <{ch.encode('utf-16-be').hex().upper()}>" for ch, code in self.chars.items()]
        blocks = "".join(
            f"{len(chunk)} beginbfchar\n" + "\n".join(chunk) + "\nendbfchar\n"
            for chunk in (entries[i : i + 100] for i in range(0, len(entries), 100))
        )
        return (
            "/CIDInit /ProcSet findresource begin\n12 dict begin\nbegincmap\n"
            "/CIDSystemInfo << /Registry (Adobe) /Ordering (UCS) /Supplement 0 >> def\n"
            "/CMapName /Adobe-Identity-UCS def\n/CMapType 2 def\n"
            "1 begincodespacerange\n<0000> <FFFF>\nendcodespacerange\n"
            f"{blocks}endcmap\nCMapName currentdict /CMap defineresource pop\nend\nend\n"
        ).encode("ascii")

    def cid_to_gid_map(self) -> bytes:
        # Code 0 is unused; every other code draws glyph 1, the empty one.
        return b"\x00\x00" + b"\x00\x01" * len(self.chars)


def _num(value: float) -> str:
    return f"{value:.2f}".rstrip("0").rstrip(".") or "0"


def text_layer(page: PageOutput, scale: float, page_height: float, codes: _Codes) -> str:
    """Content stream operators drawing every word invisibly over its box; `scale` is points per pixel."""
    ops = ["BT", "3 Tr"]
    for block in page_structure(page)["blocks"]:
        for line in block["lines"]:
            _, y0, _, y1 = line["bbox"]
            size = max((y1 - y0) * scale, 1.0)
            # Baseline at the line's bottom and the font's ascent at its top: selections cover the line.
            baseline = page_height - y1 * scale
            ops.append(f"/F0 {_num(size)} Tf")
            words = line["words"]
            for i, word in enumerate(words):
                wx0, _, wx1, _ = word["bbox"]
                ops.append(f"1 0 0 1 {_num(wx0 * scale)} {_num(baseline)} Tm")
                ops.append(_stretched(word["text"], (wx1 - wx0) * scale, size, codes))
                if i + 1 < len(words):  # a real space, stretched over the gap, so extracted text has one
                    gap = (words[i + 1]["bbox"][0] - wx1) * scale
                    ops.append(_stretched(" ", gap, size, codes))
    ops.append("ET")
    return "\n".join(ops)


def _stretched(text: str, width: float, size: float, codes: _Codes) -> str:
    natural = len(text) * GLYPH_WIDTH * size
    horizontal = max(100 * width / natural, 0.01) if natural else 100
    return f"{_num(horizontal)} Tz <{codes.hex(text)}> Tj"


# -- pages and documents -----------------------------------------------------------------------------
def page_pdf(image: Image.Image, page: PageOutput, *, default_dpi: int = DEFAULT_DPI) -> bytes:
    """One PDF page: `image` (what the boxes of `page` refer to) with the invisible text over it.

    The page measures page.width x page.height pixels at page.dpi (or `default_dpi` when the resolution
    is unknown); an image of another size is stretched to it.
    """
    scale = 72 / (page.dpi or default_dpi)
    width, height = page.width * scale, page.height * scale
    codes = _Codes()
    pdf = _PdfFile()
    catalog, pages = pdf.reserve(), pdf.reserve()
    image_entries, image_data = encode_image(image)
    image_ref = pdf.put_stream(f"/Type /XObject /Subtype /Image {image_entries}", image_data)
    content = f"q {_num(width)} 0 0 {_num(height)} 0 0 cm /Im0 Do Q\n" + text_layer(page, scale, height, codes)
    content_ref = pdf.put_stream("", content.encode("ascii"), compress=True)
    font_file = pdf.put_stream(f"/Length1 {len(GLYPHLESS_FONT)}", GLYPHLESS_FONT, compress=True)
    descriptor = pdf.put(
        "<< /Type /FontDescriptor /FontName /GlyphLessFont /Flags 5 /FontBBox [0 0 500 1000] /ItalicAngle 0"
        f" /Ascent 1000 /Descent -1 /CapHeight 1000 /StemV 80 /FontFile2 {font_file} 0 R >>"
    )
    gid_map = pdf.put_stream("", codes.cid_to_gid_map(), compress=True)
    cid_font = pdf.put(
        "<< /Type /Font /Subtype /CIDFontType2 /BaseFont /GlyphLessFont"
        " /CIDSystemInfo << /Registry (Adobe) /Ordering (Identity) /Supplement 0 >>"
        f" /FontDescriptor {descriptor} 0 R /DW 500 /CIDToGIDMap {gid_map} 0 R >>"
    )
    to_unicode = pdf.put_stream("", codes.to_unicode_cmap(), compress=True)
    font = pdf.put(
        "<< /Type /Font /Subtype /Type0 /BaseFont /GlyphLessFont /Encoding /Identity-H"
        f" /DescendantFonts [{cid_font} 0 R] /ToUnicode {to_unicode} 0 R >>"
    )
    page_ref = pdf.put(
        f"<< /Type /Page /Parent {pages} 0 R /MediaBox [0 0 {_num(width)} {_num(height)}]"
        f" /Resources << /XObject << /Im0 {image_ref} 0 R >> /Font << /F0 {font} 0 R >> >>"
        f" /Contents {content_ref} 0 R >>"
    )
    pdf.put(f"<< /Type /Pages /Kids [{page_ref} 0 R] /Count 1 >>", pages)
    pdf.put(f"<< /Type /Catalog /Pages {pages} 0 R >>", catalog)
    return pdf.to_bytes(catalog)


def copy_pdf_page(path: Path, page_no: int) -> bytes:
    """Page `page_no` (1-based) of a PDF as a one-page PDF, unchanged (pages that keep their own text)."""
    from pypdf import PdfReader, PdfWriter

    reader = PdfReader(path)
    if reader.is_encrypted:
        reader.decrypt("")  # only documents that open without a password get this far
    writer = PdfWriter()
    writer.add_page(reader.pages[page_no - 1])
    buffer = io.BytesIO()
    writer.write(buffer)
    return buffer.getvalue()


def merge_pdf_pages(pages: Iterable[bytes], target: BinaryIO, *, title: str | None, creator: str) -> None:
    """Write one document made of the one-page PDFs, in order, to `target`."""
    from pypdf import PdfReader, PdfWriter

    writer = PdfWriter()
    for data in pages:
        writer.append(PdfReader(io.BytesIO(data)))
    metadata = {"/Producer": "ocr-service", "/Creator": creator}
    if title:
        metadata["/Title"] = title
    writer.add_metadata(metadata)
    writer.compress_identical_objects()
    writer.write(target)
