"""Page preprocessing around recognition: deskew, orientation and a second try for pages that read poorly.

EXIF orientation is applied when the page is loaded. Every choice here is made from the image or from the
engine's own word confidences, never from the file name or type:

- deskew: the text lines' angle from the ink's projection profile; pages skewed by more than
  MIN_SKEW_DEGREES are turned straight (same size, white brought in at the corners).
- orient: a page whose first reading is poor (mean word confidence under POOR_CONFIDENCE) gets Tesseract's
  orientation detection (OSD); a confident quarter turn is read again and kept if it reads better. Where OSD
  has too little text to answer (a word, a line), the other three quarter turns are tried instead.
- retry: a page still poor or empty is read again as one uniform block (--psm 6, unless the request
  fixed the psm), with and without dark scanner borders whitened, and the most confident reading is kept.

Clean upright pages read well the first time and cost one recognition plus the skew estimate.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace
from typing import Any

from PIL import Image

from workers import imageops
from workers.engine import OcrEngine, Recognition, RecognizeOptions
from workers.formats import PageOutput
from workers.pages import PageImage

# Per-request switches (the job's `options`); a missing key takes its default here.
PREPROCESS_DEFAULTS: dict[str, bool] = {
    "orient": True,  # find and undo quarter turns of pages that read poorly
    "deskew": True,  # straighten skewed text lines
    "retry": True,  # read poor or empty pages again with other settings, keep the best
}

# Mean word confidence (0-100) under which a reading counts as poor. Upright text reads at 78-97 on the
# corpus's clean pages and good receipts; the same pages turned the wrong way read at 22-49.
POOR_CONFIDENCE = 70.0
# Tesseract OSD's orientation confidence needed to try its quarter turn (the turn is kept only when the
# page then reads better, so a modest value suffices; rotated pages score 9 and more).
OSD_MIN_CONFIDENCE = 2.0
# Skew below this is left alone: Tesseract's line finding copes, and resampling the page costs time.
MIN_SKEW_DEGREES = 0.4
MAX_SKEW_DEGREES = 10.0
# The best angle's profile sharpness over the straight one's: below this the angle is noise (a single
# short line measures 1.7 at a made-up angle; skewed pages measure 2.5 to 30).
MIN_SKEW_STRENGTH = 2.0
UNIFORM_BLOCK_PSM = 6
DEFAULT_PSM = 3


@dataclass(frozen=True)
class PageOptions:
    lang: str = "eng"
    psm: int | None = None
    dpi: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Variant:
    """How a page image is prepared: a quarter turn (degrees clockwise), then dark borders whitened."""

    rotation: int = 0
    clear_borders: bool = False


@dataclass
class Reading:
    """One recognition pass and how it was made."""

    variant: Variant
    image: Image.Image
    recognition: Recognition
    psm: int
    quality: float = field(init=False)
    characters: int = field(init=False)

    def __post_init__(self) -> None:
        self.quality, self.characters = word_quality(self.recognition.tsv)

    @property
    def poor(self) -> bool:
        return self.characters == 0 or self.quality < POOR_CONFIDENCE

    def better_than(self, other: Reading) -> bool:
        return (self.quality, self.characters) > (other.quality, other.characters)


def word_quality(tsv: str) -> tuple[float, int]:
    """Character-weighted mean confidence of the words that have a letter or digit, and their length.

    Computed from TSV for every engine alike (Tesseract's own mean reports 95 for an empty page).
    """
    weighted = 0.0
    characters = 0
    for row in tsv.splitlines():
        cols = row.split("\t")
        if len(cols) < 12 or cols[0] != "5":
            continue
        text = cols[11].strip()
        if not any(ch.isalnum() for ch in text):
            continue
        try:
            conf = float(cols[10])
        except ValueError:
            continue
        weighted += max(conf, 0.0) * len(text)
        characters += len(text)
    return (weighted / characters if characters else 0.0), characters


def switches(extra: dict[str, Any]) -> dict[str, bool]:
    """The preprocessing switches of a request: its bools (or "true"/"false" strings) over the defaults."""
    result = dict(PREPROCESS_DEFAULTS)
    for key in PREPROCESS_DEFAULTS:
        value = extra.get(key)
        if isinstance(value, bool):
            result[key] = value
        elif isinstance(value, str) and value.strip().lower() in ("true", "false", "1", "0", "on", "off"):
            result[key] = value.strip().lower() in ("true", "1", "on")
    return result


class _Page:
    """One page's candidate readings; each prepared image is made once and reused."""

    def __init__(self, engine: OcrEngine, page: PageImage, options: PageOptions, deskew: bool) -> None:
        self.engine = engine
        self.page = page
        self.options = options
        self.deskew = deskew
        self.skew: dict[Variant, float] = {}
        self.border_fraction: dict[Variant, float] = {}
        self._images: dict[Variant, Image.Image] = {}
        self.passes = 0

    def image(self, variant: Variant) -> Image.Image:
        if variant not in self._images:
            image = imageops.turn_clockwise(self.page.image, variant.rotation)
            if variant.clear_borders:
                image, self.border_fraction[variant] = imageops.clear_dark_borders(image)
            self.skew[variant] = 0.0
            if self.deskew:
                angle, strength = imageops.skew_angle(image, MAX_SKEW_DEGREES)
                if abs(angle) >= MIN_SKEW_DEGREES and strength >= MIN_SKEW_STRENGTH:
                    image = imageops.rotate_degrees(image, angle)
                    self.skew[variant] = angle
            self._images[variant] = image
        return self._images[variant]

    def has_dark_borders(self, rotation: int) -> bool:
        self.image(Variant(rotation, clear_borders=True))
        return self.border_fraction[Variant(rotation, clear_borders=True)] > 0

    def read(self, variant: Variant, psm: int) -> Reading:
        image = self.image(variant)
        self.passes += 1
        recognition = self.engine.recognize(image, RecognizeOptions(lang=self.options.lang, psm=psm, dpi=self.page.dpi))
        return Reading(variant=variant, image=image, recognition=recognition, psm=psm)


def _reorient(page: _Page, best: Reading, info: dict[str, Any]) -> Reading:
    """Try the quarter turn OSD is confident of, or every turn where OSD has too little text to answer."""
    upright = replace(best.variant, rotation=0)
    osd = page.engine.detect_orientation(page.image(upright), page.page.dpi)
    if osd is not None:
        info["osd"] = {"rotate": osd.rotate, "confidence": round(osd.confidence, 2)}
        if osd.rotate % 360 == 0 or osd.confidence < OSD_MIN_CONFIDENCE:
            return best
        turns = [osd.rotate % 360]
    else:
        info["osd"] = None
        turns = [90, 180, 270]
    for rotation in turns:
        reading = page.read(replace(best.variant, rotation=rotation), best.psm)
        if reading.better_than(best):
            best = reading
    return best


def _retry(page: _Page, best: Reading, psm_fixed: bool) -> Reading:
    """Read again as one uniform block, with and without dark borders; keep the most confident reading."""
    plain = replace(best.variant, clear_borders=False)
    cleared = replace(best.variant, clear_borders=True)
    psm = best.psm if psm_fixed else UNIFORM_BLOCK_PSM
    candidates = [(plain, psm)]
    if page.has_dark_borders(best.variant.rotation):
        candidates.append((cleared, psm))
    for variant, mode in candidates:
        if (variant, mode) == (best.variant, best.psm):
            continue
        reading = page.read(variant, mode)
        if reading.better_than(best):
            best = reading
    return best


def recognize_page(engine: OcrEngine, page_no: int, page: PageImage, options: PageOptions) -> PageOutput:
    return read_page(engine, page_no, page, options)[0]


def read_page(engine: OcrEngine, page_no: int, page: PageImage, options: PageOptions) -> tuple[PageOutput, Image.Image]:
    """The page's outputs, and the image as the engine read it (turned, deskewed): the word boxes refer to it."""
    started = time.perf_counter()
    on = switches(options.extra)
    candidates = _Page(engine, page, options, deskew=on["deskew"])
    info: dict[str, Any] = {"exif_rotated": page.exif_rotated}
    best = candidates.read(Variant(), options.psm or DEFAULT_PSM)
    # A turned page still yields about as much text, only read badly; a page with no text at all is more
    # likely hidden by a dark border or an odd layout, so retry before turning it.
    order = ["orient", "retry"] if best.characters else ["retry", "orient"]
    for step in order:
        if not best.poor or not on[step]:
            continue
        if step == "orient":
            best = _reorient(candidates, best, info)
        else:
            best = _retry(candidates, best, psm_fixed=options.psm is not None)
    skew = candidates.skew.get(best.variant, 0.0)
    steps = [
        *([f"turn{best.variant.rotation}"] if best.variant.rotation else []),
        *(["borders"] if best.variant.clear_borders else []),
        *([f"deskew{skew:+.1f}"] if skew else []),
        *([f"psm{best.psm}"] if best.psm != (options.psm or DEFAULT_PSM) else []),
    ]
    info.update(
        {
            "rotation": best.variant.rotation,
            "deskew_angle": skew,
            "psm": best.psm,
            "steps": steps,
            "passes": candidates.passes,
            "page_ms": round((time.perf_counter() - started) * 1000),
        }
    )
    recognition = best.recognition
    output = PageOutput(
        page=page_no,
        width=best.image.width,
        height=best.image.height,
        dpi=page.dpi,
        text=recognition.text,
        hocr_page=recognition.hocr_page,
        tsv=recognition.tsv,
        confidence=recognition.mean_confidence,
        rotation=best.variant.rotation,
        info=info,
    )
    return output, best.image
