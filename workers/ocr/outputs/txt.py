"""Plain text (result.txt): each page's text ending in one newline, pages joined by a form feed.

Light (standard library only): the API's text stream imports it to serve pages as result.txt holds them.
"""

from __future__ import annotations

from collections.abc import Sequence

from workers.ocr.outputs.page import PageOutput

# Between pages in text results and in the streamed text (Tesseract's own convention); the client's wire
# contract names the same one (ocr_client.options.PAGE_SEPARATOR, tests/workers/ocr/test_outputs.py).
PAGE_SEPARATOR = "\f"


def clean_page_text(text: str) -> str:
    """A page's recognized text as result.txt carries it: ending in exactly one newline."""
    return text.rstrip("\n\f") + "\n"


def page_text(page: PageOutput) -> str:
    return clean_page_text(page.text)


def page_in_document(text: str, page_no: int) -> str:
    """Page `page_no`'s part of result.txt, from its recognized text: the separator first after page 1."""
    return (PAGE_SEPARATOR if page_no > 1 else "") + clean_page_text(text)


def build(pages: Sequence[PageOutput]) -> str:
    return PAGE_SEPARATOR.join(page_text(p) for p in pages)
