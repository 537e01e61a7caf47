"""What an OCR engine is to the pipeline: one recognition pass per page yields text, hOCR and TSV together."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from PIL import Image


@dataclass(frozen=True)
class RecognizeOptions:
    lang: str = "eng"
    psm: int = 3
    dpi: int | None = None

    def effective(self) -> dict[str, Any]:
        return {"lang": self.lang, "psm": self.psm, "dpi": self.dpi}


@dataclass
class Recognition:
    text: str
    hocr_page: str  # the <div class='ocr_page'> element of hOCR
    tsv: str  # rows without the header line
    mean_confidence: float
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Orientation:
    # tesseract's 'Rotate': degrees to turn the image CLOCKWISE to read it, PIL's image.rotate(-rotate).
    # Both engines agree (tess_phototest-rotated-L.png, text turned left, gives 90; -180.png gives 180).
    rotate: int
    confidence: float
    script: str | None
    script_confidence: float


class OcrEngine(Protocol):
    name: str

    def version(self) -> str: ...

    def recognize(self, image: Image.Image, options: RecognizeOptions) -> Recognition: ...

    def detect_orientation(self, image: Image.Image, dpi: int | None) -> Orientation | None: ...
