"""Output formats, all derived from one recognition pass per page (text, hOCR and TSV from the engine).

Per page the pipeline keeps a `PageOutput`; at the end the job's files are assembled from those. hOCR is
the engine's own, renumbered per page; ALTO and JSON are built from the TSV's word boxes
(`page_structure`); the searchable PDF is in workers/ocr/pdfout.py. docs/formats.md describes each format.
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from ocr_client.options import MEDIA_TYPES, PAGE_SEPARATOR

from workers.ocr.engine import TSV_HEADER

__all__ = [
    "MEDIA_TYPES",
    "PageOutput",
    "build_alto",
    "build_hocr",
    "build_json",
    "build_text",
    "build_tsv",
    "page_output_from_text_layer",
    "page_structure",
    "page_text",
]

JSON_FORMAT_VERSION = 1
ALTO_NS = "http://www.loc.gov/standards/alto/ns-v4#"
Box = tuple[int, int, int, int]  # x0, y0, x1, y1 in pixels, origin top left


@dataclass
class PageOutput:
    page: int
    width: int
    height: int
    dpi: int | None
    text: str
    hocr_page: str
    tsv: str
    confidence: float
    rotation: int = 0
    info: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> str:
        return json.dumps(asdict(self), ensure_ascii=False)

    @classmethod
    def from_json(cls, raw: bytes | str) -> PageOutput:
        return cls(**json.loads(raw))


# -- per-page structure ------------------------------------------------------------------------------
def _bbox(cols: list[str]) -> list[int]:
    left, top, width, height = (int(c) for c in cols[6:10])
    return [left, top, left + width, top + height]


def page_structure(page: PageOutput) -> dict[str, Any]:
    """pages -> blocks -> lines -> words, each with its bbox [x0, y0, x1, y1] in pixels and confidence."""
    blocks: dict[int, dict[str, Any]] = {}
    lines: dict[tuple[int, int, int], dict[str, Any]] = {}
    for row in page.tsv.splitlines():
        cols = row.split("\t")
        if len(cols) < 11 or not cols[0].isdigit():
            continue
        level = int(cols[0])
        block_no, par_no, line_no = int(cols[2]), int(cols[3]), int(cols[4])
        if level == 2:
            blocks[block_no] = {"bbox": _bbox(cols), "lines": []}
        elif level == 4 and block_no in blocks:
            line = {"bbox": _bbox(cols), "words": []}
            lines[(block_no, par_no, line_no)] = line
            blocks[block_no]["lines"].append(line)
        elif level == 5:
            text = cols[11] if len(cols) > 11 else ""
            line_key = (block_no, par_no, line_no)
            if not text.strip() or line_key not in lines:
                continue
            confidence = min(max(float(cols[10]), 0.0), 100.0)
            lines[line_key]["words"].append({"text": text, "bbox": _bbox(cols), "confidence": round(confidence, 2)})
    for block in blocks.values():
        block["lines"] = [line for line in block["lines"] if line["words"]]
        for line in block["lines"]:
            line["text"] = " ".join(w["text"] for w in line["words"])
            line["confidence"] = round(sum(w["confidence"] for w in line["words"]) / len(line["words"]), 2)
    result: dict[str, Any] = {
        "page": page.page,
        "width": page.width,
        "height": page.height,
        "dpi": page.dpi,
        "rotation": page.rotation,
        "source": page.info.get("source", "ocr"),
        "confidence": round(min(max(page.confidence, 0.0), 100.0), 2),
        "text": page_text(page),
        "blocks": [b for b in blocks.values() if b["lines"]],
    }
    if "steps" in page.info:  # how the page was read, so that the reading can be reproduced
        info = page.info
        result["preprocessing"] = {
            "model": info.get("lang"),
            "steps": list(info["steps"]),
            "passes": info.get("passes", 1),
        }
    return result


def page_output_from_text_layer(
    page_no: int, width: int, height: int, dpi: int, text: str, lines: Sequence[Sequence[tuple[str, Box]]]
) -> PageOutput:
    """A `PageOutput` for a PDF page whose own text layer is reused instead of OCR (skip_text).

    `lines` holds each line's words with their boxes in pixels at `dpi`; the whole page becomes one block.
    The TSV and hOCR have the engine's layout, so every format is built the same way as for OCR'd pages.
    """
    lines = [line for line in lines if line]
    rows = [f"1\t1\t0\t0\t0\t0\t0\t0\t{width}\t{height}\t-1\t"]
    hocr_lines, word_no = [], 0
    if lines:
        block = _union([box for line in lines for _, box in line])
        rows.append(_tsv_row(2, 0, 0, block, -1, ""))
        rows.append(_tsv_row(3, 0, 0, block, -1, ""))
        for line_no, line in enumerate(lines, start=1):
            line_box = _union([box for _, box in line])
            rows.append(_tsv_row(4, line_no, 0, line_box, -1, ""))
            spans = []
            for n, (word, box) in enumerate(line, start=1):
                word_no += 1
                rows.append(_tsv_row(5, line_no, n, box, 100, word))
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
    else:
        body = ""
    hocr_page = (
        f"<div class='ocr_page' id='page_1' title='bbox 0 0 {width} {height}; ppageno 0; scan_res {dpi} {dpi}'>"
        f"{body}</div>"
    )
    return PageOutput(
        page=page_no,
        width=width,
        height=height,
        dpi=dpi,
        text=text,
        hocr_page=hocr_page,
        tsv="\n".join(rows),
        confidence=100.0 if lines else 0.0,
        info={"source": "text_layer"},
    )


def _union(boxes: Sequence[Box]) -> Box:
    return (min(b[0] for b in boxes), min(b[1] for b in boxes), max(b[2] for b in boxes), max(b[3] for b in boxes))


def _tsv_row(level: int, line_no: int, word_no: int, box: Box, conf: float, text: str) -> str:
    x0, y0, x1, y1 = box
    return f"{level}\t1\t1\t1\t{line_no}\t{word_no}\t{x0}\t{y0}\t{x1 - x0}\t{y1 - y0}\t{conf}\t{text}"


def _hocr_bbox(box: Box) -> str:
    return "bbox {} {} {} {}".format(*box)


# -- whole documents ---------------------------------------------------------------------------------
def page_text(page: PageOutput) -> str:
    """A page's text as result.txt and the /text stream carry it: ending in exactly one newline."""
    return page.text.rstrip("\n\f") + "\n"


