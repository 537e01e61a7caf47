"""Leave-one-source-out check of the preprocessing thresholds (workers/ocr/preprocess.py `Tuning`).

For every corpus source (the repository a file came from), the thresholds are chosen on the other sources
(the grid point with the lowest mean CER there) and the held-out source is scored with them: a rule that
only helps the files it was chosen on shows up as a worse held-out score. The synthetic set
(bench/synthetic.py, families clean, small, rotated, skewed, jpeg, noise, borders) is scored the same way,
one family held out at a time, and is never used to choose the corpus thresholds.

Recognitions are cached per process by image content and options, so the grid costs little more than
the distinct readings it needs.

    .venv/bin/python -m bench.tuning                     # corpus + synthetic, the default grid
    .venv/bin/python -m bench.tuning --markdown docs/accuracy.md
"""

from __future__ import annotations

import argparse
import hashlib
import itertools
import math
import os
import statistics
import sys
import tempfile
from collections import defaultdict
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
    run_plain,
    score,
    switches_off,
    write_markdown,
)

# The grid: every combination is scored on every file. Values around the defaults, wide enough that a
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


@dataclass
class Scored:
    sample: Sample
    source: str
    cers: dict[int, float]  # grid index -> CER
    passes: dict[int, int]
    off: float  # every switch off: one plain read
    plain: float  # the tesseract program


class Memo:
    """A function of one image (and more), remembered by the image object, for one file at a time: the pages
    of a file are loaded once and read at every grid point, so their text-like ink and flattened photos
    are made once. `install` puts it in place of the pipeline's own (in this process only)."""

    def __init__(self, function: Any) -> None:
        self.function = function
        self.seen: dict[tuple[int, ...], tuple[Any, Any]] = {}

    def __call__(self, image: Any, *args: Any) -> Any:
        key = (id(image), *map(id, args))
        if key not in self.seen:
            self.seen[key] = (image, self.function(image, *args))  # the image is kept: its id stays its own
        return self.seen[key][1]

    @staticmethod
    def install() -> None:
        from workers.ocr import coverage, photo

        for module, name in ((coverage, "text_ink"), (photo, "flatten")):
            current = getattr(module, name)
            if isinstance(current, Memo):
                current.seen.clear()  # a new file
            else:
                setattr(module, name, Memo(current))


class CachingEngine:
    """An engine wrapper that remembers recognitions by image content and options (one process)."""

    def __init__(self, engine: Any) -> None:
        self.engine = engine
        self.name = engine.name
        self._reads: dict[tuple[str, Any], Any] = {}

    def version(self) -> str:
        return str(self.engine.version())

    @staticmethod
    def _key(image: Any) -> str:
        return hashlib.sha1(image.mode.encode() + repr(image.size).encode() + image.tobytes()).hexdigest()

    def recognize(self, image: Any, options: Any) -> Any:
        key = (self._key(image), options)
        if key not in self._reads:
            self._reads[key] = self.engine.recognize(image, options)
        return self._reads[key]

    def detect_orientation(self, image: Any, dpi: int | None) -> Any:
        key = (self._key(image), ("osd", dpi))
        if key not in self._reads:
            self._reads[key] = self.engine.detect_orientation(image, dpi)
        return self._reads[key]


# The receipt and table rules (--docs), scored on the corpus's receipts and tables and on the synthetic
# receipts, tables and forms (bench/synthetic_docs.py), the other thresholds at their defaults.
DOCS_GRID: dict[str, list[Any]] = {
    "table_margin": [0.0, 2.0, 5.0],
    "background_retry": [False, True],
}


def grid_points(grid: dict[str, list[Any]] | None = None) -> list[dict[str, Any]]:
    grid = GRID if grid is None else grid
    names = list(grid)
    return [dict(zip(names, values, strict=True)) for values in itertools.product(*grid.values())]


