"""Grafting: the user's own document, each OCR'd page given its invisible text layer and turned upright.

As OCRmyPDF grafts its text layer onto the original page (its `_graft.py`), with pikepdf: the page's content
streams, images, fonts and annotations are left as they are. The layer is a Form XObject of its own, drawn
first (under the page's content: it is invisible either way) from a content stream put before the page's
own, wrapped in q/Q so that nothing the page's content does to the graphics state reaches it. A page the
engine read turned (a quarter turn, `PageOutput.rotation`) is shown upright by its /Rotate, never by turning
its pixels. With redo_ocr, the page's earlier invisible text (text render mode 3, as OCR layers are drawn)
is removed first: that rewrites the content stream of that page, and only of it. Otherwise (the default,
force) a page that has text keeps it, and its layer leaves out the words the page has already (known.py).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import pikepdf

from workers.ocr.outputs.page import PageOutput
from workers.ocr.pdf.known import KnownWords
from workers.ocr.pdf.layer import Affine, GlyphlessFont, text_content
from workers.ocr.tsv import Box

__all__ = ["graft_pages", "grid_to_user", "strip_invisible_text"]

LAYER_NAME = "/OCRText"
_SHOW_TEXT = {"Tj", "TJ", "'", '"'}
# Operators that paint something other than text: a form holding one of these is not just a text layer.
_PAINTS = {"S", "s", "f", "F", "f*", "B", "B*", "b", "b*", "sh", "BI", "EI", "Do", "d0", "d1"}


def page_box(page: pikepdf.Page) -> tuple[float, float, float, float]:
    """The visible box (the crop box within the media box), as renderers show it: x0, y0, x1, y1."""
    media = [float(v) for v in page.mediabox]
    crop = [float(v) for v in page.cropbox]
    mx0, mx1 = sorted(media[0::2])
    my0, my1 = sorted(media[1::2])
    cx0, cx1 = sorted(crop[0::2])
    cy0, cy1 = sorted(crop[1::2])
    x0, y0, x1, y1 = max(mx0, cx0), max(my0, cy0), min(mx1, cx1), min(my1, cy1)
    return (x0, y0, x1, y1) if x1 > x0 and y1 > y0 else (mx0, my0, mx1, my1)


def grid_to_user(page: pikepdf.Page, size: tuple[int, int]) -> Affine:
    """The map from the page's pixel grid (the page as shown: its visible box turned by its /Rotate, `size`
    pixels, origin top left) to the page's user space, where its content is drawn."""
    x0, y0, x1, y1 = page_box(page)
    rotate = page.rotation % 360
    shown_w, shown_h = (x1 - x0, y1 - y0) if rotate in (0, 180) else (y1 - y0, x1 - x0)
    sx, sy = shown_w / max(size[0], 1), shown_h / max(size[1], 1)
    # x' = a u + c v + e, y' = b u + d v + f, for each way the page may be turned clockwise when shown.
    maps: dict[int, Affine] = {
        0: (sx, 0.0, 0.0, -sy, x0, y1),
        90: (0.0, sx, sy, 0.0, x0, y0),
        180: (-sx, 0.0, 0.0, sy, x1, y0),
        270: (0.0, -sx, -sy, 0.0, x1, y1),
    }
    return maps[rotate - rotate % 90]


def _layer_name(page: pikepdf.Page) -> pikepdf.Name:
    """A name no resource of the page uses yet."""
    names = {str(key) for group in page.resources.values() if isinstance(group, pikepdf.Dictionary) for key in group}
    name, n = LAYER_NAME, 0
    while name in names:
        n += 1
        name = f"{LAYER_NAME}{n}"
    return pikepdf.Name(name)


def graft_layer(
    pdf: pikepdf.Pdf, page: pikepdf.Page, output: PageOutput, font: GlyphlessFont, known: KnownWords | None = None
) -> bool:
    """Put `output`'s words on the page as an invisible layer, but those `known` (the page's own already);
    False when no word is left."""
    content = text_content(output, grid_to_user(page, (output.width, output.height)), font, known=known)
    if not content:
        return False
    form = pikepdf.Stream(pdf, content)
    form.Type = pikepdf.Name.XObject
    form.Subtype = pikepdf.Name.Form
    form.BBox = pikepdf.Array([float(v) for v in page.mediabox])
    form.Resources = pikepdf.Dictionary(Font=pikepdf.Dictionary(F0=font.font))
    name = _layer_name(page)
    page.add_resource(pdf.make_indirect(form), pikepdf.Name.XObject, name)
    page.contents_add(pikepdf.Stream(pdf, b"q " + str(name).encode("ascii") + b" Do Q\n"), prepend=True)
    return True


