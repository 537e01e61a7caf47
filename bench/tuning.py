"""Leave-one-source-out and leave-one-family-out check of the pipeline's thresholds (workers/ocr/candidates.py
`Tuning`).

Four grids: `GRID` (confidence, margins, text height, the Fraktur check, coverage), `DOCS_GRID` (the receipt
and table rules), `VOTE_GRID` (the vote) and `SPECKS_GRID` (a small input's specks, the Fraktur script rule),
each scored over every file with the other grids' thresholds at their defaults. For every
corpus source (the repository a file came from; SROIE counted as two sources by its manifest split, the 7
`public` receipts and the 24 `receipts`), the grid point with the lowest mean score on the other sources is
chosen and the held-out source is scored with it: a rule that only helps the files it was chosen on shows up
as a worse held-out score. The synthetic sets (bench/synthetic.py: clean, small, rotated, skewed, jpeg,
noise, borders and the five photo families; bench/synthetic_docs.py: three receipt, three table and two form
families) are scored the same way, one family held out at a time, and never used to choose the corpus's.

The score is the caseless CER, and the caseless word-bag error (missed plus added words) where the ground
truth is unordered (receipts, the synthetic tables and forms); the share of ground-truth words missed (the
corpus README's receipt measure) is reported beside it, never chosen by (adding words costs it nothing).

Recognitions are remembered by image and options, on disk (bench/recognitions.py), so the grid costs little
more than the distinct readings it needs, and a rerun after a change only what changed.

    .venv/bin/python -m bench.tuning --jobs 2 --no-plain --markdown docs/accuracy.md
    .venv/bin/python -m bench.tuning --no-synthetic --grid docs --only sroie
"""

from __future__ import annotations

import argparse
import csv
import itertools
import os
import sys
import tempfile
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any

from bench.accuracy import (
    DEFAULT_CORPUS,
    Sample,
    load_samples,
    media_type,
    pipeline_options,
    plain_text,
    switches_off,
    write_markdown,
)
from bench.recognitions import DEFAULT_CACHE, CachingEngine, Memo

# The grids: every combination is scored on every file. Values around the defaults, wide enough that a
# different choice would show.
GRID: dict[str, list[Any]] = {
    "poor_confidence": [60.0, 70.0, 80.0],
    "margin": [3.0, 8.0, 15.0],
    "min_text_height": [0, 20],
    "model_confidence": [70.0, 85.0],
    # coverage (workers/ocr/coverage.py): 0 / 2.0 switch its use off
    "poor_coverage": [0.0, 0.45, 0.6],
    "coverage_margin": [0.15, 2.0],
}
# The receipt and table rules: how much less confident a reading with ruled cells apart may be and still be
# kept; whether a grid whose lines run through the page's read words is refused (1.0: never); whether a poor
# page is read with its background divided out; from which angle and profile strength a skew is clear
# (slightly turned receipts); from how many text heights a small input holds several lines and is read as it
# is too (1000: never).
DOCS_GRID: dict[str, list[Any]] = {
    "table_margin": [0.0, 5.0],
    "table_words_on_rules": [0.1, 1.0],
    "background_retry": [False, True],
    "min_skew_degrees": [0.2, 0.4],
    "min_skew_strength": [1.2, 2.0],
    "several_lines": [5.0, 1000.0],
}
# The vote (workers/ocr/vote.py): whether a page's readings are combined at all, and below which confidence a
# page that is not poor is voted too (70: only poor pages, as every other step).
VOTE_GRID: dict[str, list[Any]] = {
    "vote": [False, True],
    "vote_confidence": [70.0, 80.0, 85.0, 90.0],
    "vote_min_lines": [1, 3],
}
# A small input's specks painted over before it is enlarged (0: never), and how far from other ink a speck must
# lie; how much less confident the Fraktur model's reading of a page OSD calls Fraktur may be and still be kept
# (0: as confident, the plain margin's rule but for 8 points).
SPECKS_GRID: dict[str, list[Any]] = {
    "speck_area": [0, 2, 3],
    "speck_clearance": [3, 5],
    "script_margin": [0.0, 8.0, 15.0],
}
GRIDS = {"main": GRID, "docs": DOCS_GRID, "vote": VOTE_GRID, "specks": SPECKS_GRID}


@dataclass
class Scored:
    """One file's readings: the distinct texts, which of them each grid point gave, and its passes."""

    sample: Sample
    source: str
    texts: list[str]
    reading: dict[tuple[str, int], int]  # (grid, point index) -> index into texts
    passes: dict[tuple[str, int], int]
    off: int  # every switch off: one plain read
    plain: str | None  # the tesseract program's text (None: not run)


def grid_points(grid: dict[str, list[Any]] | None = None) -> list[dict[str, Any]]:
    grid = GRID if grid is None else grid
    names = list(grid)
    return [dict(zip(names, values, strict=True)) for values in itertools.product(*grid.values())]


def default_index(grid: dict[str, list[Any]]) -> int:
    from workers.ocr.candidates import DEFAULT_TUNING

    defaults = {f.name: getattr(DEFAULT_TUNING, f.name) for f in fields(DEFAULT_TUNING) if f.name in grid}
    return grid_points(grid).index(defaults)


