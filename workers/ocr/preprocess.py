"""Page preprocessing around recognition: small inputs, deskew, language model, orientation and retries.

EXIF orientation is applied when the page is loaded. Every choice here is made from general signals of the
image (its size, the height of its text in pixels, the angle of its lines) or of the engine's own output
(word confidences over comparable amounts of text, OSD's orientation and its confidence), never from the
file's name or type, and never tuned to particular files (docs/accuracy.md says how the thresholds were
checked: leave-one-source-out over the corpus, and a synthetic set made by bench/synthetic.py).

- normalize: a small input (a word or a line cut from a page: either side under `small_side` px) whose
  text is lower than `min_text_height` px is scaled up to about `target_text_height` px, and gets a white
  border where its ink comes close to an edge, before the first read (Tesseract reads text 20-40 px high
  best and needs white space around it). A larger page with small text that reads poorly is read
  enlarged too.
- deskew: a page whose lines have a clear angle of a degree or more (projection profile) is read
  straightened; when that reading is poor, the page is read as it is too and the more confident reading
  kept (the angle is verified, not trusted). Smaller angles, and small inputs, are straightened only as
  such a second reading, when the first reads poorly.
- auto_model: a German reading less confident than `model_confidence` is read with the Fraktur model (`frk`)
  when it is installed, and that reading kept by a clear margin (19th-century books).
- orient: a page that still reads poorly gets OSD; a confident quarter turn is read and kept by a clear
  margin. Where OSD has too little text (a word, a line), the upside-down turn is tried, and the quarter
  turns only when the ink runs vertically.
- retry: a page still poor or empty is read again as one uniform block (--psm 6, unless the request fixed
  the psm), with dark scanner borders whitened where there are any.

Every step after the first read runs only when the reading so far is poor (mean word confidence under
`poor_confidence`, or empty), except the Fraktur check, which also runs for German readings that are
merely mediocre: a clean page, receipt or line costs one recognition.

A candidate reading replaces the kept one only when it is clearly more confident over a comparable amount
of text (`Tuning.replaces`): a longer reading of garbage cannot win by length, and a re-segmented or turned
reading of noise cannot win by a point or two of confidence.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace
from typing import Any

from PIL import Image

from workers.ocr import imageops, tesseract
from workers.ocr.engine import OcrEngine, Recognition, RecognizeOptions
from workers.ocr.formats import PageOutput
from workers.ocr.pages import PageImage

# Per-request switches (the job's `options`); a missing key takes its default here.
PREPROCESS_DEFAULTS: dict[str, bool] = {
    "normalize": True,  # white border and upscaling for small inputs and small text
    "orient": True,  # find and undo quarter turns of pages that read poorly
    "deskew": True,  # straighten skewed text lines, when the straight reading is better
    "auto_model": True,  # German pages that read poorly: try the Fraktur model
    "retry": True,  # read poor or empty pages again with other settings, keep a clearly better reading
}

# Upscaling never makes a page larger than this (pixels).
MAX_UPSCALED_PIXELS = 36_000_000
UNIFORM_BLOCK_PSM = 6
DEFAULT_PSM = 3
MAX_SKEW_DEGREES = 10.0
# Models to try instead of a language of the request when its reading is poor (installed ones only).
ALTERNATE_MODELS: dict[str, str] = {"deu": "frk"}


@dataclass(frozen=True)
class Tuning:
    """The pipeline's thresholds. The defaults were chosen by leave-one-source-out over the corpus and
    checked on the synthetic set (bench/tuning.py); see docs/accuracy.md."""

    # Mean word confidence (0-100) under which a reading counts as poor and gets further passes.
    poor_confidence: float = 70.0
    # A candidate must beat the kept reading's confidence by this many points ...
    margin: float = 8.0
    # ... and have at most this many times its characters (plus a few, for readings of a word or two).
    max_length_ratio: float = 1.5
    length_slack: int = 4
    # An empty first reading is replaced only by a reading at least this confident.
    min_confidence_for_empty: float = 50.0
    # A German reading less confident than this is read with the Fraktur model too (auto_model).
    model_confidence: float = 85.0
    # OSD's own orientation confidence needed to try its turn (kept only by the margin above).
    osd_min_confidence: float = 2.0
    # Deskewed readings need only be this much more confident: same text, straighter lines.
    deskew_margin: float = 0.0
    min_skew_degrees: float = 0.4
    min_skew_strength: float = 2.0
    # From this angle on, a page is read straightened first (Tesseract copes with less; the straightened
    # reading is checked against the page as it is when it reads poorly).
    straighten_first_degrees: float = 1.0
    # Text lower than this (px) is scaled up to target_text_height before the first read.
    min_text_height: int = 20
    target_text_height: int = 36
    max_upscale: float = 4.0
    # Images smaller than small_side (px, either side) with less white space than `border` around their
    # ink get a white border of that width.
    small_side: int = 400
    border: int = 16

    def replaces(self, candidate: Reading, kept: Reading) -> bool:
        """Whether a candidate reading is clearly better than the kept one: more confident by the margin,
        over a comparable amount of text (never by length alone)."""
        return self._beats(candidate, kept, self.margin, bound_length=True)

    def same_text_replaces(self, candidate: Reading, kept: Reading) -> bool:
        """Readings of the same image straightened or not: the same text, so more of it at no less
        confidence wins (by deskew_margin)."""
        return self._beats(candidate, kept, self.deskew_margin, bound_length=False)

    def _beats(self, candidate: Reading, kept: Reading, margin: float, *, bound_length: bool) -> bool:
        if candidate.characters == 0:
            return False
        if kept.characters == 0:
            return candidate.quality >= self.min_confidence_for_empty
        if bound_length and candidate.characters > kept.characters * self.max_length_ratio + self.length_slack:
            return False
        return candidate.quality >= kept.quality + margin


DEFAULT_TUNING = Tuning()


@dataclass(frozen=True)
class PageOptions:
    lang: str = "eng"
    psm: int | None = None
    dpi: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Variant:
    """How a page image is prepared: a quarter turn (degrees clockwise), dark borders whitened, deskewed."""

    rotation: int = 0
    clear_borders: bool = False
    deskew: bool = False


@dataclass
class Reading:
    """One recognition pass and how it was made."""

    variant: Variant
    image: Image.Image
    recognition: Recognition
    psm: int
    lang: str
    quality: float = field(init=False)
    characters: int = field(init=False)

    def __post_init__(self) -> None:
        self.quality, self.characters = word_quality(self.recognition.tsv)

    def poor(self, tuning: Tuning) -> bool:
        return self.characters == 0 or self.quality < tuning.poor_confidence


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


def alternate_lang(lang: str, installed: frozenset[str]) -> str | None:
    """The request's language spec with each language that has an installed alternate model swapped."""
    parts = lang.split("+")
    swapped = [ALTERNATE_MODELS.get(p, p) if ALTERNATE_MODELS.get(p) in installed else p for p in parts]
    return "+".join(swapped) if swapped != parts else None


