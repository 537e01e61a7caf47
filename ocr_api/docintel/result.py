"""A job's result.json as Document Intelligence's analyzeResult: `content` (the words joined by spaces, lines
by line breaks, paragraphs and pages as the content format separates them), and per page its words (content,
polygon, confidence, span) and lines, and the paragraphs (the engine's blocks), every span indexing `content`
in the requested stringIndexType.

Polygons are 8 numbers, clockwise from the top-left corner: a word's `polygon` when result.json has one (a word
that is not axis-aligned in its page's grid), else its box's corners. Images are measured in pixels, PDF pages
in inches (pixels over the page's dpi), as that API does. A page's `angle` is the median slant of its words'
top edges, 0 for upright text.
"""

from __future__ import annotations

import math
import statistics
from typing import Any

import regex

# The separators between words, lines, paragraphs and pages, by content format.
_SEPARATORS = {"text": (" ", "\n", "\n", "\n"), "markdown": (" ", "\n", "\n\n", "\n\n<!-- PageBreak -->\n\n")}
WORD, LINE, PARAGRAPH, PAGE = range(4)


class _Content:
    """The content as it is written, and every span that indexes it (in code points until `finish`)."""

    def __init__(self, content_format: str) -> None:
        self.separators = _SEPARATORS[content_format]
        self.parts: list[str] = []
        self.length = 0
        self.pending: int | None = None  # the strongest separator due before the next text
        self.spans: list[dict[str, int]] = []

    def separate(self, kind: int) -> None:
        if self.length:
            self.pending = kind if self.pending is None else max(self.pending, kind)

    def write(self, text: str) -> int:
        """Write `text` (after the separator due); its offset."""
        if self.pending is not None:
            self._append(self.separators[self.pending])
            self.pending = None
        offset = self.length
        self._append(text)
        return offset

    def _append(self, text: str) -> None:
        self.parts.append(text)
        self.length += len(text)

    def span(self, offset: int, end: int | None = None) -> dict[str, int]:
        span = {"offset": offset, "length": (self.length if end is None else end) - offset}
        self.spans.append(span)
        return span

    def finish(self, string_index_type: str) -> str:
        """The content; every span converted to `string_index_type`'s units."""
        content = "".join(self.parts)
        units = _units(content, string_index_type)
        if units is not None:
            for span in self.spans:
                start, end = span["offset"], span["offset"] + span["length"]
                span["offset"], span["length"] = units[start], units[end] - units[start]
        return content


def _units(content: str, string_index_type: str) -> list[int] | None:
    """For each code point position, the index in `string_index_type`'s units; None where they are code points."""
    if string_index_type == "unicodeCodePoint":
        return None
    units = [0] * (len(content) + 1)
    if string_index_type == "utf16CodeUnit":
        for i, char in enumerate(content):
            units[i + 1] = units[i] + (2 if ord(char) > 0xFFFF else 1)
        return units
    count = 0  # textElements: user-perceived characters (extended grapheme clusters)
    for match in regex.finditer(r"\X", content):
        for i in range(match.start(), match.end()):
            units[i] = count
        count += 1
    units[len(content)] = count
    return units


def _polygon(item: dict[str, Any], scale: float) -> list[float]:
    polygon = item.get("polygon")
    if not (isinstance(polygon, list) and len(polygon) == 8):
        x0, y0, x1, y1 = item["bbox"]
        polygon = [x0, y0, x1, y0, x1, y1, x0, y1]
    return [round(v * scale, 4) for v in polygon]


def _slant(polygon: list[float]) -> float:
    """The angle of a polygon's top edge, degrees clockwise (the y axis points down)."""
    return math.degrees(math.atan2(polygon[3] - polygon[1], polygon[2] - polygon[0]))


def _page(page: dict[str, Any], number: int, unit_scale: float | None, content: _Content) -> tuple[dict, list]:
    """One page of the analyzeResult, and its paragraphs."""
    scale = unit_scale or 1.0
    words: list[dict[str, Any]] = []
    lines: list[dict[str, Any]] = []
    paragraphs: list[dict[str, Any]] = []
    content.separate(PAGE)
    start: int | None = None
    for block in page.get("blocks", []):
        content.separate(PARAGRAPH)
        block_start: int | None = None
        for line in block.get("lines", []):
            content.separate(LINE)
            line_start: int | None = None
            for word in line.get("words", []):
                content.separate(WORD)
                offset = content.write(word["text"])
                line_start = offset if line_start is None else line_start
                confidence = min(max(float(word.get("confidence", 0)) / 100, 0.0), 1.0)
                words.append({"content": word["text"], "polygon": _polygon(word, scale),
                              "confidence": round(confidence, 3), "span": content.span(offset)})  # fmt: skip
            if line_start is None:
                continue
            block_start = line_start if block_start is None else block_start
            text = " ".join(w["text"] for w in line["words"])
            lines.append({"content": text, "polygon": _polygon(line, scale), "spans": [content.span(line_start)]})
        if block_start is None:
            continue
        start = block_start if start is None else start
        paragraphs.append({
            "spans": [content.span(block_start)],
            "boundingRegions": [{"pageNumber": number, "polygon": _polygon(block, scale)}],
            "content": "",  # set once the content is known
        })  # fmt: skip
    angle = statistics.median(_slant(w["polygon"]) for w in words) if words else 0.0
    result = {
        "pageNumber": number,
        "angle": round(angle if angle > -180 else angle + 360, 4),
        "width": round(page["width"] * scale, 4),
        "height": round(page["height"] * scale, 4),
        "unit": "pixel" if unit_scale is None else "inch",
        "words": words,
        "lines": lines,
        "spans": [content.span(content.length if start is None else start)],
    }
    return result, paragraphs


def analyze_result(
    document: dict[str, Any],
    *,
    model_id: str,
    record: dict[str, Any],
    page_numbers: tuple[int, ...] | None,
    in_inches: bool,
) -> dict[str, Any]:
    """The analyzeResult of a job's result.json; `record`: the analyze's parameters as the job keeps them,
    `page_numbers`: the document's page number of each of the job's pages (None: the same), `in_inches`: a PDF."""
    content = _Content(record.get("contentFormat") or "text")
    pages, paragraphs = [], []
    for index, page in enumerate(document.get("pages", [])):
        number = page_numbers[index] if page_numbers and index < len(page_numbers) else index + 1
        dpi = page.get("dpi")
        page_result, page_paragraphs = _page(page, number, 1 / dpi if in_inches and dpi else None, content)
        pages.append(page_result)
        paragraphs += page_paragraphs
    code_point_spans = [dict(p["spans"][0]) for p in paragraphs]
    text = content.finish(record.get("stringIndexType") or "textElements")
    for paragraph, span in zip(paragraphs, code_point_spans, strict=True):
        paragraph["content"] = text[span["offset"] : span["offset"] + span["length"]]
    return {
        "apiVersion": record.get("apiVersion"),
        "modelId": model_id,
        "stringIndexType": record.get("stringIndexType") or "textElements",
        "contentFormat": record.get("contentFormat") or "text",
        "content": text,
        "pages": pages,
        "paragraphs": paragraphs,
    }
