"""Which pages of a document a job reads: all of them, or those its upload's `pages` option names.

The job's pages are numbered 1..n whatever their place in the document (page rows, progress, results); the
n pages are the document's pages that `pages` names, in page order. Page k of the job is therefore the k-th
of `page_numbers(pages)`: pages beyond the document's end come last in that order, so dropping them leaves
the numbering of the others as it was, and the mapping needs no page count.
"""

from __future__ import annotations

from typing import Any

from ocr_client.options import page_numbers

from workers.ocr.errors import InputError


def _pages(options: dict[str, Any] | None) -> str | None:
    value = (options or {}).get("pages")
    return value if isinstance(value, str) and value.strip() else None


def job_page_count(options: dict[str, Any] | None, document_pages: int) -> int:
    """How many pages the job reads of a document of `document_pages` pages; InputError when `pages` names
    none of them."""
    pages = _pages(options)
    if pages is None:
        return document_pages
    count = sum(1 for n in page_numbers(pages) if n <= document_pages)
    if document_pages and not count:
        raise InputError(
            "pages_out_of_range",
            f"pages={pages} names no page of the document: it has {document_pages} page(s)",
        )
    return count


def document_page(options: dict[str, Any] | None, job_page: int) -> int:
    """The document's page number of the job's page `job_page` (1-based both)."""
    pages = _pages(options)
    return page_numbers(pages)[job_page - 1] if pages is not None else job_page


def document_pages(options: dict[str, Any] | None, job_pages: list[int]) -> list[int] | None:
    """The document's page numbers of the job's pages, None when the job reads every page."""
    return [document_page(options, n) for n in job_pages] if _pages(options) is not None else None
