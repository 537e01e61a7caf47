"""A reading's outputs moved onto the page's own pixel grid, where every format describes them.

The engine may have read an enlarged, bordered, turned, deskewed or flattened copy of the page
(workers/ocr/geometry.py records how). The outputs describe the page as loaded instead: an image's stored
pixels with its EXIF orientation applied, a PDF page rendered at the job's resolution with its own /Rotate.
That grid is what the user sees, and where the searchable PDF's text layer goes.

- TSV (and so JSON and ALTO): each box becomes the smallest whole-pixel box around where it lands, within
  the page. Where a box does not land as an upright rectangle read from its top-left corner (a deskewed,
  turned or flattened reading), the four corners it covers are kept too (`PageOutput.quads`, one entry a
  TSV row: top-left, top-right, bottom-right, bottom-left as the text reads), for JSON's `polygon`, ALTO's
  `Shape` and the text layer.
- hOCR: the engine's own, every `bbox` mapped the same way, with `poly` where the element is not upright,
  `baseline` recomputed (in the text's own frame where it is turned, with `textangle`), font sizes
  (`x_size`, `x_ascenders`, `x_descenders`) scaled, and the page's `bbox` and `scan_res` the page's.

Works for any chain (projective and sampled maps alike): everything is done on mapped points.
"""

from __future__ import annotations

import math
import re
from dataclasses import replace

from workers.ocr import tsv
from workers.ocr.geometry import Chain, Quad, quad_bbox
from workers.ocr.outputs.page import PageOutput

__all__ = ["is_upright", "on_page"]

# Corners of a mapped box that lie within this many pixels of its bounding box's own corners, in the same
# order, make an upright box read from its top-left: no polygon is needed.
UPRIGHT_TOLERANCE = 0.5
# Text turned by less than this (degrees) gets no textangle.
MIN_TEXTANGLE = 0.05

_TAG = re.compile(r"<(?P<tag>[a-zA-Z]+)(?P<attrs>\s[^>]*)>")
_CLASS = re.compile(r"""class=(["'])(?P<value>[^"']*)\1""")
_TITLE = re.compile(r"""title=(?P<q>["'])(?P<value>.*?)(?P=q)""")
_LINE_CLASSES = {"ocr_line", "ocr_header", "ocr_caption", "ocr_textfloat"}


def on_page(output: PageOutput, chain: Chain, size: tuple[int, int], dpi: int | None) -> PageOutput:
    """`output` (what the engine found on the image `chain` leads to) on the page's grid of `size` pixels."""
    if chain.is_identity and (output.width, output.height) == size and not vertical_lines(output.tsv):
        return replace(output, dpi=dpi)
    mapper = _Mapper(chain, size)
    rows, quads = mapper.rows(output.tsv)
    hocr_page = mapper.hocr(output.hocr_page, dpi)
    width, height = size
    return replace(
        output,
        width=width,
        height=height,
        dpi=dpi,
        tsv=rows,
        hocr_page=hocr_page,
        quads=quads if any(q is not None for q in quads) else None,
    )


def vertical_lines(page_tsv: str) -> dict[tuple[str, str, str], int]:
    """Lines the engine read set vertically on its image (it reads a sideways column without turning the
    page): the line's key (block, paragraph, line) and its text's direction, 90 (reading upwards) or 270
    (downwards), degrees counter-clockwise. Its words follow each other down (or up) the image; a line of
    one word counts when it is much taller than wide, reading the way most of the page's vertical lines do."""
    words: dict[tuple[str, str, str], list[tuple[float, float, int, int]]] = {}
    for cols in tsv.split(page_tsv):
        if len(cols) >= tsv.COLUMNS and cols[0] == "5" and cols[11].strip():
            left, top, width, height = (int(c) for c in cols[6:10])
            centre = (left + width / 2, top + height / 2, width, height)
            words.setdefault((cols[2], cols[3], cols[4]), []).append(centre)
    turns: dict[tuple[str, str, str], int] = {}
    single = []
    for key, found in words.items():
        if len(found) >= 2:
            dx, dy = found[-1][0] - found[0][0], found[-1][1] - found[0][1]
            if abs(dy) > 2 * abs(dx):
                turns[key] = 270 if dy > 0 else 90
        elif found[0][3] > 3 * found[0][2]:
            single.append(key)
    usual = 90 if sum(t == 90 for t in turns.values()) > sum(t == 270 for t in turns.values()) else 270
    return {**turns, **dict.fromkeys(single, usual)} if turns else turns