def docs_samples(corpus: Path, folder: Path) -> tuple[list[tuple[Sample, str]], list[tuple[Sample, str]]]:
    """The corpus's receipts and tables, SROIE split in two sources by its manifest split (the 7 first
    receipts, the 24 added later), and the synthetic receipts, tables and forms by family."""
    import csv

    from bench.synthetic_docs import make_docs

    with (corpus / "manifest.tsv").open(encoding="utf-8", newline="") as fh:
        rows = {row["local_name"]: row for row in csv.DictReader(fh, delimiter="\t")}
    real = [
        (s, f"{rows[s.name]['source_repo']} ({rows[s.name]['split']})" if s.kind == "receipt" else s.name)
        for s in load_samples(corpus, [])
        if s.kind == "receipt" or "table" in s.tags.split(";")
    ]
    made = []
    for doc in make_docs():
        data, suffix = doc.encode()
        path = folder / f"{doc.name}{suffix}"
        path.write_bytes(data)
        sample = Sample(path.name, path, doc.kind, doc.lang, 1, ";".join(doc.tags), doc.ground_truth, unordered=True)
        made.append((sample, doc.family))
    return real, made


def score_sample(sample: Sample, source: str, points: list[dict[str, Any]], with_plain: bool) -> Scored:
    from workers.ocr.candidates import DEFAULT_TUNING
    from workers.ocr.engines import get_engine
    from workers.ocr.pages import count_pages, load_page
    from workers.ocr.preprocess import recognize_page
    from workers.settings import get_worker_settings

    settings = get_worker_settings()
    engine = CachingEngine(get_engine())
    Memo.install()
    kind = media_type(sample.path)
    total = count_pages(sample.path, kind, settings.max_pixels_per_page)
    page_images = [
        load_page(
            sample.path,
            kind,
            n,
            dpi=None,
            render_dpi=settings.default_dpi,
            max_pixels=settings.max_pixels_per_page,
        )
        for n in range(1, total + 1)
    ]

    def run(tuning: Any, extra: dict[str, Any]) -> tuple[float, int]:
        texts, passes = [], 0
        for n, page in enumerate(page_images, 1):
            output = recognize_page(engine, n, page, pipeline_options(sample.lang, extra), tuning)  # type: ignore[arg-type]
            texts.append(output.text)
            passes += int(output.info.get("passes", 1))
        return score(sample, "\n".join(texts)), passes

    cers, passes = {}, {}
    for index, point in enumerate(points):
        cers[index], passes[index] = run(replace(DEFAULT_TUNING, **point), {})
    off, _ = run(DEFAULT_TUNING, switches_off())
    plain = run_plain(sample).cer if with_plain else float("nan")
    return Scored(sample, source, cers, passes, off, plain)


def synthetic_samples(folder: Path) -> list[tuple[Sample, str]]:
    from bench.synthetic import write_set

    out = []
    for synthetic, path in write_set(folder):
        sample = Sample(
            name=path.name,
            path=path,
            kind=synthetic.kind,
            lang=synthetic.lang,
            pages=1,
            tags=";".join(synthetic.tags),
            ground_truth=synthetic.ground_truth,
        )
        out.append((sample, synthetic.family))
    return out


def corpus_samples(corpus: Path) -> list[tuple[Sample, str]]:
    import csv

    with (corpus / "manifest.tsv").open(encoding="utf-8", newline="") as fh:
        sources = {row["local_name"]: row["source_repo"] for row in csv.DictReader(fh, delimiter="\t")}
    return [(s, sources[s.name]) for s in load_samples(corpus, [])]


def mean_cer(results: list[Scored], index: int) -> float:
    return statistics.fmean(r.cers[index] for r in results)


def choose(results: list[Scored], points: list[dict[str, Any]], default_index: int) -> int:
    """The grid point with the lowest mean CER over these files; the default wins ties."""
    return min(range(len(points)), key=lambda i: (round(mean_cer(results, i), 4), i != default_index))


def leave_one_out(results: list[Scored], points: list[dict[str, Any]], default_index: int) -> dict[str, Any]:
    """Per held-out source: the grid point chosen on the others, and the held-out files' CERs with it."""
    by_source: dict[str, list[Scored]] = defaultdict(list)
    for r in results:
        by_source[r.source].append(r)
    held: dict[str, Any] = {}
    for source, mine in sorted(by_source.items()):
        others = [r for r in results if r.source != source]
        chosen = choose(others, points, default_index) if others else default_index
        held[source] = {"chosen": chosen, "files": [(r, r.cers[chosen]) for r in mine]}
    return held


def _mean_or_dash(values: list[float]) -> str:
    """The mean, or a dash where it was not measured (--no-plain)."""
    mean = statistics.fmean(values)
    return "-" if math.isnan(mean) else f"{mean:.3f}"


