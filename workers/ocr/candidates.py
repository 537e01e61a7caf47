"""Candidate readings of a page and how one is judged better than another (`Tuning`).

A candidate reading replaces the kept one only when it is clearly more confident over a comparable amount
of text, or covers clearly more of the page's text-like ink at a comparable confidence (`Tuning.replaces`):
a longer reading of garbage cannot win by length (its unsure words cover nothing), and a re-segmented or
turned reading of noise cannot win by a point or two of confidence. A reading is poor when it is unsure or
covers too little of the page's text (workers/ocr/coverage.py). The steps that make candidates are in
workers/ocr/preprocess.py.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from PIL import Image

from workers.ocr import binarize, imageops, tsv, vote
from workers.ocr.coverage import TextInk
from workers.ocr.engines.base import OcrEngine, Orientation, Recognition, RecognizeOptions
from workers.ocr.geometry import Chain, Projective

MAX_SKEW_DEGREES = 10.0
# Upscaling never makes a page larger than this (pixels).
MAX_UPSCALED_PIXELS = 36_000_000


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
    # A small input enlarged before its first read (normalize) has its specks painted over first: blobs of at
    # most speck_area pixels with no ink within speck_clearance pixels (workers/ocr/binarize.py; 0: none).
    speck_area: int = 2
    speck_clearance: int = 5
    # ... and so is one under script_confidence whose script OSD names as the alternate model's (Fraktur); that
    # reading is kept unless less confident by script_margin (two models' confidences in the same letters are
    # not alike: docs/accuracy.md). A page at least script_confidence sure is not asked (OSD costs up to a
    # sixth of a dense page's read).
    script_confidence: float = 90.0
    script_margin: float = 15.0
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
    # A small input whose ink is at least this many text heights high and wide holds several lines (a slip, a
    # small page), not a word or a line: enlarged before its first read, it is read as it is too, and the
    # more confident reading kept (enlarging enlarges specks and grain, which then read as punctuation).
    several_lines: float = 5.0
    # A reading whose confident words cover less than this share of the page's text-like ink is poor,
    # whatever its confidence (workers/ocr/coverage.py; 0: coverage never makes a reading poor) ...
    poor_coverage: float = 0.6
    # ... and a candidate covering this much more of it replaces the kept reading when it is at most
    # coverage_slack points less confident (and at least min_confidence_for_empty; above 1: never).
    coverage_margin: float = 0.15
    coverage_slack: float = 5.0

    # A page still poor is also read with its background divided out (faded print, uneven light), as it is
    # segmented and as one block (retry).
    background_retry: bool = True
    # That reading, segmented as the kept one, replaces it when more confident by this much (and not longer
    # by more than max_length_ratio, nor covering clearly less): the same page with its contrast restored.
    background_margin: float = 3.0
    # A page's reading with its ruled cells read apart is kept unless less confident by this much.
    table_margin: float = 5.0
    # Ruled cells are read apart only when at most this share of the page's confidently read words lie on
    # the lines found (text is in a table's cells, not on its lines; 1.0: no check).
    table_words_on_rules: float = 0.1
    # A page of at least vote_min_lines lines still poor after every other step, or read less confidently than
    # vote_confidence, is read several ways more and their words combined by vote (workers/ocr/vote.py); that
    # reading is kept unless less confident by vote_margin, or covering less.
    vote: bool = True
    vote_confidence: float = 90.0
    # (A line's readings differ only in letters, which the two models' confidences do not weigh alike.)
    vote_min_lines: int = 3
    vote_margin: float = 5.0

    def table_replaces(self, candidate: Reading, kept: Reading) -> bool:
        """Whether the reading with ruled cells read apart replaces the page's reading: the same text laid out
        by the lines the page shows, so it need not be more confident, only not clearly less, nor covering
        clearly less of the page's text (and never much longer: a grid read as letters cannot win by length)."""
        return self._beats(candidate, kept, -self.table_margin, bound_length=True) and not self.covers_less(
            candidate, kept
        )

    @property
    def specks(self) -> tuple[int, int]:
        return self.speck_area, self.speck_clearance

    def upscale_factor(self, size: tuple[int, int], text_height: float) -> float:
        """How much to enlarge an image whose text is lower than min_text_height (1.0: not at all)."""
        if text_height >= self.min_text_height:
            return 1.0
        factor = min(self.target_text_height / max(text_height, 1.0), self.max_upscale)
        budget = (MAX_UPSCALED_PIXELS / (size[0] * size[1])) ** 0.5
        return max(1.0, min(factor, budget))

    def vote_replaces(self, candidate: Reading, kept: Reading) -> bool:
        """The words several readings of the kept reading's image agree on (workers/ocr/vote.py): the same
        image's text, each word seen by two readings at least, so it need not be more confident, only not
        clearly less, nor covering clearly less (and never much longer)."""
        return self._beats(candidate, kept, -self.vote_margin, bound_length=True) and not self.covers_less(
            candidate, kept
        )

    def script_replaces(self, candidate: Reading, kept: Reading) -> bool:
        """The model made for the script OSD names on the page (workers/ocr/page_options.py ALTERNATE_SCRIPTS):
        kept unless clearly less confident (script_margin), or much longer."""
        return self._beats(candidate, kept, -self.script_margin, bound_length=True)

    def background_replaces(self, candidate: Reading, kept: Reading) -> bool:
        """The page with its background divided out, segmented as the kept reading (workers/ocr/binarize.py)."""
        beats = self._beats(candidate, kept, self.background_margin, bound_length=True)
        return beats and not self.covers_less(candidate, kept)

    def covers_less(self, candidate: Reading, kept: Reading) -> bool:
        """Whether a candidate covers clearly less of the page's text than the kept reading."""
        if candidate.coverage is None or kept.coverage is None:
            return False
        return candidate.coverage <= kept.coverage - self.coverage_margin

    def replaces(self, candidate: Reading, kept: Reading) -> bool:
        """Whether a candidate reading is clearly better than the kept one: more confident by the margin,
        over a comparable amount of text (never by length alone)."""
        return self._beats(candidate, kept, self.margin, bound_length=True)

    def same_text_replaces(self, candidate: Reading, kept: Reading) -> bool:
        """Readings of the same image straightened or not: the same text, so more of it at no less
        confidence wins (by deskew_margin)."""
        return self._beats(candidate, kept, self.deskew_margin, bound_length=False)

    def flattened_replaces(self, candidate: Reading, kept: Reading, *, moved: bool) -> bool:
        """A photo's page flattened (workers/ocr/photo.py) against the photo as it is: clearly better as any
        candidate, or, where its lines were straightened (`moved`: perspective or dewarp), the same text at
        no less confidence (deskew_margin) and not covering clearly less (coverage_margin)."""
        if self.replaces(candidate, kept):
            return True
        if not moved or not self.same_text_replaces(candidate, kept):
            return False
        if candidate.coverage is None or kept.coverage is None:
            return True
        return candidate.coverage > kept.coverage - self.coverage_margin

    def covers_more(self, candidate: Reading, kept: Reading) -> bool:
        """Whether a candidate covers clearly more of the page's text at a comparable, sane confidence."""
        if candidate.coverage is None or kept.coverage is None or not candidate.characters:
            return False
        return (
            candidate.coverage >= kept.coverage + self.coverage_margin
            and candidate.quality >= kept.quality - self.coverage_slack
            and candidate.quality >= self.min_confidence_for_empty
        )

    def _beats(self, candidate: Reading, kept: Reading, margin: float, *, bound_length: bool) -> bool:
        if candidate.characters == 0:
            return False
        if self.covers_more(candidate, kept):
            return True
        if kept.characters == 0:
            return candidate.quality >= self.min_confidence_for_empty
        if bound_length and candidate.characters > kept.characters * self.max_length_ratio + self.length_slack:
            return False
        return candidate.quality >= kept.quality + margin


