"""Page preprocessing around recognition: small inputs, deskew, language model, orientation and retries.

EXIF orientation is applied when the page is loaded. Every choice here is made from general signals of the
image (its size, text height, line angles) or of the engine's own output (word confidences over comparable
amounts of text, OSD), never from the file's name or type, and never tuned to particular files
(docs/accuracy.md: leave-one-source-out over the corpus, and the synthetic sets of bench/).

The steps, each behind its switch (docs/accuracy.md has them in full, with how they were checked):
normalize (small inputs despeckled, scaled and bordered before the first read; a small slip of several lines
read as it is too; small text on a page that reads poorly read enlarged), deskew (a clear angle read straightened,
verified against the page as it is when poor), flatten (a photo's page found and flattened:
workers/ocr/photo.py), tables (a form's checkboxes whitened: workers/ocr/forms.py; ruled cells read apart:
workers/ocr/tables.py), auto_model (the Fraktur model for German), orient (OSD's quarter turn), retry (one
uniform block, dark borders whitened, the background divided out: workers/ocr/binarize.py; then the vote:
workers/ocr/vote.py).

Every step after the first read runs only when the reading so far is poor (mean word confidence under
`poor_confidence`, empty, or covering less than `poor_coverage` of the page's text-like ink:
workers/ocr/coverage.py), except the checks that cost no read unless they find something (a camera's photo,
ruled cells, checkboxes), and the Fraktur check and the vote, which also run for readings that are merely
mediocre (`model_confidence`, `vote_confidence`). A candidate reading replaces the kept one only when it is
clearly better (`Tuning`, workers/ocr/candidates.py, with the thresholds).

The switches come complete with each page; the Celery edge fills a job's missing ones (workers/steps.py).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace

from PIL import Image

from workers.ocr import binarize, coverage, forms, fraktur, imageops, photo, tables, tesseract, tsv
from workers.ocr.candidates import DEFAULT_TUNING, CandidatePage, Reading, Tuning, Variant, pick
from workers.ocr.engines.base import OcrEngine, RecognizeOptions
from workers.ocr.geometry import Chain, Projective
from workers.ocr.onpage import on_page
from workers.ocr.outputs.page import PageOutput
from workers.ocr.page_options import Notes, PageOptions, Switches, alternate_lang, alternate_scripts, second_lang
from workers.ocr.pages import PageImage

__all__ = [
    "DEFAULT_TUNING",
    "PageOptions",
    "PageReading",
    "Switches",
    "Tuning",
    "read_page",
    "recognize_page",
]

UNIFORM_BLOCK_PSM = 6
DEFAULT_PSM = 3


def _scaled_dpi(dpi: int | None, scale: float) -> int | None:
    return round(dpi * scale) if dpi else None


class _PageReader:
    """The steps of reading one page, in order; each runs only when its switch is on and the reading so far
    calls for it. `best` is the kept reading, `candidates` the page (scaled as read) it came from."""

    def __init__(self, engine: OcrEngine, page: PageImage, options: PageOptions, tuning: Tuning) -> None:
        self.engine, self.page, self.options, self.tuning = fraktur.LigatureMending(engine), page, options, tuning
        self.on = options.switches
        self.notes = Notes(exif_rotated=page.exif_rotated)
        self.small = min(page.image.size) < tuning.small_side
        self.first_psm = options.psm or DEFAULT_PSM
        # The page's ink mask, made once: a small input's text height, a page's skew estimate (made for every
        # page with deskew on) and, if the page reads poorly, its text height all come from it.
        needs_ink = self.on.normalize if self.small else self.on.deskew
        self.ink = imageops.ink_mask(page.image, imageops.SKEW_WORK_SIZE) if needs_ink else None
        # The page's text-like ink, once: every reading's coverage (none with every step off: nothing asks).
        self.text = coverage.text_ink(page.image) if any(vars(self.on).values()) else None
        self.metrics: imageops.TextMetrics | None = None
        self.scale = 1.0
        self.photo_steps: list[str] = []  # how the kept reading's photo was flattened
        self.candidates = self._base()
        self.best = self._first_reading()
        self.table: Reading | None = None  # the reading with ruled cells read apart, when there was one
        self.unchecked: Reading | None = None  # the reading with a form's checkboxes whitened, when kept
        self.voted: Reading | None = None  # the readings' words combined by vote, when kept
        self.work: tuple[Image.Image, tables.WorkInk] | None = None  # _work_ink's last image and its work copy

    def _base(self) -> CandidatePage:
        """The page as first read: a small input with low text enlarged and bordered (normalize)."""
        image, chain = self.page.image, Chain()
        if self.on.normalize and self.small and self.ink is not None:  # small inputs cost little more
            self.metrics = imageops.text_metrics(image, self.ink)
            if self.metrics is not None:
                image, chain = self._normalize_small(self.metrics)
        ink = self.ink if image is self.page.image else None
        dpi = _scaled_dpi(self.page.dpi, self.scale)
        return CandidatePage(self.engine, image, dpi, self.tuning, ink, to_base=chain, text=self.text)

    def _normalize_small(self, metrics: imageops.TextMetrics) -> tuple[Image.Image, Chain]:
        """A small input (a word or a line cut from a page): text scaled up to a working height and a white
        border where the ink comes close to an edge."""
        image, chain = self.page.image, Chain()
        self.scale = self.tuning.upscale_factor(image.size, metrics.text_height)
        if self.scale > 1.0:
            image, self.notes.specks = binarize.despeckle(image, *self.tuning.specks)
            image = imageops.rescale(image, self.scale)
            chain = chain.then(Projective.resize(self.page.image.size, image.size))
        if metrics.margin * self.scale < self.tuning.border:
            image = imageops.add_border(image, self.tuning.border)
            chain = chain.then(Projective.offset(self.tuning.border, self.tuning.border))
            self.notes.border = self.tuning.border
        return image, chain

    def _first_reading(self) -> Reading:
        # A page whose lines have a clear angle is read straightened first (the estimate costs little next to
        # a page's read); a small input's angle is measured only when it reads poorly.
        straighten = (
            self.on.deskew and not self.small and abs(self.candidates.skew(0)) >= self.tuning.straighten_first_degrees
        )
        return self.candidates.read(Variant(deskew=straighten), self.first_psm, self.options.lang)

    def poor(self) -> bool:
        return self.best.poor(self.tuning)

    def verify_scale(self) -> None:
        """A small input of several lines (a slip, a small page) that was enlarged before its first read is read
        as it is too, and the more confident reading kept: the same text at another scale (enlarging also
        enlarges specks and grain, which then read as punctuation glued to the words)."""
        metrics, several = self.metrics, self.tuning.several_lines
        if metrics is None or self.scale <= 1.0:
            return
        if min(metrics.ink_height, metrics.ink_width) < several * metrics.text_height:
            return
        as_is = CandidatePage(self.engine, self.page.image, self.page.dpi, self.tuning, self.ink, text=self.text)
        as_is.passes = self.candidates.passes
        reading = as_is.read(Variant(), self.first_psm, self.options.lang)
        if self.tuning.same_text_replaces(reading, self.best):
            self.best, self.candidates, self.scale, self.notes.border = reading, as_is, 1.0, None
        else:
            self.candidates.passes = as_is.passes

    def flatten_photo(self) -> None:
        """A photo (camera EXIF tags), or a page that reads poorly and looks like a photo: the page found and
        flattened (photo.py) and read; kept when clearly better, or as good with straight lines
        (Tuning.flattened_replaces). Scans without camera tags that read well pay nothing for the check."""
        if not (self.on.flatten and not self.small and (self.page.camera or self.poor())):
            return
        if self.text is None:
            return
        self.notes.photo = photo.photo_signs(self.page.image, self.page.camera, self.text)
        if not self.notes.photo:
            return
        flat = photo.flatten(self.page.image, self.text)
        page = CandidatePage(self.engine, flat.image, self.page.dpi, self.tuning, to_base=flat.chain, text=self.text)
        page.passes = self.candidates.passes
        reading = page.read(Variant(), self.first_psm, self.options.lang)
        if self.tuning.flattened_replaces(reading, self.best, moved=not flat.chain.is_identity):
            self.best, self.candidates, self.photo_steps = reading, page, flat.steps
        else:
            self.candidates.passes = page.passes

    def verify_deskew(self) -> None:
        """A poor reading is read with the other choice of straightening too (the angle is verified, not
        trusted), the one with more text at no less confidence kept."""
        straightened = self.best.variant.deskew
        if not (self.on.deskew and self.poor() and (straightened or self.candidates.skew(0))):
            return
        other = self.candidates.read(Variant(deskew=not straightened), self.first_psm, self.options.lang)
        if self.tuning.same_text_replaces(other, self.best):
            self.best = other

    def _work_ink(self, image: Image.Image) -> tables.WorkInk:
        if self.work is None or self.work[0] is not image:  # the detectors' work copy, made once per image
            self.work = (image, tables.work_ink(image))
        return self.work[1]

    def clear_checkboxes(self) -> None:
        """A form's checkboxes (workers/ocr/forms.py) are whitened and the page read again as segmented, so that
        their labels read as words; kept when as confident and covering as much (the same text without boxes
        read as letters)."""
        if not self.on.tables:
            return
        best = self.best
        boxes = forms.find_checkboxes(best.image, self._work_ink(best.image))
        if not boxes:
            return
        self.notes.checkboxes = (len(boxes), sum(box.checked for box in boxes))
        image = forms.whitened(best.image, boxes)
        self.candidates.passes += 1
        options = RecognizeOptions(lang=best.lang, psm=best.psm, dpi=self.candidates.dpi)
        recognition = self.engine.recognize(image, options)
        reading = Reading(best.variant, image, recognition, best.psm, best.lang, best.chain, best.text)
        if self.tuning.same_text_replaces(reading, best) and not self.tuning.covers_less(reading, best):
            self.best = self.unchecked = reading

    def read_tables(self) -> None:
        """A page with ruled cells (a table, a form's boxes) is read with its cells apart, rows in order
        (workers/ocr/tables.py); kept unless clearly less confident or covering less (Tuning.table_replaces)."""
        if not self.on.tables:
            return
        best, work = self.best, self._work_ink(self.best.image)
        found = tables.table_reading(self.engine, best, self.candidates.dpi, self.tuning.table_words_on_rules, work)
        if found is not None:
            reading, self.notes.table_cells = found
            self.candidates.passes += 1
            if self.tuning.table_replaces(reading, self.best):
                self.best = self.table = reading

    def enlarge_small_text(self) -> None:
        """A page (not a small input) with small text that reads poorly is read enlarged too."""
        if not (self.on.normalize and not self.small and self.poor()):
            return
        image = self.page.image
        ink = self.ink or imageops.ink_mask(image, imageops.SKEW_WORK_SIZE)
        self.metrics = imageops.text_metrics(image, ink)
        factor = self.tuning.upscale_factor(image.size, self.metrics.text_height) if self.metrics is not None else 1.0
        if factor <= 1.0:
            return
        dpi = _scaled_dpi(self.page.dpi, factor)
        scaled = imageops.rescale(image, factor)
        to_scaled = Chain().then(Projective.resize(image.size, scaled.size))
        enlarged = CandidatePage(self.engine, scaled, dpi, self.tuning, to_base=to_scaled, text=self.text)
        enlarged.passes = self.candidates.passes
        reading = enlarged.read(Variant(deskew=self.best.variant.deskew), self.best.psm, self.best.lang)
        if self.tuning.replaces(reading, self.best):
            self.best, self.candidates, self.scale = reading, enlarged, factor
        else:
            self.candidates.passes = enlarged.passes

    def try_alternate_model(self, installed: frozenset[str] | None) -> None:
        """A reading less confident than model_confidence, or than script_confidence and of a script OSD names as
        the alternate model's (deu: frk, Fraktur), is read with that model too; kept by the margin, or by
        script_margin."""
        models = tesseract.installed_models() if installed is None else installed
        alternate = alternate_lang(self.options.lang, models) if self.on.auto_model else None
        if not alternate or self.best.quality >= self.tuning.script_confidence:
            return
        osd = self.candidates.orientation(self.best.image)
        self.notes.script = osd.script if osd is not None else None
        script = self.notes.script in alternate_scripts(alternate)
        if self.best.quality < self.tuning.model_confidence or script:
            reading = self.candidates.read(self.best.variant, self.best.psm, alternate)
            self.notes.model_tried = alternate
            keeps = self.tuning.script_replaces if script else self.tuning.replaces
            if keeps(reading, self.best):
                self.best = reading

    def reorient(self) -> None:
        """Try the quarter turn OSD is confident of; where OSD has too little text, the plausible turns."""
        page, best = self.candidates, self.best
        osd = page.orientation(page.image(replace(best.variant, rotation=0)))
        self.notes.osd_ran, self.notes.osd = True, osd
        if osd is not None:
            if osd.rotate % 360 == 0 or osd.confidence < self.tuning.osd_min_confidence:
                return
            turns = [osd.rotate % 360]
        else:
            turns = [180, 90, 270] if imageops.ink_runs_vertically(page.base) else [180]
        readings = [page.read(replace(best.variant, rotation=r), best.psm, best.lang) for r in turns]
        self.best = pick(best, readings, self.tuning)

    def retry(self) -> None:
        """Read again as one uniform block, with and without dark borders, and keep a clearly better reading;
        then that reading's page with its background divided out (faded print, uneven light), as segmented
        and as one block."""
        page, best = self.candidates, self.best
        psm = best.psm if self.options.psm is not None else UNIFORM_BLOCK_PSM
        tries = [(replace(best.variant, clear_borders=False), psm)]
        if page.has_dark_borders(best.variant):
            tries.append((replace(best.variant, clear_borders=True), psm))
        tries = list(dict.fromkeys(t for t in tries if t != (best.variant, best.psm)))
        best = pick(best, [page.read(v, p, best.lang) for v, p in tries], self.tuning)
        if self.tuning.background_retry and not best.variant.flat_background:
            # The kept reading's page with its background divided out: pixels changed, none moved; as segmented
            # (kept by a smaller margin: Tuning.background_replaces) and as one block (as any candidate). Judged
            # after the block and border readings, so that it never stands in for a clearly better one of them.
            flat = replace(best.variant, flat_background=True)
            same = page.read(flat, best.psm, best.lang)
            if self.tuning.background_replaces(same, best):
                best = same
            best = pick(best, [page.read(flat, psm, best.lang)] if psm != best.psm else [], self.tuning)
        self.best = best

    def vote(self, installed: frozenset[str] | None) -> None:
        """A page still poor, or less confident than vote_confidence, after every other step: its readings
        combined by vote (CandidatePage.voted); kept unless clearly less confident or covering less."""
        best, unsure = self.best, self.poor() or self.best.quality < self.tuning.vote_confidence
        if not (self.on.retry and self.tuning.vote and unsure) or best is self.table or best is self.unchecked:
            return
        if tsv.line_count(best.recognition.tsv) < self.tuning.vote_min_lines:
            return
        models = tesseract.installed_models() if installed is None else installed
        langs = [best.lang, *filter(None, [second_lang(best.lang, models)])]
        psms = [best.psm] if self.options.psm is not None else list(dict.fromkeys([best.psm, UNIFORM_BLOCK_PSM]))
        voted, self.notes.voted = self.candidates.voted(best, langs, psms)
        if self.tuning.vote_replaces(voted, best):
            self.best = self.voted = voted

    def last_resorts(self) -> None:
        """Orientation and retries for a page still poor. A turned page still yields about as much text, only
        read badly; a page with no text at all is more likely hidden by a dark border or an odd layout, so it
        is retried before it is turned."""
        steps = [(self.on.orient, self.reorient), (self.on.retry, self.retry)]
        for on, step in steps if self.best.characters else reversed(steps):
            if on and self.poor():
                step()

    def steps(self, skew: float) -> list[str]:
        """What was done to the page for the kept reading, in order (the JSON's preprocessing.steps)."""
        best = self.best
        return [
            *(f"photo-{step}" for step in self.photo_steps),
            *([f"specks{self.notes.specks}"] if self.notes.specks and self.scale > 1 else []),
            *([f"scale{self.scale:.2f}"] if self.scale > 1 else []),
            *([f"checkboxes{self.notes.checkboxes[0]}"] if self.unchecked and self.notes.checkboxes else []),
            *([f"cells{self.notes.table_cells}"] if best is self.table else []),
            *([f"vote{self.notes.voted}"] if best is self.voted else []),
            *([f"border{self.notes.border}"] if self.notes.border is not None else []),
            *([f"turn{best.variant.rotation}"] if best.variant.rotation else []),
            *(["borders"] if best.variant.clear_borders else []),
            *(["background"] if best.variant.flat_background else []),
            *([f"deskew{skew:+.1f}"] if skew else []),
            *([f"psm{best.psm}"] if best.psm != self.first_psm else []),
            *([f"lang={best.lang}"] if best.lang != self.options.lang else []),
        ]

    def output(self, page_no: int, started: float) -> PageOutput:
        best = self.best
        if self.metrics is not None:
            self.notes.text_height = self.metrics.text_height
        skew = self.candidates.skew(best.variant.rotation) if best.variant.deskew else 0.0
        info = {
            **self.notes.info(),
            "rotation": best.variant.rotation,
            "deskew_angle": skew,
            "psm": best.psm,
            "lang": best.lang,
            "steps": self.steps(skew),
            "passes": self.candidates.passes,
            "coverage": None if best.coverage is None else round(best.coverage, 3),
            "page_ms": round((time.perf_counter() - started) * 1000),
        }
        recognition = best.recognition
        return PageOutput(
            page=page_no,
            width=best.image.width,
            height=best.image.height,
            dpi=_scaled_dpi(self.page.dpi, self.scale),
            text=recognition.text,
            hocr_page=recognition.hocr_page,
            tsv=recognition.tsv,
            confidence=recognition.mean_confidence,
            rotation=best.variant.rotation,
            info=info,
        )


@dataclass(frozen=True)
class PageReading:
    """The kept reading of a page: its outputs, the image as the engine read it (scaled, turned, deskewed),
    to which the output's word boxes refer, and the chain from the page as loaded to that image."""

    output: PageOutput
    image: Image.Image
    chain: Chain

    def on_page(self, page: PageImage) -> PageOutput:
        """The outputs with every box on `page`'s own pixel grid, where the formats describe them."""
        return on_page(self.output, self.chain, page.image.size, page.dpi)


def read_page(
    engine: OcrEngine,
    page_no: int,
    page: PageImage,
    options: PageOptions,
    tuning: Tuning = DEFAULT_TUNING,
    installed: frozenset[str] | None = None,
) -> PageReading:
    """The page's kept reading. `installed`: the models the auto_model step may use (default: those installed).

    Every step after the first read runs only when the reading so far is poor: clean inputs cost one read."""
    started = time.perf_counter()
    reader = _PageReader(engine, page, options, tuning)
    reader.verify_scale()
    reader.flatten_photo()
    reader.verify_deskew()
    reader.clear_checkboxes()
    reader.read_tables()
    reader.enlarge_small_text()
    reader.try_alternate_model(installed)
    reader.last_resorts()
    reader.vote(installed)
    return PageReading(reader.output(page_no, started), reader.best.image, reader.best.chain)


def recognize_page(
    engine: OcrEngine, page_no: int, page: PageImage, options: PageOptions, tuning: Tuning = DEFAULT_TUNING
) -> PageOutput:
    """The page's kept reading with its boxes on the page's own grid (workers/ocr/onpage.py)."""
    return read_page(engine, page_no, page, options, tuning).on_page(page)
