"""The Fraktur model's reading with its ch ligature written as `ch`.

Tesseract's `frk` model (Debian's tesseract-ocr-frk) reads the ch ligature of Fraktur type as `<`: `noc<`,
`mögli<h`, `Hausre<t`, `nac<`, `I<`, where the page has `noch`, `möglich`, `Hausrecht`, `nach`, `Ich`
(tessdata issue 102: Tesseract 4's Fraktur models and the ch, ck and long-s-z ligatures). A `<` inside a word of its
reading is that ligature: with the `c` or the `h` the model read beside it, or alone, it is written `ch`.
Found on the corpus's Fraktur lines and checked on its Fraktur pages, another source (docs/accuracy.md).
Pure: a recognition in, the same recognition with those words mended out (text, TSV and hOCR alike);
`LigatureMending` puts that in front of an engine, so that every reading of a page made with the Fraktur
model is mended, whichever step asked for it.
"""

from __future__ import annotations

import re
from dataclasses import replace

from PIL import Image

from workers.ocr.engines.base import OcrEngine, Orientation, Recognition, RecognizeOptions

MODEL = "frk"
_LETTER = r"[^\W\d_]"


def _pattern(mark: str) -> re.Pattern[str]:
    """`mark` (the ligature as written: `<`, or `&lt;` in hOCR) inside a word, with a c or h beside it."""
    m = re.escape(mark)
    return re.compile(f"c{m}h|c{m}|{m}h|(?<={_LETTER}){m}|{m}(?={_LETTER})")


_PLAIN, _ESCAPED = _pattern("<"), _pattern("&lt;")


def mend_ligatures(recognition: Recognition) -> Recognition:
    """The recognition with each `<` inside a word written `ch` (the reading itself where there is none)."""
    if "<" not in recognition.text:
        return recognition
    return replace(
        recognition,
        text=_PLAIN.sub("ch", recognition.text),
        tsv=_PLAIN.sub("ch", recognition.tsv),
        hocr_page=_ESCAPED.sub("ch", recognition.hocr_page),
    )


def reads_fraktur(lang: str) -> bool:
    return MODEL in lang.split("+")


class LigatureMending:
    """An engine whose recognitions with the Fraktur model come with the ch ligature mended."""

    def __init__(self, engine: OcrEngine) -> None:
        self.engine, self.name = engine, engine.name

    def version(self) -> str:
        return self.engine.version()

    def recognize(self, image: Image.Image, options: RecognizeOptions) -> Recognition:
        recognition = self.engine.recognize(image, options)
        return mend_ligatures(recognition) if reads_fraktur(options.lang) else recognition

    def detect_orientation(self, image: Image.Image, dpi: int | None) -> Orientation | None:
        return self.engine.detect_orientation(image, dpi)
