"""Page preprocessing before recognition. EXIF orientation is applied when the page is loaded."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from workers.engine import OcrEngine, RecognizeOptions
from workers.formats import PageOutput
from workers.pages import PageImage


@dataclass(frozen=True)
class PageOptions:
    lang: str = "eng"
    psm: int | None = None
    dpi: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def recognize_page(engine: OcrEngine, page_no: int, page: PageImage, options: PageOptions) -> PageOutput:
    image = page.image
    recognition = engine.recognize(image, RecognizeOptions(lang=options.lang, psm=options.psm or 3, dpi=page.dpi))
    return PageOutput(
        page=page_no,
        width=image.width,
        height=image.height,
        dpi=page.dpi,
        text=recognition.text,
        hocr_page=recognition.hocr_page,
        tsv=recognition.tsv,
        confidence=recognition.mean_confidence,
        info={"exif_rotated": page.exif_rotated},
    )