DEFAULT_TUNING = Tuning()


@dataclass(frozen=True)
class Variant:
    """How a page image is prepared: a quarter turn (degrees clockwise), dark borders whitened, deskewed,
    its background divided out (faded print, uneven light: workers/ocr/binarize.py)."""

    rotation: int = 0
    clear_borders: bool = False
    deskew: bool = False
    flat_background: bool = False


@dataclass
class Reading:
    """One recognition pass and how it was made."""

    variant: Variant
    image: Image.Image
    recognition: Recognition
    psm: int
    lang: str
    chain: Chain  # from the page as loaded to `image`: the recognition's boxes map back through it
    text: TextInk | None = None  # the page's text-like ink (as loaded), when measured
    quality: float = field(init=False)
    characters: int = field(init=False)
    coverage: float | None = field(init=False)  # share of the text-like ink under confident words

    def __post_init__(self) -> None:
        self.quality, self.characters = word_quality(self.recognition.tsv)
        self.coverage = self.text.covered(self.recognition.tsv, self.chain) if self.text is not None else None

    def poor(self, tuning: Tuning) -> bool:
        """Unsure, empty, or covering too little of the page's text (whatever its confidence)."""
        if self.characters == 0 or self.quality < tuning.poor_confidence:
            return True
        return self.coverage is not None and self.coverage < tuning.poor_coverage


