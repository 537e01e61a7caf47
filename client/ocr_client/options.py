"""The options of an OCR job, as `POST /v1/jobs` takes them: defined here, once.

Everything else is derived from `JobOptions`: the server takes it as its form model (ocr_api/routes/jobs.py, so
the OpenAPI document shows these fields, defaults, limits and descriptions), the browser form lists its
switches, the workers take the switches' defaults from it, and `Client.submit`, `AsyncClient.submit` and
`ocr-client submit` (one flag per field, underscores as dashes) accept every field. A field added here appears
in all of them; tests/client/test_options_agree.py checks that they agree.

It lives in the client's distribution so that the client needs nothing of the server; it imports only pydantic.
The wire contract's constants (the result formats and their media types, the page separator of text
results) are here too, for the same reason.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, field_validator

Format = Literal["txt", "hocr", "alto", "tsv", "json", "pdf"]
FORMATS: tuple[str, ...] = get_args(Format)  # the order results are listed and assembled in
MEDIA_TYPES: dict[str, str] = {
    "txt": "text/plain; charset=utf-8",
    "hocr": "text/html; charset=utf-8",
    "alto": "application/xml; charset=utf-8",
    "tsv": "text/tab-separated-values; charset=utf-8",
    "json": "application/json",
    "pdf": "application/pdf",
}
# Between pages in text results and in the streamed text (Tesseract's own convention).
PAGE_SEPARATOR = "\f"


# Bounds of the text options: what every database the service supports stores (ocr_jobs.lang is 128 characters
# wide, formats 64), and the callback URL length the webhook sender takes (webhooks/urls.py).
LANG_MAX_CHARS = 128
FORMATS_MAX_CHARS = 64
CALLBACK_URL_MAX_CHARS = 2000
PAGES_MAX_CHARS = 200
# The searchable PDF's lossy optimisation (off unless asked): JPEG quality, and the resolution (dpi) images
# drawn above are downsampled to.
PDF_JPEG_QUALITY = (10, 95)
PDF_IMAGE_DPI = (50, 1200)
# The highest page number `pages` may name: a range expands to at most this many numbers.
MAX_PAGE_NUMBER = 100_000
_PAGES = re.compile(r"\d+(?:\s*-\s*\d+)?(?:\s*,\s*\d+(?:\s*-\s*\d+)?)*")


@lru_cache(maxsize=256)
def page_numbers(pages: str) -> tuple[int, ...]:
    """The page numbers a `pages` value names ("1-3,5", 1-based, as Azure's `pages` parameter and OCRmyPDF's
    --pages write them): ascending, each once. ValueError says what is wrong with the value."""
    if not _PAGES.fullmatch(pages.strip()):
        raise ValueError(f"pages must be page numbers and ranges joined by commas, like 1-3,5 (got {pages!r})")
    chosen: set[int] = set()
    for part in pages.split(","):
        first, _, last = part.partition("-")
        start, end = int(first), int(last or first)
        if start < 1 or end > MAX_PAGE_NUMBER or end < start:
            raise ValueError(
                f"pages: '{part.strip()}' is not a page range from 1 to {MAX_PAGE_NUMBER} (the first page is 1, "
                "a range goes up: 2-4)"
            )
        chosen.update(range(start, end + 1))
    return tuple(sorted(chosen))


class JobOptions(BaseModel):
    """What an upload may ask for besides its file. Every field is optional: one not given takes the default
    shown (for `lang`, the server's OCR_DEFAULT_LANG). `title` is the switch's label in the browser form."""

    # Unknown form fields are ignored, as they always were (the file part itself arrives beside this model).
    model_config = ConfigDict(extra="ignore")

    lang: str | None = Field(
        None,
        max_length=LANG_MAX_CHARS,
        title="Languages",
        description="Tesseract languages joined by '+', e.g. eng+deu (default: the server's)",
    )
    psm: int | None = Field(
        None, ge=0, le=13, title="Page segmentation", description="Tesseract page segmentation mode"
    )
    dpi: int | None = Field(
        None, ge=50, le=2400, title="Resolution", description="Resolution override (dpi) for the input's pages"
    )
    formats: str | None = Field(
        None,
        max_length=FORMATS_MAX_CHARS,
        title="Formats",
        description="Comma-separated result formats: " + ",".join(FORMATS) + " (default: txt)",
    )
    normalize: bool = Field(
        True,
        title="Enlarge small text and small crops",
        description="Scale small text up (its specks painted over first) and give small crops a white border",
    )
    orient: bool = Field(
        True, title="Detect and fix page orientation", description="Detect page orientation (OSD) and rotate"
    )
    deskew: bool = Field(
        True, title="Straighten skewed pages", description="Straighten skewed scans, kept when that reads better"
    )
    auto_model: bool = Field(
        True,
        title="Try the Fraktur model on German pages that read poorly or are set in Fraktur",
        description=(
            "Read German pages that read poorly, or whose script OSD names Fraktur, with the Fraktur model (frk) too"
        ),
    )
    retry: bool = Field(
        True,
        title="Read poor pages again with other settings",
        description=(
            "Retry empty or low-confidence pages with other settings, and combine several readings of an unsure"
            " page of several lines word by word (the vote)"
        ),
    )
    flatten: bool = Field(
        True,
        title="Flatten photos of pages",
        description="Photos of pages that read poorly: find the page, undo its perspective, curve and uneven light",
    )
    tables: bool = Field(
        True,
        title="Read ruled tables and form boxes cell by cell",
        description="Find ruled tables and form boxes, read their cells apart row by row; whiten a form's checkboxes",
    )
    skip_text: bool = Field(
        False,
        title="Keep the text of PDF pages that have some",
        description="A PDF page that already has text is not OCR'd: its own text is reused and the page kept"
        " as it is (otherwise such a page is OCR'd too, keeps its own text, and the PDF's layer adds only the"
        " words it lacks)",
    )
    redo_ocr: bool = Field(
        False,
        title="Replace an earlier OCR layer",
        description="A PDF page's invisible text (an earlier OCR layer) is removed and the page OCR'd again,"
        " its visible text and images kept (not with skip_text)",
    )
    pdfa: bool = Field(
        True,
        title="Searchable PDF as PDF/A-2b",
        description="Write the searchable PDF as PDF/A-2b for archiving; off: a plain PDF",
    )
    pdf_jpeg_quality: int | None = Field(
        None,
        ge=PDF_JPEG_QUALITY[0],
        le=PDF_JPEG_QUALITY[1],
        title="PDF images: JPEG quality (lossy)",
        description="Re-encode the searchable PDF's colour and gray images as JPEG at this quality, each only"
        " where that makes it smaller (lossy: default off, every image kept as it is)",
    )
    pdf_image_dpi: int | None = Field(
        None,
        ge=PDF_IMAGE_DPI[0],
        le=PDF_IMAGE_DPI[1],
        title="PDF images: downsample above (dpi, lossy)",
        description="Downsample the searchable PDF's colour and gray images drawn above this resolution to it"
        " (lossy: default off, every image kept as it is)",
    )
    pages: str | None = Field(
        None,
        max_length=PAGES_MAX_CHARS,
        title="Pages",
        description="Pages to read, e.g. 1-3,5 (default: all); the results hold those pages, in page order",
    )
    callback_url: str | None = Field(
        None,
        max_length=CALLBACK_URL_MAX_CHARS,
        title="Webhook URL",
        description="POST the job's status here, signed, when it ends (README: Webhooks)",
    )
    retain_hours: int | None = Field(
        None,
        ge=0,
        title="Retention (hours)",
        description="Delete the input and results this many hours after the job ends",
    )

    @field_validator("pages")
    @classmethod
    def _check_pages(cls, pages: str | None) -> str | None:
        if pages is not None and pages.strip():
            page_numbers(pages)
            return pages.strip()
        return None

    @classmethod
    def switch_names(cls) -> tuple[str, ...]:
        """The on/off fields, in their order here (the browser form's checkboxes, the job's `options`)."""
        return tuple(name for name, f in cls.model_fields.items() if f.annotation in (bool, "bool"))

    def given(self) -> dict[str, Any]:
        """The fields the caller set, as sent: what a job records and an idempotency fingerprint compares."""
        return self.model_dump(include=self.model_fields_set)

    def switches(self) -> dict[str, bool]:
        """The switches the caller set (the job's `options`); a switch left out takes its default later."""
        return {name: value for name, value in self.given().items() if name in self.switch_names()}

    @classmethod
    def switch_defaults(cls) -> dict[str, bool]:
        return {name: bool(cls.model_fields[name].default) for name in cls.switch_names()}