def score_sample(
    sample: Sample, source: str, grids: dict[str, dict[str, list[Any]]], with_plain: bool, cache: Path | None
) -> Scored:
    from workers.ocr.candidates import DEFAULT_TUNING
    from workers.ocr.engines import get_engine
    from workers.ocr.pages import count_pages, load_page
    from workers.ocr.preprocess import recognize_page
    from workers.settings import get_worker_settings

    settings = get_worker_settings()
    engine = CachingEngine(get_engine(), cache)
    Memo.install()
    kind = media_type(sample.path)
    total = count_pages(sample.path, kind, settings.max_pixels_per_page)
    page_images = [
        load_page(
            sample.path, kind, n, dpi=None, render_dpi=settings.default_dpi, max_pixels=settings.max_pixels_per_page
        )
        for n in range(1, total + 1)
    ]
    texts: dict[str, int] = {}

    def run(tuning: Any, extra: dict[str, Any]) -> tuple[int, int]:
        pages, passes = [], 0
        for n, page in enumerate(page_images, 1):
            output = recognize_page(engine, n, page, pipeline_options(sample.lang, extra), tuning)  # type: ignore[arg-type]
            pages.append(output.text)
            passes += int(output.info.get("passes", 1))
        return texts.setdefault("\n".join(pages), len(texts)), passes

    reading, passes = {}, {}
    for name, grid in grids.items():
        for index, point in enumerate(grid_points(grid)):
            reading[name, index], passes[name, index] = run(replace(DEFAULT_TUNING, **point), {})
    off, _ = run(DEFAULT_TUNING, switches_off())
    plain = plain_text(sample) if with_plain else None
    return Scored(sample, source, list(texts), reading, passes, off, plain)


def corpus_samples(corpus: Path) -> list[tuple[Sample, str]]:
    """The corpus's files with usable ground truth and their source: the repository, SROIE by manifest split."""
    with (corpus / "manifest.tsv").open(encoding="utf-8", newline="") as fh:
        rows = {row["local_name"]: row for row in csv.DictReader(fh, delimiter="\t")}

    def source(sample: Sample) -> str:
        row = rows[sample.name]
        return f"{row['source_repo']} ({row['split']})" if sample.kind == "receipt" else row["source_repo"]

    return [(s, source(s)) for s in load_samples(corpus, [])]


def synthetic_samples(folder: Path) -> list[tuple[Sample, str]]:
    """bench/synthetic.py's set (photos included) and bench/synthetic_docs.py's, each file with its family;
    a synthetic file's kind is its family."""
    from bench.accuracy import synthetic_set

    samples = synthetic_set(folder, [])
    return [(s, s.kind if s.kind not in ("page", "line", "word") else _family(s.name)) for s in samples]


def _family(name: str) -> str:
    """The family in a synthetic file's name (syn_012_skewed_page.png: skewed)."""
    return name.split("_")[2]


def main(argv: list[str] | None = None) -> int:
    from bench.tuning_report import report

    parser = argparse.ArgumentParser(prog="python -m bench.tuning", description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    parser.add_argument("--no-corpus", action="store_true", help="only the synthetic sets")
    parser.add_argument("--no-synthetic", action="store_true", help="only the corpus")
    parser.add_argument("--no-plain", action="store_true", help="skip the tesseract program (faster)")
    parser.add_argument("--grid", choices=[*GRIDS, "all"], default="all", help="which grid to score (default: both)")
    parser.add_argument("--only", action="append", default=[], help="keep files whose name contains this")
    parser.add_argument("--cache", type=Path, default=DEFAULT_CACHE, help="folder of remembered recognitions")
    parser.add_argument("--no-cache", action="store_true", help="remember recognitions in memory only")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    parser.add_argument(
        "--markdown", type=Path, help="also write the report between the bench:tuning (and docs-tuning) markers"
    )
    args = parser.parse_args(argv)

    grids = GRIDS if args.grid == "all" else {args.grid: GRIDS[args.grid]}
    cache = None if args.no_cache else args.cache.resolve()
    Path(".bench").mkdir(exist_ok=True)
    sets: list[tuple[str, list[tuple[Sample, str]]]] = []
    with tempfile.TemporaryDirectory(prefix="synthetic-", dir=Path(".bench").resolve()) as tmp:
        if not args.no_corpus:
            sets.append(("Corpus, one source held out at a time", corpus_samples(args.corpus)))
        if not args.no_synthetic:
            sets.append(("Synthetic sets, one family held out at a time", synthetic_samples(Path(tmp))))
        sets = [
            (title, [(s, src) for s, src in chosen if not args.only or any(o in s.name for o in args.only)])
            for title, chosen in sets
        ]
        scored: list[tuple[str, list[Scored]]] = []
        with ProcessPoolExecutor(max_workers=max(1, args.jobs)) as pool:
            for title, samples in sets:
                futures = [pool.submit(score_sample, s, src, grids, not args.no_plain, cache) for s, src in samples]
                scored.append((title, [f.result() for f in futures]))
    sections = {name: report(grid_name, grid, scored) for grid_name, grid in grids.items() for name in [grid_name]}
    for text in sections.values():
        print(text, "\n", flush=True)
    if args.markdown:
        command = " ".join(["python -m bench.tuning", *(argv if argv is not None else sys.argv[1:])])
        markers = {"main": ("<!-- bench:tuning start -->", "<!-- bench:tuning end -->")}
        markers["docs"] = ("<!-- bench:docs-tuning start -->", "<!-- bench:docs-tuning end -->")
        markers["vote"] = ("<!-- bench:vote-tuning start -->", "<!-- bench:vote-tuning end -->")
        markers["specks"] = ("<!-- bench:specks-tuning start -->", "<!-- bench:specks-tuning end -->")
        for name, text in sections.items():
            write_markdown(args.markdown, command, text, markers=markers[name])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