def word_quality(page_tsv: str) -> tuple[float, int]:
    """Character-weighted mean confidence of the words that have a letter or digit, and their length.

    Computed from TSV for every engine alike (Tesseract's own mean reports 95 for an empty page).
    """
    weighted = 0.0
    characters = 0
    for text, conf in tsv.words(page_tsv):
        if any(ch.isalnum() for ch in text):
            weighted += max(conf, 0.0) * len(text)
            characters += len(text)
    return (weighted / characters if characters else 0.0), characters


class CandidatePage:
    """One page's candidate readings; each prepared image is made once and reused. `to_base` is how the base
    image was made from the page as loaded (enlarged, bordered), each variant's image adds its own steps."""

    def __init__(
        self,
        engine: OcrEngine,
        base: Image.Image,
        dpi: int | None,
        tuning: Tuning,
        ink: imageops.Ink | None = None,
        to_base: Chain | None = None,
        text: TextInk | None = None,
    ) -> None:
        self.engine = engine
        self.base = base
        self.to_base = to_base or Chain()
        self.ink = ink  # the base image's ink mask, when already made
        self.text = text  # the text-like ink of the page as loaded: each reading's coverage
        self.dpi = dpi
        self.tuning = tuning
        self.border_fraction: dict[Variant, float] = {}
        self._skew: dict[int, float] = {}
        self._images: dict[Variant, tuple[Image.Image, Chain]] = {}
        self._readings: dict[tuple[Variant, int, str], Reading] = {}
        self._orientations: list[tuple[Image.Image, Orientation | None]] = []
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
        return self.prepared(variant)[0]

    def orientation(self, image: Image.Image) -> Orientation | None:
        """OSD's answer for an image of this page, asked once (the Fraktur check and orient ask of the same one)."""
        for seen, answer in self._orientations:
            if seen is image:
                return answer
        answer = self.engine.detect_orientation(image, self.dpi)
        self._orientations.append((image, answer))
        return answer

    def prepared(self, variant: Variant) -> tuple[Image.Image, Chain]:
        """The variant's image and the chain from the page as loaded to it."""
        if variant not in self._images:
            image = imageops.turn_clockwise(self.base, variant.rotation)
            chain = self.to_base.then(Projective.quarter_turn(variant.rotation, self.base.size))
            if variant.flat_background:  # changes pixels, moves none
                image = binarize.flatten_background(image)
            if variant.clear_borders:  # whitens pixels, moves none
                image, self.border_fraction[variant] = imageops.clear_dark_borders(image)
            if variant.deskew and self.skew(variant.rotation):
                chain = chain.then(Projective.rotation(self.skew(variant.rotation), image.size))
                image = imageops.rotate_degrees(image, self.skew(variant.rotation))
            self._images[variant] = (image, chain)
        return self._images[variant]

    def voted(self, kept: Reading, langs: list[str], psms: list[int]) -> tuple[Reading, int]:
        """The kept reading's image (of this page) read with each of `langs` and `psms`, its background divided
        out and not, and the words these readings agree on (workers/ocr/vote.py); and how many readings."""
        flats = (kept.variant.flat_background, not kept.variant.flat_background)
        variants = [replace(kept.variant, flat_background=flat) for flat in flats]
        readings = [self.read(v, psm, lang) for lang in langs for v in variants for psm in psms]
        combined = vote.combine([r.recognition for r in readings], kept.recognition, kept.image.size, self.dpi)
        return Reading(kept.variant, kept.image, combined, kept.psm, kept.lang, kept.chain, kept.text), len(readings)

    def has_dark_borders(self, variant: Variant) -> bool:
        cleared = replace(variant, clear_borders=True)
        self.image(cleared)
        return self.border_fraction[cleared] > 0

    def read(self, variant: Variant, psm: int, lang: str) -> Reading:
        """The variant's image read with `psm` and `lang` (once: a later step asking for it again gets it)."""
        key = (variant, psm, lang)
        if key not in self._readings:
            image, chain = self.prepared(variant)
            self.passes += 1
            recognition = self.engine.recognize(image, RecognizeOptions(lang=lang, psm=psm, dpi=self.dpi))
            self._readings[key] = Reading(variant, image, recognition, psm, lang, chain, self.text)
        return self._readings[key]


def pick(kept: Reading, candidates: list[Reading], tuning: Tuning) -> Reading:
    """The most confident candidate that clearly beats the kept reading (each judged against it), or it."""
    passing = [c for c in candidates if tuning.replaces(c, kept)]
    return max(passing, key=lambda c: c.quality) if passing else kept