def build_text(pages: list[PageOutput]) -> str:
    return PAGE_SEPARATOR.join(page_text(p) for p in pages)


_HOCR_ID_RE = re.compile(r"""(id=['"][a-z_]+?_)1((?:_\d+)?['"])""")
_PPAGENO_RE = re.compile(r"ppageno \d+")


def build_hocr(pages: list[PageOutput], engine_version: str) -> str:
    body = []
    for page in pages:
        fragment = _HOCR_ID_RE.sub(rf"\g<1>{page.page}\g<2>", page.hocr_page)
        body.append(_PPAGENO_RE.sub(f"ppageno {page.page - 1}", fragment))
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<!DOCTYPE html PUBLIC "-//W3C//DTD XHTML 1.0 Transitional//EN"\n'
        '    "http://www.w3.org/TR/xhtml1/DTD/xhtml1-transitional.dtd">\n'
        '<html xmlns="http://www.w3.org/1999/xhtml" xml:lang="en" lang="en">\n<head>\n'
        "  <title></title>\n"
        '  <meta http-equiv="Content-Type" content="text/html;charset=utf-8"/>\n'
        f"  <meta name='ocr-system' content='tesseract {html.escape(engine_version)}'/>\n"
        "  <meta name='ocr-capabilities' content='ocr_page ocr_carea ocr_par ocr_line ocrx_word ocrp_wconf'/>\n"
        "</head>\n<body>\n" + "\n".join(body) + "\n</body>\n</html>\n"
    )


