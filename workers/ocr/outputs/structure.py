"""A page's structure from its TSV: blocks -> lines -> words with boxes and confidences (JSON, ALTO, PDF)."""

from __future__ import annotations

from typing import Any

from workers.ocr import tsv
from workers.ocr.outputs.page import PageOutput
from workers.ocr.outputs.txt import page_text


def _placed(box: tsv.Box, polygon: list[int] | None) -> dict[str, Any]:
    """A box, and its polygon where the text is not upright on the page (PageOutput.quads)."""
    return {"bbox": list(box), **({"polygon": list(polygon)} if polygon is not None else {})}


def _blocks(page: PageOutput) -> list[dict[str, Any]]:
    blocks: dict[int, dict[str, Any]] = {}
    lines: dict[tuple[int, int, int], dict[str, Any]] = {}
    for n, row in enumerate(tsv.rows(page.tsv)):
        polygon = page.quads[n] if page.quads is not None and n < len(page.quads) else None
        if row.level == tsv.BLOCK:
            blocks[row.block] = {"bbox": list(row.box), "lines": []}
        elif row.level == tsv.LINE and row.block in blocks:
            line: dict[str, Any] = {**_placed(row.box, polygon), "words": []}
            lines[row.line_key] = line
            blocks[row.block]["lines"].append(line)
        elif row.level == tsv.WORD and row.text.strip() and row.line_key in lines:
            confidence = min(max(row.conf, 0.0), 100.0)
            word = {"text": row.text, **_placed(row.box, polygon), "confidence": round(confidence, 2)}
            lines[row.line_key]["words"].append(word)
    for block in blocks.values():
        block["lines"] = [line for line in block["lines"] if line["words"]]
        for line in block["lines"]:
            line["text"] = " ".join(w["text"] for w in line["words"])
            line["confidence"] = round(sum(w["confidence"] for w in line["words"]) / len(line["words"]), 2)
    return [b for b in blocks.values() if b["lines"]]


def page_structure(page: PageOutput) -> dict[str, Any]:
    """pages -> blocks -> lines -> words, each with its bbox [x0, y0, x1, y1] in pixels of the page's grid and
    confidence; lines and words that are not upright on the page also have their `polygon`."""
    result: dict[str, Any] = {
        "page": page.page,
        "width": page.width,
        "height": page.height,
        "dpi": page.dpi,
        "rotation": page.rotation,
        "source": page.info.get("source", "ocr"),
        "confidence": round(min(max(page.confidence, 0.0), 100.0), 2),
        "text": page_text(page),
        "blocks": _blocks(page),
    }
    if "steps" in page.info:  # how the page was read, so that the reading can be reproduced
        info = page.info
        result["preprocessing"] = {
            "model": info.get("lang"),
            "steps": list(info["steps"]),
            "passes": info.get("passes", 1),
            "coverage": info.get("coverage"),
        }
        if "table_cells" in info:  # ruled cells found (workers/ocr/tables.py); cellsN in steps when kept
            result["preprocessing"]["table_cells"] = info["table_cells"]
        if "checkboxes" in info:  # a form's checkboxes (workers/ocr/forms.py); checkboxesN in steps when kept
            result["preprocessing"]["checkboxes"] = dict(info["checkboxes"])
        if "script" in info:  # the script OSD named on a German page (auto_model: Fraktur brings the frk model)
            result["preprocessing"]["script"] = info["script"]
        if "voted" in info:  # the readings the vote combined (workers/ocr/vote.py); voteN in steps when kept
            result["preprocessing"]["voted"] = info["voted"]
    return result