def is_upright(quad: Quad) -> bool:
    """Whether a quad is its own bounding box, corners in reading order from the top-left."""
    x0, y0, x1, y1 = quad_bbox(quad)
    corners = ((x0, y0), (x1, y0), (x1, y1), (x0, y1))
    return all(abs(px - cx) <= UPRIGHT_TOLERANCE and abs(py - cy) <= UPRIGHT_TOLERANCE
               for (px, py), (cx, cy) in zip(quad, corners, strict=True))  # fmt: skip


def _angle(quad: Quad) -> float:
    """The direction of a quad's top edge, in degrees counter-clockwise (hOCR's textangle)."""
    (x0, y0), (x1, y1) = quad[0], quad[1]
    return math.degrees(math.atan2(-(y1 - y0), x1 - x0))


def _scale(quad: Quad, box: tuple[float, float, float, float]) -> float:
    """How much a box grew (or shrank) on its way to the page: the square root of the areas' ratio."""
    area = abs(_shoelace(quad))
    original = max((box[2] - box[0]) * (box[3] - box[1]), 1e-9)
    return math.sqrt(area / original) if area else 1.0


def _shoelace(quad: Quad) -> float:
    return 0.5 * sum(quad[i][0] * quad[i - 1][1] - quad[i - 1][0] * quad[i][1] for i in range(4))


def _num(value: float) -> str:
    text = f"{value:.3f}".rstrip("0").rstrip(".")
    return "0" if text in ("", "-0") else text


