"""A PDF page's own text layer, read with PDFium: made into a page's outputs instead of OCR (skip_text), and
the boxes of the words a page already has (the searchable PDF's layer leaves those out: workers/ocr/pdf/).

The words' boxes are in pixels of the page rendered at the job's resolution (the page as shown, its /Rotate
applied); with skip_text the page becomes one block whose TSV and hOCR have the engine's layout, so every
format is built from it as from an OCR'd page.
"""

from __future__ import annotations

import html
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from workers.ocr import tsv
from workers.ocr.errors import InputError
from workers.ocr.outputs.page import PageOutput
from workers.ocr.pages import open_pdf
from workers.ocr.tsv import Box


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
    import pypdfium2 as pdfium

    pdf = open_pdf(path)
    try:
        page = pdf[page_no - 1]
        textpage = page.get_textpage()
        text = textpage.get_text_range()
        if not text.strip():
            return None
        width_pt, height_pt = page.get_size()
        width, height = round(width_pt * dpi / 72), round(height_pt * dpi / 72)
        lines = _page_lines(page, textpage, (width, height))
        page.close()
    except pdfium.PdfiumError as exc:
        raise InputError("unreadable_input", f"page {page_no} of the PDF is damaged: {exc}") from exc
    finally:
        pdf.close()
    clean = "\n".join(line.rstrip() for line in text.replace("\r\n", "\n").replace("\r", "\n").split("\n"))
    return TextLayer(text=clean.strip("\n") + "\n", width=width, height=height, dpi=dpi, lines=lines)


def word_boxes(path: Path, grids: Mapping[int, tuple[int, int]]) -> dict[int, list[Box]]:
    """The boxes of the words PDF pages already carry, visible or not, keyed by page number: each page's on a
    grid of the size `grids` gives it (width, height in pixels of the page as shown). Pages without text
    have none."""
    import pypdfium2 as pdfium

    found: dict[int, list[Box]] = {}
    pdf = open_pdf(path)
    try:
        for page_no, grid in grids.items():
            if not 1 <= page_no <= len(pdf):
                continue
            page = pdf[page_no - 1]
            textpage = page.get_textpage()
            if textpage.count_chars():
                found[page_no] = [box for line in _page_lines(page, textpage, grid) for _, box in line]
            page.close()
    except pdfium.PdfiumError as exc:
        raise InputError("unreadable_input", f"the PDF's text cannot be read: {exc}") from exc
    finally:
        pdf.close()
    return found


def _page_lines(page: Any, textpage: Any, grid: tuple[int, int]) -> list[list[tuple[str, Box]]]:
    """The page's words in lines, their boxes on a grid of `grid` pixels (the page as shown)."""
    import ctypes

    import pypdfium2.raw as pdfium_c

    def to_pixels(x: float, y: float) -> tuple[int, int]:
        # PDFium's own page-to-device mapping handles /Rotate and crop box origins.
        dx, dy = ctypes.c_int(), ctypes.c_int()
        pdfium_c.FPDF_PageToDevice(page.raw, 0, 0, grid[0], grid[1], 0, x, y, ctypes.byref(dx), ctypes.byref(dy))
        return dx.value, dy.value

    return _lines(_chars(textpage, pdfium_c), to_pixels)


def _lines(
    chars: Iterator[tuple[str, tuple[float, float, float, float]]], to_pixels: Callable[[float, float], tuple[int, int]]
) -> list[list[tuple[str, Box]]]:
    """The characters grouped in words (split at spaces) and lines (split at line breaks), each word with the box
    around its characters in pixels; no empty lines."""
    lines: list[list[tuple[str, Box]]] = [[]]
    word, boxes = "", list[Box]()
    for ch, (left, bottom, right, top) in chars:
        if ch.isspace():
            if word:
                lines[-1].append((word, tsv.union(boxes)))
                word, boxes = "", []
            if ch in "\r\n" and lines[-1]:
                lines.append([])
            continue
        word += ch
        (x0, y0), (x1, y1) = to_pixels(left, top), to_pixels(right, bottom)
        boxes.append((min(x0, x1), min(y0, y1), max(x0, x1), max(y0, y1)))
    if word:
        lines[-1].append((word, tsv.union(boxes)))
    return [line for line in lines if line]


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


def page_output(page_no: int, layer: TextLayer) -> PageOutput:
    """A `PageOutput` for a PDF page whose own text layer is reused instead of OCR (skip_text): the whole page
    is one block, its TSV and hOCR have the engine's layout."""
    lines = [line for line in layer.lines if line]
    width, height, dpi = layer.width, layer.height, layer.dpi
    rows = [f"1\t1\t0\t0\t0\t0\t0\t0\t{width}\t{height}\t-1\t"]
    body = ""
    if lines:
        block_rows, body = _block(lines)
        rows += block_rows
    hocr_page = (
        f"<div class='ocr_page' id='page_1' title='bbox 0 0 {width} {height}; ppageno 0; scan_res {dpi} {dpi}'>"
        f"{body}</div>"
    )
    return PageOutput(
        page=page_no,
        width=width,
        height=height,
        dpi=dpi,
        text=layer.text,
        hocr_page=hocr_page,
        tsv="\n".join(rows),
        confidence=100.0 if lines else 0.0,
        info={"source": "text_layer"},
    )


def _block(lines: Sequence[Sequence[tuple[str, Box]]]) -> tuple[list[str], str]:
    """The TSV rows and the hOCR block of the page's lines (at least one)."""
    block = tsv.union([box for line in lines for _, box in line])
    rows = [tsv.format_row(2, 0, 0, block, -1, ""), tsv.format_row(3, 0, 0, block, -1, "")]
    hocr_lines, word_no = [], 0
    for line_no, line in enumerate(lines, start=1):
        line_box = tsv.union([box for _, box in line])
        rows.append(tsv.format_row(4, line_no, 0, line_box, -1, ""))
        spans = []
        for n, (word, box) in enumerate(line, start=1):
            word_no += 1
            rows.append(tsv.format_row(5, line_no, n, box, 100, word))
            spans.append(
                f"<span class='ocrx_word' id='word_1_{word_no}' title='{_hocr_bbox(box)}; x_wconf 100'>"
                f"{html.escape(word, quote=False)}</span>"
            )
        line_title = _hocr_bbox(line_box)
        hocr_lines.append(
            f"<span class='ocr_line' id='line_1_{line_no}' title=\"{line_title}\">" + " ".join(spans) + "</span>"
        )
    block_title = _hocr_bbox(block)
    body = (
        f"<div class='ocr_carea' id='block_1_1' title=\"{block_title}\">"
        f"<p class='ocr_par' id='par_1_1' title=\"{block_title}\">" + "\n".join(hocr_lines) + "</p></div>"
    )
    return rows, body


def _hocr_bbox(box: Box) -> str:
    return "bbox {} {} {} {}".format(*box)
