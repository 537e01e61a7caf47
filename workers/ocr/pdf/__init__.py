"""The searchable PDF: the user's document, each OCR'd page given an invisible text layer.

- images.py: an image input as a PDF whose pages embed the image as it is (img2pdf).
- layer.py: a page's invisible text (the glyphless font, words on the page's own coordinates).
- known.py: which words a page has already (its own text), left out of its layer in the default mode.
- graft.py: the layers grafted onto the document's pages, turned pages upright by /Rotate, redo_ocr.
- lossy.py: images re-encoded or downsampled, only when the job asks for it.
- archive.py: saved as PDF/A-2b (pikepdf.pdfa, validated as written), or plain.

`searchable_pdf` puts them together; the job's finalize step calls it once every page is read
(workers/steps.py). docs/formats.md describes the result.
"""

from __future__ import annotations

import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import BinaryIO

from workers.ocr import textlayer
from workers.ocr.outputs.page import PageOutput
from workers.ocr.pdf.lossy import Lossy, reencode_images
from workers.ocr.tsv import Box

__all__ = ["Lossy", "searchable_pdf"]

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
    lossy: Lossy | None = None,
) -> bool:
    """Write the searchable PDF of the input at `path` (a PDF, or an image of one or more frames) whose pages
    were read into `pages`, to `target` (seekable, at its start). True when it was written as PDF/A.
    `redo`: pages' earlier invisible text is replaced (redo_ocr); otherwise a page that has text keeps it and
    its layer adds only the words it lacks. `document_pages`: the document's page number of each of `pages`,
    when only some were read (those alone are kept, in order). `lossy`: the images' lossy optimisation, when
    the job asked for one (lossy.py)."""
    import pikepdf

    from workers.ocr.pdf import archive as archive_module
    from workers.ocr.pdf import graft, images

    with tempfile.TemporaryDirectory() as scratch:
        document, known = path, None
        if media_type != PDF:
            document = Path(scratch) / "document.pdf"
            document.write_bytes(images.image_document(path, dpi=dpi, default_dpi=default_dpi, max_pixels=max_pixels))
        elif not redo:
            known = _known_words(path, pages, document_pages)
        try:
            with pikepdf.open(document) as pdf:
                graft.graft_pages(pdf, pages, redo=redo, document_pages=document_pages, known=known)
                if lossy:
                    reencode_images(pdf, lossy)
                return archive_module.save_document(pdf, target, title=title, creator=creator, archive=archive)
        except pikepdf.PdfError as exc:
            raise ValueError(f"the PDF cannot be written: {exc}") from exc


def _known_words(path: Path, pages: Sequence[PageOutput], document_pages: Sequence[int] | None) -> dict[int, list[Box]]:
    """The boxes of the words the OCR'd pages of a PDF already have, each on its output's grid, by document
    page number."""
    numbers = document_pages if document_pages is not None else range(1, len(pages) + 1)
    grids = {
        number: (page.width, page.height)
        for number, page in zip(numbers, pages, strict=False)
        if page.info.get("source") != "text_layer"
    }
    return textlayer.word_boxes(path, grids)
