"""Options for calling the pipeline directly in tests: complete, with the upload options' defaults."""

from __future__ import annotations

from ocr_client.options import JobOptions

from workers.ocr.preprocess import PageOptions, Switches


def page_options(lang: str = "eng", psm: int | None = None, dpi: int | None = None, **switches: bool) -> PageOptions:
    """A page's options as the Celery edge hands them over: every switch at its default unless given."""
    values = {**JobOptions.switch_defaults(), **switches}
    return PageOptions(switches=Switches.of(values), lang=lang, psm=psm, dpi=dpi)