def graft_pages(
    pdf: pikepdf.Pdf,
    outputs: Sequence[PageOutput],
    *,
    redo: bool,
    document_pages: Sequence[int] | None = None,
    known: Mapping[int, Sequence[Box]] | None = None,
) -> None:
    """Graft every OCR'd page's layer onto its page of the document: the page of the same number, or the
    document's page `document_pages` names for it when the job read only some pages (the others are then
    removed, so the result holds the pages read, in order). Pages whose own text was kept (skip_text) are
    left exactly as they are. `known`: the boxes of the words pages already have, on their output's grid, by
    document page number: those words are left out of the page's layer."""
    numbers = list(document_pages) if document_pages is not None else list(range(1, len(pdf.pages) + 1))
    if len(numbers) != len(outputs) or (numbers and max(numbers) > len(pdf.pages)):
        raise ValueError(f"the document has {len(pdf.pages)} pages, the results {len(outputs)}")
    font = GlyphlessFont(pdf)
    for number, output in zip(numbers, outputs, strict=True):
        page = pdf.pages[number - 1]
        if output.info.get("source") == "text_layer":
            continue
        if redo:
            strip_invisible_text(pdf, page)
        graft_layer(pdf, page, output, font, KnownWords((known or {}).get(number, ())))
        if output.rotation % 360:
            page.rotate(output.rotation % 360, relative=True)
    font.finish()
    if document_pages is not None:
        kept = set(numbers)
        for index in reversed(range(len(pdf.pages))):
            if index + 1 not in kept:
                del pdf.pages[index]


# -- redo_ocr: an earlier OCR layer removed ---------------------------------------------------------
def _only_invisible_text(form: pikepdf.Object | None, depth: int = 0) -> bool:
    """Whether a Form XObject draws nothing but invisible text (an OCR layer, as ours and OCRmyPDF's are)."""
    if depth > 4 or not isinstance(form, pikepdf.Stream) or form.get("/Subtype") != pikepdf.Name.Form:
        return False
    mode, shown = 0, False
    for instruction in pikepdf.parse_content_stream(form):
        op = str(instruction.operator)
        if op == "Tr":
            mode = int(instruction.operands[0])
        elif op in _SHOW_TEXT:
            if mode != 3:
                return False
            shown = True
        elif op in _PAINTS:
            return False
    return shown


class _TextObjects:
    """Walks a content stream keeping what is drawn, except text objects that show only invisible text."""

    def __init__(self) -> None:
        self.kept: list[object] = []
        self.pending: list[object] = []  # the text object being read
        self.mode, self.stack, self.visible, self.removed = 0, list[int](), False, False

    def graphics_state(self, op: str, operands: object) -> None:
        if op == "q":
            self.stack.append(self.mode)
        elif op == "Q" and self.stack:
            self.mode = self.stack.pop()
        elif op == "Tr":
            self.mode = int(operands[0])  # type: ignore[index]

    def text(self, op: str, instruction: object) -> bool:
        """Whether the instruction belongs to a text object (and was taken care of)."""
        if op == "BT":
            self.pending, self.visible = [instruction], False
            return True
        if not self.pending:
            return False
        self.pending.append(instruction)
        self.visible = self.visible or (op in _SHOW_TEXT and self.mode != 3)
        if op == "ET":
            if self.visible:
                self.kept += self.pending
            self.removed = self.removed or not self.visible
            self.pending = []
        return True


def strip_invisible_text(pdf: pikepdf.Pdf, page: pikepdf.Page) -> bool:
    """Remove the page's invisible text: text objects that show text only in render mode 3, and forms that
    hold nothing else. True when something was removed (the page's content stream is then rewritten)."""
    walk = _TextObjects()
    xobjects = page.resources.get("/XObject", pikepdf.Dictionary())
    for instruction in pikepdf.parse_content_stream(page):
        operands, op = instruction.operands, str(instruction.operator)
        walk.graphics_state(op, operands)
        if walk.text(op, instruction):
            continue
        if op == "Do" and _only_invisible_text(xobjects.get(str(operands[0]))):
            walk.removed = True
            continue
        walk.kept.append(instruction)
    if walk.removed:
        page.Contents = pdf.make_stream(pikepdf.unparse_content_stream(walk.kept))  # type: ignore[arg-type]
    return walk.removed