class _Page:
    """One page's candidate readings; each prepared image is made once and reused."""

    def __init__(
        self, engine: OcrEngine, base: Image.Image, dpi: int | None, tuning: Tuning, ink: imageops.Ink | None = None
    ) -> None:
        self.engine = engine
        self.base = base
        self.ink = ink  # the base image's ink mask, when already made
        self.dpi = dpi
        self.tuning = tuning
        self.border_fraction: dict[Variant, float] = {}
        self._skew: dict[int, float] = {}
        self._images: dict[Variant, Image.Image] = {}
        self.passes = 0

    def skew(self, rotation: int) -> float:
        """The angle that straightens the lines of this quarter turn, 0 when none is clear."""
        if rotation not in self._skew:
            ink = self.ink if rotation == 0 else None
            angle, strength = imageops.skew_angle(self.image(Variant(rotation)), MAX_SKEW_DEGREES, ink=ink)
            clear = abs(angle) >= self.tuning.min_skew_degrees and strength >= self.tuning.min_skew_strength
            self._skew[rotation] = angle if clear else 0.0
        return self._skew[rotation]

    def image(self, variant: Variant) -> Image.Image:
        if variant not in self._images:
            image = imageops.turn_clockwise(self.base, variant.rotation)
            if variant.clear_borders:
                image, self.border_fraction[variant] = imageops.clear_dark_borders(image)
            if variant.deskew and self.skew(variant.rotation):
                image = imageops.rotate_degrees(image, self.skew(variant.rotation))
            self._images[variant] = image
        return self._images[variant]

    def has_dark_borders(self, variant: Variant) -> bool:
        cleared = replace(variant, clear_borders=True)
        self.image(cleared)
        return self.border_fraction[cleared] > 0

    def read(self, variant: Variant, psm: int, lang: str) -> Reading:
        image = self.image(variant)
        self.passes += 1
        recognition = self.engine.recognize(image, RecognizeOptions(lang=lang, psm=psm, dpi=self.dpi))
        return Reading(variant=variant, image=image, recognition=recognition, psm=psm, lang=lang)