class _Mapper:
    def __init__(self, chain: Chain, size: tuple[int, int]) -> None:
        self.chain = chain
        self.width, self.height = size

    def quad(self, box: tuple[float, float, float, float], turn: int = 0) -> Quad:
        """Where a box of the engine's image lands on the page, corners in the order its text reads (`turn`:
        text the engine read set vertically, degrees counter-clockwise)."""
        x0, y0, x1, y1 = box
        corners = {
            0: [(x0, y0), (x1, y0), (x1, y1), (x0, y1)],
            90: [(x0, y1), (x0, y0), (x1, y0), (x1, y1)],
            270: [(x1, y0), (x1, y1), (x0, y1), (x0, y0)],
        }[turn]
        return tuple((float(x), float(y)) for x, y in self.chain.to_page(corners))  # type: ignore[return-value]

    def pixel_box(self, quad: Quad) -> tsv.Box:
        """The smallest whole-pixel box around a quad, within the page."""
        x0, y0, x1, y1 = quad_bbox(quad)
        left = min(max(math.floor(x0 + 1e-6), 0), self.width)
        top = min(max(math.floor(y0 + 1e-6), 0), self.height)
        right = min(max(math.ceil(x1 - 1e-6), left), self.width)
        bottom = min(max(math.ceil(y1 - 1e-6), top), self.height)
        return left, top, right, bottom

    def polygon(self, quad: Quad) -> list[int]:
        points = []
        for x, y in quad:
            points += [round(min(max(x, 0.0), self.width)), round(min(max(y, 0.0), self.height))]
        return points

    def rows(self, page_tsv: str) -> tuple[str, list[list[int] | None]]:
        """The page's TSV with every box on the page, and each row's polygon (None where upright), in the order
        tsv.rows() reads them."""
        turns = vertical_lines(page_tsv)
        out, quads = [], []
        for line in page_tsv.splitlines():
            cols = line.split("\t")
            if len(cols) < tsv.COLUMNS - 1 or not cols[0].isdigit():
                out.append(line)
                continue
            left, top, width, height = (int(c) for c in cols[6:10])
            if cols[0] == "1":  # the page itself
                box, polygon = (0, 0, self.width, self.height), None
            else:
                turn = turns.get((cols[2], cols[3], cols[4]), 0) if cols[0] in ("4", "5") else 0
                quad = self.quad((left, top, left + width, top + height), turn)
                box, polygon = self.pixel_box(quad), None if is_upright(quad) else self.polygon(quad)
            cols[6:10] = [str(box[0]), str(box[1]), str(box[2] - box[0]), str(box[3] - box[1])]
            out.append("\t".join(cols))
            quads.append(polygon)
        return "\n".join(out), quads

    def hocr(self, fragment: str, dpi: int | None) -> str:
        return _TAG.sub(lambda m: self._tag(m, dpi), fragment)

    def _tag(self, match: re.Match[str], dpi: int | None) -> str:
        attrs = match.group("attrs")
        title = _TITLE.search(attrs)
        if title is None or "bbox" not in title.group("value"):
            return match.group(0)
        found = _CLASS.search(attrs)
        classes = set(found.group("value").split()) if found else set()
        value = self._title(title.group("value"), classes, dpi)
        quote = title.group("q")
        if quote in value:  # the other quote, so the attribute stays well-formed
            quote = "'" if quote == '"' else '"'
        start, end = title.span()
        return f"<{match.group('tag')}{attrs[:start]}title={quote}{value}{quote}{attrs[end:]}>"

    def _title(self, title: str, classes: set[str], dpi: int | None) -> str:
        properties = [p.strip() for p in title.split(";") if p.strip()]
        named = {p.split(None, 1)[0]: [*p.split(None, 1), ""][1] for p in properties}
        box = tuple(float(v) for v in named["bbox"].split()[:4])
        if "ocr_page" in classes:
            named["bbox"] = f"0 0 {self.width} {self.height}"
            if dpi:
                named["scan_res"] = f"{dpi} {dpi}"
            return "; ".join(f"{k} {v}".strip() for k, v in named.items())
        quad = self.quad(box)  # type: ignore[arg-type]
        page_box = self.pixel_box(quad)
        named["bbox"] = " ".join(str(v) for v in page_box)
        scale = _scale(quad, box)  # type: ignore[arg-type]
        for size in ("x_size", "x_ascenders", "x_descenders"):
            if size in named:
                named[size] = _num(float(named[size].split()[0]) * scale)
        upright = is_upright(quad)
        if not upright:
            named["poly"] = " ".join(str(v) for v in self.polygon(quad))
        turned = float(named.get("textangle", "0") or 0) + _angle(quad)
        turned = (turned + 180) % 360 - 180
        if classes & _LINE_CLASSES or "textangle" in named:
            if abs(turned) >= MIN_TEXTANGLE:
                named["textangle"] = _num(turned % 360)
            else:
                named.pop("textangle", None)
        if "baseline" in named:
            named["baseline"] = self._baseline(named["baseline"], box, page_box, scale, turned)  # type: ignore[arg-type]
        return "; ".join(f"{k} {v}".strip() for k, v in named.items())

    def _baseline(
        self,
        baseline: str,
        box: tuple[float, float, float, float],
        page_box: tsv.Box,
        scale: float,
        turned: float,
    ) -> str:
        """hOCR's baseline (slope, offset from the bbox's bottom-left): mapped where the text stays upright,
        kept in the text's own frame (offset scaled) where it is turned (textangle says by how much)."""
        slope, offset = (float(v) for v in baseline.split()[:2])
        if abs(turned) >= MIN_TEXTANGLE:
            return f"{_num(slope)} {_num(offset * scale)}"
        x0, _, x1, y1 = box
        start, end = self.chain.to_page([(x0, y1 + offset), (x1, y1 + offset + slope * (x1 - x0))])
        new_slope = (end[1] - start[1]) / (end[0] - start[0]) if end[0] != start[0] else 0.0
        at_left = start[1] + new_slope * (page_box[0] - start[0])
        return f"{_num(new_slope)} {_num(at_left - page_box[3])}"
