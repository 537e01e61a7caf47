"""Output formats, all derived from one recognition pass per page (text, hOCR and TSV from the engine).

Per page the pipeline keeps a `PageOutput`; at the end the job's files are assembled from those.
"""

from __future__ import annotations

import html
import json
import re
from dataclasses import asdict, dataclass, field
from typing import Any

from workers.contract import MEDIA_TYPES, PAGE_SEPARATOR
from workers.engine import TSV_HEADER

__all__ = ["MEDIA_TYPES", "PageOutput", "build_hocr", "build_json", "build_text", "build_tsv", "page_structure"]



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
            lines[line_key]["words"].append(
                {"text": text, "bbox": _bbox(cols), "confidence": round(float(cols[10]), 2)}
            )
    for block in blocks.values():
        block["lines"] = [line for line in block["lines"] if line["words"]]
        for line in block["lines"]:
            line["text"] = " ".join(w["text"] for w in line["words"])
            line["confidence"] = round(sum(w["confidence"] for w in line["words"]) / len(line["words"]), 2)
    return {
        "page": page.page,
        "width": page.width,
        "height": page.height,
        "dpi": page.dpi,
        "rotation": page.rotation,
        "confidence": round(page.confidence, 2),
        "blocks": [b for b in blocks.values() if b["lines"]],
    }


# -- whole documents ---------------------------------------------------------------------------------
def build_text(pages: list[PageOutput]) -> str:
    return PAGE_SEPARATOR.join(p.text.rstrip("\n") + "\n" for p in pages)


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
    document = {**meta, "pages": [page_structure(p) for p in pages]}
    return json.dumps(document, ensure_ascii=False, indent=1)