def report(title: str, results: list[Scored], points: list[dict[str, Any]], default_index: int) -> str:
    held = leave_one_out(results, points, default_index)
    loso = {id(r): value for entry in held.values() for r, value in entry["files"]}
    lines = [
        f"#### {title}",
        "",
        "| kind | files | tesseract mean | one read (switches off) mean | defaults mean | leave-one-source-out mean "
        "| defaults passes/file |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    kinds = sorted({r.sample.kind for r in results})
    for label, chosen in [*((k, [r for r in results if r.sample.kind == k]) for k in kinds), ("**all**", results)]:
        lines.append(
            f"| {label} | {len(chosen)} | {_mean_or_dash([r.plain for r in chosen])} | "
            f"{statistics.fmean(r.off for r in chosen):.3f} | "
            f"{statistics.fmean(r.cers[default_index] for r in chosen):.3f} | "
            f"{statistics.fmean(loso[id(r)] for r in chosen):.3f} | "
            f"{statistics.fmean(r.passes[default_index] for r in chosen):.1f} |"
        )
    lines += ["", "| held-out source | files | chosen on the others | held-out mean CER | with the defaults |"]
    lines.append("|---|---:|---|---:|---:|")
    for source, entry in held.items():
        point = ", ".join(f"{k}={v}" for k, v in points[entry["chosen"]].items())
        values = [v for _, v in entry["files"]]
        defaults = [r.cers[default_index] for r, _ in entry["files"]]
        lines.append(
            f"| {source} | {len(values)} | {point} | {statistics.fmean(values):.3f} | "
            f"{statistics.fmean(defaults):.3f} |"
        )
    return "\n".join(lines)


START, END = "<!-- bench:tuning start -->", "<!-- bench:tuning end -->"
DOCS_MARKERS = ("<!-- bench:docs-tuning start -->", "<!-- bench:docs-tuning end -->")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.tuning", description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    parser.add_argument("--no-corpus", action="store_true", help="only the synthetic set")
    parser.add_argument("--no-synthetic", action="store_true", help="only the corpus")
    parser.add_argument("--no-plain", action="store_true", help="skip the tesseract program (faster)")
    parser.add_argument(
        "--docs",
        action="store_true",
        help="the receipt and table rules (DOCS_GRID) on the corpus's receipts and tables and bench/synthetic_docs.py",
    )
    parser.add_argument("--only", action="append", default=[], help="keep files whose name contains this")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--markdown", type=Path, help="also write the report between the tuning markers")
    args = parser.parse_args(argv)

    from workers.ocr.preprocess import DEFAULT_TUNING

    grid = DOCS_GRID if args.docs else GRID
    points = grid_points(grid)
    defaults = {f.name: getattr(DEFAULT_TUNING, f.name) for f in fields(DEFAULT_TUNING) if f.name in grid}
    default_index = points.index(defaults)
    sets: list[tuple[str, list[tuple[Sample, str]]]] = []
    Path(".bench").mkdir(exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="synthetic-", dir=Path(".bench").resolve()) as tmp:
        real, made = docs_samples(args.corpus, Path(tmp)) if args.docs else ([], [])
        if not args.no_corpus:
            sets.append(("Corpus, one source held out at a time", real or corpus_samples(args.corpus)))
        if not args.no_synthetic:
            sets.append(("Synthetic set, one family held out at a time", made or synthetic_samples(Path(tmp))))
        sets = [
            (title, [(s, src) for s, src in chosen if not args.only or any(o in s.name for o in args.only)])
            for title, chosen in sets
        ]
        sections = []
        with ProcessPoolExecutor(max_workers=max(1, args.jobs)) as pool:
            for title, samples in sets:
                futures = [pool.submit(score_sample, s, src, points, not args.no_plain) for s, src in samples]
                results = [f.result() for f in futures]
                sections.append(report(title, results, points, default_index))
                print(sections[-1], "\n", flush=True)
    described = "; ".join(f"{k} in {v}" for k, v in grid.items())
    text = f"Grid: {described}; defaults {defaults}.\n\n" + "\n\n".join(sections)
    if args.markdown:
        command = " ".join(["python -m bench.tuning", *(argv if argv is not None else sys.argv[1:])])
        write_markdown(args.markdown, command, text, markers=DOCS_MARKERS if args.docs else (START, END))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