def _upscale_factor(image: Image.Image, metrics: imageops.TextMetrics, tuning: Tuning) -> float:
    """How much to enlarge an image whose text is lower than min_text_height (1.0: not at all)."""
    if metrics.text_height >= tuning.min_text_height:
        return 1.0
    factor = min(tuning.target_text_height / max(metrics.text_height, 1.0), tuning.max_upscale)
    budget = (MAX_UPSCALED_PIXELS / (image.width * image.height)) ** 0.5
    return max(1.0, min(factor, budget))


def _normalize_small(
    page: PageImage, metrics: imageops.TextMetrics, tuning: Tuning, info: dict[str, Any]
) -> tuple[Image.Image, float]:
    """A small input (a word or a line cut from a page): text scaled up to a working height and a white
    border where the ink comes close to an edge; the image and the scale."""
    image = page.image
    scale = _upscale_factor(image, metrics, tuning)
    if scale > 1.0:
        image = imageops.rescale(image, scale)
    if metrics.margin * scale < tuning.border:
        image = imageops.add_border(image, tuning.border)
        info["border"] = tuning.border
    return image, scale


def _scaled_dpi(dpi: int | None, scale: float) -> int | None:
    return round(dpi * scale) if dpi else None


def _reorient(page: _Page, best: Reading, info: dict[str, Any], tuning: Tuning) -> Reading:
    """Try the quarter turn OSD is confident of; where OSD has too little text, the plausible turns."""
    osd = page.engine.detect_orientation(page.image(replace(best.variant, rotation=0)), page.dpi)
    if osd is not None:
        info["osd"] = {"rotate": osd.rotate, "confidence": round(osd.confidence, 2)}
        if osd.rotate % 360 == 0 or osd.confidence < tuning.osd_min_confidence:
            return best
        turns = [osd.rotate % 360]
    else:
        info["osd"] = None
        turns = [180, 90, 270] if imageops.ink_runs_vertically(page.base) else [180]
    return _pick(best, [page.read(replace(best.variant, rotation=r), best.psm, best.lang) for r in turns], tuning)


def _retry(page: _Page, best: Reading, psm_fixed: bool, tuning: Tuning) -> Reading:
    """Read again as one uniform block, with and without dark borders; keep a clearly better reading."""
    psm = best.psm if psm_fixed else UNIFORM_BLOCK_PSM
    candidates = [replace(best.variant, clear_borders=False)]
    if page.has_dark_borders(best.variant):
        candidates.append(replace(best.variant, clear_borders=True))
    readings = [page.read(v, psm, best.lang) for v in candidates if (v, psm) != (best.variant, best.psm)]
    return _pick(best, readings, tuning)


def _pick(kept: Reading, candidates: list[Reading], tuning: Tuning) -> Reading:
    """The most confident candidate that clearly beats the kept reading (each judged against it), or it."""
    passing = [c for c in candidates if tuning.replaces(c, kept)]
    return max(passing, key=lambda c: c.quality) if passing else kept


def recognize_page(
    engine: OcrEngine, page_no: int, page: PageImage, options: PageOptions, tuning: Tuning = DEFAULT_TUNING
) -> PageOutput:
    return read_page(engine, page_no, page, options, tuning)[0]


