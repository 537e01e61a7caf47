"""TSV: Tesseract's header and every page's rows, each row carrying its page number."""

from __future__ import annotations

from collections.abc import Sequence

from workers.ocr import tsv
from workers.ocr.outputs.page import PageOutput


def build(pages: Sequence[PageOutput]) -> str:
    rows = [tsv.TSV_HEADER]
    for page in pages:
        rows.extend(tsv.renumber_page(page.tsv, page.page))
    return "\n".join(rows) + "\n"