def build_tsv(pages: list[PageOutput]) -> str:
    rows = [TSV_HEADER]
    for page in pages:
        for row in page.tsv.splitlines():
            cols = row.split("\t")
            if len(cols) >= 11:
                cols[1] = str(page.page)
                rows.append("\t".join(cols))
    return "\n".join(rows) + "\n"


def build_json(pages: list[PageOutput], meta: dict[str, Any]) -> str:
    """The document as docs/result.schema.json describes it; `meta` has job_id, filename and engine."""
    document = {"version": JSON_FORMAT_VERSION, **meta, "pages": [page_structure(p) for p in pages]}
    return json.dumps(document, ensure_ascii=False, indent=1)


def _attr(value: object) -> str:
    return html.escape(str(value), quote=True)


def _alto_box(bbox: Sequence[int]) -> str:
    x0, y0, x1, y1 = bbox
    return f'HPOS="{x0}" VPOS="{y0}" WIDTH="{x1 - x0}" HEIGHT="{y1 - y0}"'


def build_alto(pages: list[PageOutput], meta: dict[str, Any]) -> str:
    """ALTO v4 in pixels: Page / PrintSpace / TextBlock / TextLine / String with SP between strings.

    `meta` is what build_json gets; its engine entry fills OCRProcessing (tesseract version, options).
    """
    engine = meta.get("engine") or {}
    settings = json.dumps(engine.get("options", {}), ensure_ascii=False, sort_keys=True)
    out = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        f'<alto xmlns="{ALTO_NS}" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"'
        f' xsi:schemaLocation="{ALTO_NS} http://www.loc.gov/alto/v4/alto-4-2.xsd" SCHEMAVERSION="4.2">',
        "<Description>",
        "<MeasurementUnit>pixel</MeasurementUnit>",
    ]
    if meta.get("filename"):
        out.append(f"<sourceImageInformation><fileName>{_attr(meta['filename'])}</fileName></sourceImageInformation>")
    out += [
        '<OCRProcessing ID="OCR_0"><ocrProcessingStep>',
        f"<processingStepSettings>{_attr(settings)}</processingStepSettings>",
        "<processingSoftware><softwareName>tesseract</softwareName>"
        f"<softwareVersion>{_attr(engine.get('tesseract_version', ''))}</softwareVersion></processingSoftware>",
        "</ocrProcessingStep></OCRProcessing>",
        "</Description>",
        "<Layout>",
    ]
    for page in pages:
        out += _alto_page(page_structure(page))
    out += ["</Layout>", "</alto>", ""]
    return "\n".join(out)


def _alto_page(page: dict[str, Any]) -> list[str]:
    n = page["page"]
    out = [
        f'<Page ID="page_{n}" PHYSICAL_IMG_NR="{n}" WIDTH="{page["width"]}" HEIGHT="{page["height"]}"'
        f' PC="{page["confidence"] / 100:.4g}">',
        f'<PrintSpace HPOS="0" VPOS="0" WIDTH="{page["width"]}" HEIGHT="{page["height"]}">',
    ]
    word_no = 0
    for block_no, block in enumerate(page["blocks"], start=1):
        out.append(f'<TextBlock ID="block_{n}_{block_no}" {_alto_box(block["bbox"])}>')
        for line_no, line in enumerate(block["lines"], start=1):
            out.append(f'<TextLine ID="line_{n}_{block_no}_{line_no}" {_alto_box(line["bbox"])}>')
            words = line["words"]
            for i, word in enumerate(words):
                word_no += 1
                out.append(
                    f'<String ID="string_{n}_{word_no}" {_alto_box(word["bbox"])}'
                    f' WC="{word["confidence"] / 100:.4g}" CONTENT="{_attr(word["text"])}"/>'
                )
                if i + 1 < len(words):
                    gap_start, gap_end = word["bbox"][2], words[i + 1]["bbox"][0]
                    out.append(
                        f'<SP WIDTH="{max(gap_end - gap_start, 0)}" HPOS="{gap_start}" VPOS="{word["bbox"][1]}"/>'
                    )
            out.append("</TextLine>")
        out.append("</TextBlock>")
    out += ["</PrintSpace>", "</Page>"]
    return out
