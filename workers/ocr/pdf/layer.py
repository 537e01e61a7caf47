"""The invisible text layer of a page: where each recognized word is, in the page's own PDF coordinates.

Built as Tesseract's PDF renderer and OCRmyPDF build theirs: a glyphless font (every character draws
nothing, all equally wide) in text render mode 3 (invisible). Each line's words sit on the line's baseline,
turned with it (a rotated text matrix where the reading was deskewed or turned: the page's `quads`), each
word stretched (Tz) over its width and followed by a space stretched over the gap to the next word, so
search, selection and copy land on the words the user sees and extracted text has its spaces.

One font serves the whole document: characters get two-byte codes as they come (`GlyphlessFont.codes`),
mapped back to Unicode by its ToUnicode CMap, so any script extracts correctly; every code draws glyph 1
(never .notdef), whose width (1024 of 2048 units) is the font's /DW 500.
"""

from __future__ import annotations

import base64
import math

import pikepdf

from workers.ocr.outputs.page import PageOutput
from workers.ocr.outputs.structure import page_structure
from workers.ocr.pdf.known import KnownWords

__all__ = ["Affine", "GlyphlessFont", "text_content"]

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
GLYPH_WIDTH = 0.5  # of the font size: the glyph's 1024 of 2048 units, /DW 500
MIN_GAP = 0.2  # of the line's height between two words (pdftotext sees a space from about 0.1)
FONT_NAME = "/GlyphLessFont"
# grid pixels -> PDF user space: x' = a x + c y + e, y' = b x + d y + f (PDF's matrix order a b c d e f)
Affine = tuple[float, float, float, float, float, float]
Point = tuple[float, float]


class GlyphlessFont:
    """The document's one text-layer font (Type0 over a CIDFontType2 with the glyphless program embedded).
    Its ToUnicode CMap and CIDToGIDMap are written by `finish`, once every page has its codes."""

    def __init__(self, pdf: pikepdf.Pdf) -> None:
        self.codes: dict[str, int] = {}
        self._to_unicode = pikepdf.Stream(pdf, b"")
        self._gid_map = pikepdf.Stream(pdf, b"")
        program = pikepdf.Stream(pdf, GLYPHLESS_FONT)
        program.Length1 = len(GLYPHLESS_FONT)
        descriptor = pikepdf.Dictionary(
            Type=pikepdf.Name.FontDescriptor,
            FontName=pikepdf.Name(FONT_NAME),
            Flags=5,  # fixed pitch, symbolic
            FontBBox=[0, 0, 500, 1000],
            ItalicAngle=0,
            Ascent=1000,
            Descent=-1,
            CapHeight=1000,
            StemV=80,
            FontFile2=program,
        )
        cid_font = pikepdf.Dictionary(
            Type=pikepdf.Name.Font,
            Subtype=pikepdf.Name.CIDFontType2,
            BaseFont=pikepdf.Name(FONT_NAME),
            CIDSystemInfo=pikepdf.Dictionary(Registry="Adobe", Ordering="Identity", Supplement=0),
            FontDescriptor=pdf.make_indirect(descriptor),
            DW=500,
            CIDToGIDMap=self._gid_map,
        )
        self.font = pdf.make_indirect(
            pikepdf.Dictionary(
                Type=pikepdf.Name.Font,
                Subtype=pikepdf.Name.Type0,
                BaseFont=pikepdf.Name(FONT_NAME),
                Encoding=pikepdf.Name("/Identity-H"),
                DescendantFonts=[pdf.make_indirect(cid_font)],
                ToUnicode=self._to_unicode,
            )
        )

    def hex(self, text: str) -> str:
        return "".join(f"{self.codes.setdefault(ch, len(self.codes) + 1):04X}" for ch in text)

    def finish(self) -> None:
        """Write the character maps of every code handed out."""
        self._to_unicode.write(_to_unicode_cmap(self.codes))  # (compressed as the document is saved)
        # Code 0 is unused; every other code draws glyph 1, the empty one.
        self._gid_map.write(b"\x00\x00" + b"\x00\x01" * len(self.codes))


def _to_unicode_cmap(codes: dict[str, int]) -> bytes:
    entries = [f"<{code:04X}> <{ch.encode('utf-16-be').hex().upper()}>" for ch, code in codes.items()]
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


def _num(value: float) -> str:
    text = f"{value:.3f}".rstrip("0").rstrip(".")
    return "0" if text in ("", "-0") else text


def _corners(item: dict) -> tuple[Point, Point, Point, Point]:
    """A line's or word's corners on the page grid: top-left, top-right, bottom-right, bottom-left as it reads."""
    if "polygon" in item:
        p = item["polygon"]
        return (p[0], p[1]), (p[2], p[3]), (p[4], p[5]), (p[6], p[7])
    x0, y0, x1, y1 = item["bbox"]
    return (x0, y0), (x1, y0), (x1, y1), (x0, y1)