def read_page(
    engine: OcrEngine,
    page_no: int,
    page: PageImage,
    options: PageOptions,
    tuning: Tuning = DEFAULT_TUNING,
    installed: frozenset[str] | None = None,
) -> tuple[PageOutput, Image.Image]:
    """The page's outputs, and the image as the engine read it (scaled, turned, deskewed): the word boxes
    refer to it. `installed`: the models the auto_model step may use (default: those installed)."""
    started = time.perf_counter()
    on = switches(options.extra)
    info: dict[str, Any] = {"exif_rotated": page.exif_rotated}
    small = min(page.image.size) < tuning.small_side
    # The page's ink mask, made once: a small input's text height, a page's skew estimate (made for every
    # page with deskew on) and, if the page reads poorly, its text height all come from it.
    needs_ink = on["normalize"] if small else on["deskew"]
    ink = imageops.ink_mask(page.image, imageops.SKEW_WORK_SIZE) if needs_ink else None
    metrics: imageops.TextMetrics | None = None
    base, scale = page.image, 1.0
    if on["normalize"] and small and ink is not None:  # before the first read: small inputs cost little more
        metrics = imageops.text_metrics(page.image, ink)
        if metrics is not None:
            base, scale = _normalize_small(page, metrics, tuning, info)
    candidates = _Page(engine, base, _scaled_dpi(page.dpi, scale), tuning, ink if base is page.image else None)
    first_psm = options.psm or DEFAULT_PSM
    # A page whose lines have a clear angle is read straightened first (the estimate costs little next to a
    # page's read); a small input's angle is measured only when it reads poorly.
    straighten_first = on["deskew"] and not small and abs(candidates.skew(0)) >= tuning.straighten_first_degrees
    best = candidates.read(Variant(deskew=straighten_first), first_psm, options.lang)
    # Every further step runs only when the reading so far is poor: clean inputs cost one read.
    if on["deskew"] and best.poor(tuning) and (straighten_first or candidates.skew(0)):
        other = candidates.read(Variant(deskew=not straighten_first), first_psm, options.lang)
        if tuning.same_text_replaces(other, best):  # the angle is verified, not trusted
            best = other
    if on["normalize"] and not small and best.poor(tuning):  # a page with small text: read it enlarged too
        ink = ink or imageops.ink_mask(page.image, imageops.SKEW_WORK_SIZE)
        metrics = imageops.text_metrics(page.image, ink)
        factor = _upscale_factor(page.image, metrics, tuning) if metrics is not None else 1.0
        if factor > 1.0:
            enlarged = _Page(engine, imageops.rescale(page.image, factor), _scaled_dpi(page.dpi, factor), tuning)
            enlarged.passes = candidates.passes
            reading = enlarged.read(Variant(deskew=best.variant.deskew), best.psm, best.lang)
            if tuning.replaces(reading, best):
                best, candidates, scale = reading, enlarged, factor
            else:
                candidates.passes = enlarged.passes
    if metrics is not None:
        info["text_height"] = round(metrics.text_height, 1)
    if on["auto_model"] and best.quality < tuning.model_confidence:
        alternate = alternate_lang(options.lang, tesseract.installed_models() if installed is None else installed)
        if alternate:
            reading = candidates.read(best.variant, best.psm, alternate)
            info["model_tried"] = alternate
            if tuning.replaces(reading, best):
                best = reading
    # A turned page still yields about as much text, only read badly; a page with no text at all is more
    # likely hidden by a dark border or an odd layout, so retry before turning it.
    order = ["orient", "retry"] if best.characters else ["retry", "orient"]
    for step in order:
        if best.poor(tuning) and on[step]:
            if step == "orient":
                best = _reorient(candidates, best, info, tuning)
            else:
                best = _retry(candidates, best, psm_fixed=options.psm is not None, tuning=tuning)
    skew = candidates.skew(best.variant.rotation) if best.variant.deskew else 0.0
    steps = [
        *([f"scale{scale:.2f}"] if scale > 1 else []),
        *([f"border{info['border']}"] if "border" in info else []),
        *([f"turn{best.variant.rotation}"] if best.variant.rotation else []),
        *(["borders"] if best.variant.clear_borders else []),
        *([f"deskew{skew:+.1f}"] if skew else []),
        *([f"psm{best.psm}"] if best.psm != first_psm else []),
        *([f"lang={best.lang}"] if best.lang != options.lang else []),
    ]
    info.update(
        {
            "rotation": best.variant.rotation,
            "deskew_angle": skew,
            "psm": best.psm,
            "lang": best.lang,
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
        dpi=_scaled_dpi(page.dpi, scale),
        text=recognition.text,
        hocr_page=recognition.hocr_page,
        tsv=recognition.tsv,
        confidence=recognition.mean_confidence,
        rotation=best.variant.rotation,
        info=info,
    )
    return output, best.image
