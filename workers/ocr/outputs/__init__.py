"""The job's result formats, each built in a module of its own from the pages' `PageOutput`s.

txt (txt.py), hOCR (hocr.py: the engine's own, renumbered per page), ALTO (alto.py) and JSON (json.py) from
each page's structure (structure.py: its TSV's word boxes), TSV (tsv.py), and the searchable PDF (pdf.py),
which is written page by page and merged at the end. docs/formats.md describes each format.

Importing this package loads no Pillow (only pdf.py needs it, and it is not imported here).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from workers.ocr.outputs import alto, hocr, json, tsv, txt
from workers.ocr.outputs.page import PageOutput

__all__ = ["DOCUMENTS", "FORMATS", "PageOutput", "build_document"]

DocumentBuilder = Callable[[Sequence[PageOutput], dict[str, Any]], str]


def _engine_version(meta: dict[str, Any]) -> str:
    return str((meta.get("engine") or {}).get("tesseract_version", ""))


# The text formats by name: each built from the pages and the document's meta (job_id, filename, engine).
DOCUMENTS: dict[str, DocumentBuilder] = {
    "txt": lambda pages, meta: txt.build(pages),
    "hocr": lambda pages, meta: hocr.build(pages, _engine_version(meta)),
    "alto": alto.build,
    "tsv": lambda pages, meta: tsv.build(pages),
    "json": json.build,
}
# Every format the pipeline makes: the text formats and the PDF (pdf.merge_pdf_pages of the pages' own PDFs).
# The client's wire contract lists the same (ocr_client.options.FORMATS, tests/workers/ocr/test_outputs.py).
FORMATS: tuple[str, ...] = (*DOCUMENTS, "pdf")


def build_document(fmt: str, pages: Sequence[PageOutput], meta: dict[str, Any]) -> str:
    """The document in text format `fmt` (any of FORMATS but pdf)."""
    return DOCUMENTS[fmt](pages, meta)
