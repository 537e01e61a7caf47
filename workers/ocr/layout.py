"""A recognition composed from words found in several passes (a table's cells, the text around it): its text,
TSV and hOCR built from blocks of lines of words, laid out as Tesseract lays out its own."""

from __future__ import annotations

import html
from collections.abc import Sequence

from workers.ocr import tsv
from workers.ocr.engines.base import Recognition

Word = tuple[str, tsv.Box, float]  # text, box (x0, y0, x1, y1), confidence
Line = list[Word]
Block = list[Line]


def _bbox(box: tsv.Box) -> str:
    return "bbox {} {} {} {}".format(*box)


def _row(level: int, block: int, line: int, word: int, box: tsv.Box, conf: float, text: str) -> str:
    x0, y0, x1, y1 = box
    return f"{level}\t1\t{block}\t1\t{line}\t{word}\t{x0}\t{y0}\t{x1 - x0}\t{y1 - y0}\t{conf:g}\t{text}"


def compose(blocks: Sequence[Block], size: tuple[int, int], dpi: int | None) -> Recognition:
    """The recognition of `blocks` (each a list of lines of words, in reading order) on an image of `size`."""
    width, height = size
    rows = [_row(1, 0, 0, 0, (0, 0, width, height), -1, "")]
    texts, hocr_blocks, confs = [], [], []
    for b, block in enumerate((blk for blk in blocks if any(blk)), start=1):
        lines = [line for line in block if line]
        block_box = tsv.union([w[1] for line in lines for w in line])
        rows += [_row(2, b, 0, 0, block_box, -1, ""), _row(3, b, 0, 0, block_box, -1, "")]
        hocr_lines = []
        for n, line in enumerate(lines, start=1):
            line_box = tsv.union([w[1] for w in line])
            rows.append(_row(4, b, n, 0, line_box, -1, ""))
            spans = []
            for k, (text, box, conf) in enumerate(line, start=1):
                rows.append(_row(5, b, n, k, box, conf, text))
                confs.append(conf)
                spans.append(
                    f"<span class='ocrx_word' id='word_{b}_{n}_{k}' title='{_bbox(box)}; x_wconf {round(conf)}'>"
                    f"{html.escape(text, quote=False)}</span>"
                )
            title = _bbox(line_box)
            hocr_lines.append(f"<span class='ocr_line' id='line_{b}_{n}' title=\"{title}\">{' '.join(spans)}</span>")
        texts.append("\n".join(" ".join(w[0] for w in line) for line in lines))
        hocr_blocks.append(
            f"<div class='ocr_carea' id='block_{b}' title=\"{_bbox(block_box)}\">"
            f"<p class='ocr_par' id='par_{b}' title=\"{_bbox(block_box)}\">" + "\n".join(hocr_lines) + "</p></div>"
        )
    resolution = f"; scan_res {dpi} {dpi}" if dpi else ""
    hocr_page = (
        f"<div class='ocr_page' id='page_1' title='bbox 0 0 {width} {height}; ppageno 0{resolution}'>"
        + "".join(hocr_blocks)
        + "</div>"
    )
    text = "\n\n".join(texts) + ("\n" if texts else "")
    mean = sum(confs) / len(confs) if confs else 0.0
    return Recognition(text=text, hocr_page=hocr_page, tsv="\n".join(rows), mean_confidence=mean)


def blocks_of(page_tsv: str) -> list[tuple[tsv.Box, Block]]:
    """A recognition's words as its own blocks of lines (each block with the box around its words)."""
    blocks: dict[int, dict[tuple[int, int, int], Line]] = {}
    for row in tsv.rows(page_tsv):
        if row.level == tsv.WORD and row.text.strip():
            blocks.setdefault(row.block, {}).setdefault(row.line_key, []).append((row.text, row.box, row.conf))
    out = []
    for lines in blocks.values():
        block = list(lines.values())
        out.append((tsv.union([w[1] for line in block for w in line]), block))
    return out
