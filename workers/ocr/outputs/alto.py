"""ALTO v4 in pixels: Page / PrintSpace / TextBlock / TextLine / String with SP between strings."""

from __future__ import annotations

import html
import json
from collections.abc import Sequence
from typing import Any

from workers.ocr.outputs.page import PageOutput
from workers.ocr.outputs.structure import page_structure

ALTO_NS = "http://www.loc.gov/standards/alto/ns-v4#"


def _attr(value: object) -> str:
    return html.escape(str(value), quote=True)


def _alto_box(bbox: Sequence[int]) -> str:
    x0, y0, x1, y1 = bbox
    return f'HPOS="{x0}" VPOS="{y0}" WIDTH="{x1 - x0}" HEIGHT="{y1 - y0}"'


def _shape(polygon: Sequence[int]) -> str:
    """A word that is not upright on the page: the corners it covers (JSON's polygon), as ALTO's Shape."""
    points = " ".join(f"{polygon[i]},{polygon[i + 1]}" for i in range(0, len(polygon), 2))
    return f'<Shape><Polygon POINTS="{points}"/></Shape>'


def build(pages: Sequence[PageOutput], meta: dict[str, Any]) -> str:
    """The document in ALTO v4. `meta` is what the JSON output gets (outputs/json.py); its engine entry
    fills OCRProcessing (tesseract version, options)."""
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
                string = (
                    f'<String ID="string_{n}_{word_no}" {_alto_box(word["bbox"])}'
                    f' WC="{word["confidence"] / 100:.4g}" CONTENT="{_attr(word["text"])}"'
                )
                out.append(f"{string}>{_shape(word['polygon'])}</String>" if "polygon" in word else f"{string}/>")
                if i + 1 < len(words):
                    gap_start, gap_end = word["bbox"][2], words[i + 1]["bbox"][0]
                    out.append(
                        f'<SP WIDTH="{max(gap_end - gap_start, 0)}" HPOS="{gap_start}" VPOS="{word["bbox"][1]}"/>'
                    )
            out.append("</TextLine>")
        out.append("</TextBlock>")
    out += ["</PrintSpace>", "</Page>"]
    return out
