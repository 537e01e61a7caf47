"""What a page is read with (`PageOptions`, its `Switches`) and what is recorded of how it was read (`Notes`).

The switches come complete with each page: the pipeline has no defaults of its own for them; the Celery edge
fills a job's missing ones from the upload options' model (workers/steps.py).
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

from workers.ocr.engines.base import Orientation
from workers.ocr.models import SECOND_MODEL_SUFFIX

# Models to try instead of a language of the request when its reading is poor (installed ones only).
ALTERNATE_MODELS: dict[str, str] = {"deu": "frk"}
# The script (as OSD names it) each alternate model is made for: where OSD names it on a page, the alternate is
# read whatever the first reading's confidence, and kept unless clearly less confident (Tuning.script_margin).
# OSD names the script of Fraktur lines and pages, and Latin for German set in Antiqua (docs/accuracy.md).
ALTERNATE_SCRIPTS: dict[str, str] = {"frk": "Fraktur"}


@dataclass(frozen=True)
class Switches:
    """The preprocessing steps a page may take, each on or off; no defaults here (the caller decides)."""

    normalize: bool  # white border and upscaling for small inputs and small text
    orient: bool  # find and undo quarter turns of pages that read poorly
    deskew: bool  # straighten skewed text lines, when the straight reading is better
    auto_model: bool  # German pages that read poorly: try the Fraktur model
    retry: bool  # read poor or empty pages again with other settings, keep a clearly better reading
    flatten: bool  # photos of pages that read poorly: find the page and flatten it, keep a better reading
    tables: bool  # ruled tables and form boxes: read their cells apart, row by row; checkboxes whitened

    @classmethod
    def names(cls) -> tuple[str, ...]:
        return tuple(f.name for f in fields(cls))

    @classmethod
    def of(cls, values: dict[str, bool]) -> Switches:
        """The switches named in `values` (every one must be there; other keys are not the pipeline's)."""
        return cls(**{name: values[name] for name in cls.names()})


@dataclass(frozen=True)
class PageOptions:
    switches: Switches
    lang: str = "eng"
    psm: int | None = None
    dpi: int | None = None


def alternate_lang(lang: str, installed: frozenset[str]) -> str | None:
    """The request's language spec with each language that has an installed alternate model swapped."""
    parts = lang.split("+")
    swapped = [ALTERNATE_MODELS.get(p, p) if ALTERNATE_MODELS.get(p) in installed else p for p in parts]
    return "+".join(swapped) if swapped != parts else None


def alternate_scripts(alternate: str) -> frozenset[str]:
    """The scripts the models of an alternate language spec (alternate_lang's) are made for."""
    return frozenset(ALTERNATE_SCRIPTS[p] for p in alternate.split("+") if p in ALTERNATE_SCRIPTS)


def second_lang(lang: str, installed: frozenset[str]) -> str | None:
    """The request's language spec with each language that has a second model installed (LANG_fast: Tesseract's
    own model beside the more accurate one `ocr-service models install` put in its place) swapped for it; the
    vote reads with it too (workers/ocr/vote.py)."""
    parts = lang.split("+")
    swapped = [p + SECOND_MODEL_SUFFIX if p + SECOND_MODEL_SUFFIX in installed else p for p in parts]
    return "+".join(swapped) if swapped != parts else None


@dataclass
class Notes:
    """What is recorded of how a page was read, besides the kept reading (PageOutput.info)."""

    exif_rotated: bool
    border: int | None = None  # the white border a small input got
    specks: int = 0  # specks painted over on a small input before it was enlarged (workers/ocr/binarize.py)
    text_height: float | None = None  # measured when normalize looked at the text's height
    model_tried: str | None = None  # the alternate model auto_model read the page with
    script: str | None = None  # the script OSD named where auto_model asked (a German page)
    osd_ran: bool = False
    osd: Orientation | None = None  # what OSD said, when orient ran (None: too little text)
    photo: list[str] | None = None  # why the page looked like a photo, when flatten looked ([]: it did not)
    table_cells: int | None = None  # ruled cells found (tables), when there were enough to read them apart
    checkboxes: tuple[int, int] | None = None  # a form's checkboxes found (tables): how many, how many checked
    voted: int | None = None  # the readings combined by vote, when it ran

    def info(self) -> dict[str, Any]:
        info: dict[str, Any] = {"exif_rotated": self.exif_rotated}
        if self.border is not None:
            info["border"] = self.border
        if self.text_height is not None:
            info["text_height"] = round(self.text_height, 1)
        if self.model_tried is not None:
            info["model_tried"] = self.model_tried
        if self.script is not None:
            info["script"] = self.script
        if self.photo is not None:
            info["photo"] = self.photo
        if self.table_cells is not None:
            info["table_cells"] = self.table_cells
        if self.checkboxes is not None:
            info["checkboxes"] = {"found": self.checkboxes[0], "checked": self.checkboxes[1]}
        if self.voted is not None:
            info["voted"] = self.voted
        if self.osd_ran:
            osd = self.osd
            info["osd"] = {"rotate": osd.rotate, "confidence": round(osd.confidence, 2)} if osd else None
        return info
