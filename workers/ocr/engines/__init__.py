"""OCR engines behind one interface (base.OcrEngine), and the one this process uses.

`tesserocr` keeps Tesseract loaded in the worker process and reuses it across pages and jobs;
`pytesseract` runs the `tesseract` program once per page. OCR_ENGINE picks one (see docs/performance.md).
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_THREAD_LIMIT", "1")  # parallelism comes from worker processes, not threads

from functools import lru_cache

from workers.ocr import tesseract
from workers.ocr.engines.base import OcrEngine, Orientation, Recognition, RecognizeOptions
from workers.ocr.settings import get_ocr_settings

__all__ = ["OcrEngine", "Orientation", "Recognition", "RecognizeOptions", "get_engine"]


@lru_cache
def get_engine() -> OcrEngine:
    """The engine of this process, created once and reused for every page."""
    settings = get_ocr_settings()
    if settings.engine == "pytesseract":
        from workers.ocr.engines.pytesseract import PytesseractEngine

        return PytesseractEngine(tesseract.tessdata_dir())
    from workers.ocr.engines.tesserocr import TesserocrEngine

    return TesserocrEngine(tesseract.tessdata_dir())