def _apply(m: Affine, p: Point) -> Point:
    return m[0] * p[0] + m[2] * p[1] + m[4], m[1] * p[0] + m[3] * p[1] + m[5]


def _sub(p: Point, q: Point) -> Point:
    return p[0] - q[0], p[1] - q[1]


def _dot(p: Point, q: Point) -> float:
    return p[0] * q[0] + p[1] * q[1]


def _unit(p: Point) -> tuple[Point, float]:
    length = math.hypot(*p)
    return ((p[0] / length, p[1] / length) if length else (1.0, 0.0)), length


def text_content(
    page: PageOutput, to_user: Affine, font: GlyphlessFont, font_name: str = "/F0", known: KnownWords | None = None
) -> bytes:
    """The page's invisible text, drawn in PDF user space (`to_user` maps the page grid there), line by line
    in reading order, without the words the page has already (`known`); empty when no word is left."""
    ops: list[str] = []
    for block in page_structure(page)["blocks"]:
        for line in block["lines"]:
            words = [w for w in line["words"] if not (known and known.covers(w["bbox"]))]
            if words:
                ops += _line({**line, "words": words}, to_user, font, font_name)
    if not ops:
        return b""
    return ("BT\n3 Tr\n" + "\n".join(ops) + "\nET\n").encode("ascii")


def _line(line: dict, to_user: Affine, font: GlyphlessFont, font_name: str) -> list[str]:
    """One line's words, upright in the nearest quarter turn of the line's direction, each on the line's own
    baseline (the bottom edge of its quad, followed where the line is skewed), as tall as the line.

    Text turned by other angles is not drawn turned: extractors (poppler's pdftotext among them) tear text
    set at a slant into single characters, where words set straight on a slanting baseline keep their lines."""
    top_left, top_right, bottom_right, bottom_left = _corners(line)
    turn = round(math.degrees(math.atan2(-(top_right[1] - top_left[1]), top_right[0] - top_left[0])) / 90) % 4
    along = ((1.0, 0.0), (0.0, -1.0), (-1.0, 0.0), (0.0, 1.0))[turn]  # on the grid (y down), as it reads
    up = (along[1], -along[0])
    height = math.hypot(*_sub(top_left, bottom_left))
    edge = _sub(bottom_right, bottom_left)
    slope_along = _dot(edge, along)
    linear = (to_user[0], to_user[1], to_user[2], to_user[3], 0.0, 0.0)
    along_user, scale_along = _unit(_apply(linear, along))
    up_user, scale_up = _unit(_apply(linear, up))
    size = height * scale_up
    if size <= 0:
        return []
    ops = [f"{font_name} {_num(size)} Tf"]
    spans = []
    for word in line["words"]:
        start, end = _extent(word, along)
        middle = (start + end) / 2
        t = (middle - _dot(bottom_left, along)) / slope_along if slope_along else 0.0
        base = _dot((bottom_left[0] + edge[0] * t, bottom_left[1] + edge[1] * t), up)
        spans.append((start, end, base))
    # One baseline a line (where it is skewed, its middle's): pdftotext splits a line whose words step up
    # or down into a line a word. Words closer than MIN_GAP of the size end a little early, so that
    # extractors see the space between them.
    # Words that overlap (a reading that is not quite straight) are moved along so that each starts after the
    # one before it: extractors read a line's words in the order they lie on it.
    common = sum(base for _, _, base in spans) / len(spans)
    gap = MIN_GAP * height
    placed: list[tuple[float, float, float]] = []
    for i, (start, end, _) in enumerate(spans):
        if placed and start < placed[-1][1] + gap:
            start = placed[-1][1] + gap
            end = max(end, start + gap)
        if i + 1 < len(spans):
            end = max(min(end, spans[i + 1][0] - gap), start + (end - start) / 2)
        placed.append((start, end, common))
    spans = placed
    for i, (word, (start, end, base)) in enumerate(zip(line["words"], spans, strict=True)):
        origin = _apply(to_user, (along[0] * start + up[0] * base, along[1] * start + up[1] * base))
        matrix = (*along_user, *up_user, *origin)
        ops.append(" ".join(_num(v) for v in matrix) + " Tm")
        ops.append(_stretched(word["text"], (end - start) * scale_along, size, font))
        if i + 1 < len(spans):  # a real space, stretched over the gap, so extracted text has one
            ops.append(_stretched(" ", (spans[i + 1][0] - end) * scale_along, size, font))
    return ops


def _extent(word: dict, along: Point) -> tuple[float, float]:
    """Where a word starts and ends in the direction it reads (on the grid)."""
    positions = [_dot(p, along) for p in _corners(word)]
    return min(positions), max(positions)


def _stretched(text: str, width: float, size: float, font: GlyphlessFont) -> str:
    natural = len(text) * GLYPH_WIDTH * size
    horizontal = max(100 * width / natural, 0.01) if natural else 100
    return f"{_num(horizontal)} Tz <{font.hex(text)}> Tj"
