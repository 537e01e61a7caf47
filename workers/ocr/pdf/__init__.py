"""The searchable PDF: the user's document, each OCR'd page given an invisible text layer.

- images.py: an image input as a PDF whose pages embed the image as it is (img2pdf).
- layer.py: a page's invisible text (the glyphless font, words on the page's own coordinates).
- graft.py: the layers grafted onto the document's pages, turned pages upright by /Rotate, redo_ocr.
- archive.py: saved as PDF/A-2b (pikepdf.pdfa, validated as written), or plain.

`searchable_pdf` puts them together; the job's finalize step calls it once every page is read
(workers/steps.py). docs/formats.md describes the result.
"""

from __future__ import annotations

import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import BinaryIO

from workers.ocr.outputs.page import PageOutput

__all__ = ["searchable_pdf"]

PDF = "application/pdf"


def searchable_pdf(
    path: Path,
    media_type: str,
    pages: Sequence[PageOutput],
    target: BinaryIO,
    *,
    title: str | None,
    creator: str,
    redo: bool,
    archive: bool,
    dpi: int | None,
    default_dpi: int,
    max_pixels: int,
    document_pages: Sequence[int] | None = None,
) -> bool:
    """Write the searchable PDF of the input at `path` (a PDF, or an image of one or more frames) whose pages
    were read into `pages`, to `target` (seekable, at its start). True when it was written as PDF/A.
    `document_pages`: the document's page number of each of `pages`, when only some were read (those alone
    are kept, in order)."""
    import pikepdf

    from workers.ocr.pdf import archive as archive_module
    from workers.ocr.pdf import graft, images

    with tempfile.TemporaryDirectory() as scratch:
        document = path
        if media_type != PDF:
            document = Path(scratch) / "document.pdf"
            document.write_bytes(images.image_document(path, dpi=dpi, default_dpi=default_dpi, max_pixels=max_pixels))
        try:
            with pikepdf.open(document) as pdf:
                graft.graft_pages(pdf, pages, redo=redo, document_pages=document_pages)
                return archive_module.save_document(pdf, target, title=title, creator=creator, archive=archive)
        except pikepdf.PdfError as exc:
            raise ValueError(f"the PDF cannot be written: {exc}") from exc
