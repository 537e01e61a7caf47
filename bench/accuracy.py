"""Accuracy benchmark: the service's page pipeline against plain `tesseract FILE stdout` on the corpus.

Reads ../shared/corpus/manifest.tsv, keeps the files whose ground truth is usable for accuracy, runs each
through the pipeline (in this process, or through a running service with --service) and through the plain
tesseract program in the same run, and prints median and mean CER per kind and overall, side by side.

    .venv/bin/python -m bench.accuracy
    .venv/bin/python -m bench.accuracy --set deskew=false --only sroie
    .venv/bin/python -m bench.accuracy --service http://127.0.0.1:8000 --markdown docs/accuracy.md
"""

from __future__ import annotations

import argparse
import csv
import datetime
import os
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.scoring import cer, missed_words, word_bag_error

REPO = Path(__file__).resolve().parents[1]
DEFAULT_CORPUS = REPO.parent / "shared" / "corpus"
USABLE_GT = ("full", "full-inferred", "full-zoned", "full-unordered")
PDF_RENDER_DPI = 300
TESSERACT_TIMEOUT_S = 300


@dataclass(frozen=True)
class Sample:
    name: str
    path: Path
    kind: str
    lang: str
    pages: int
    tags: str
    ground_truth: str
    unordered: bool = False  # gt_quality full-unordered: every word is there, not in reading order


@dataclass
class Result:
    sample: Sample
    cer: float  # the score: caseless CER, or the word-bag error where the ground truth is unordered
    seconds: float
    info: str = ""
    passes: int = 0  # recognition passes (the pipeline's), 0 where not counted
    words: tuple[float, float] | None = None  # receipts, tables and forms: (word-bag error, missed share)
    caseless_cer: float | None = None  # every file's caseless CER (for receipts, beside their word measures)


def load_samples(corpus: Path, only: list[str]) -> list[Sample]:
    samples = []
    with (corpus / "manifest.tsv").open(encoding="utf-8", newline="") as fh:
        for row in csv.DictReader(fh, delimiter="\t"):
            if row["gt_quality"] not in USABLE_GT:
                continue
            if only and not any(part in row["local_name"] for part in only):
                continue
            path = corpus / "files" / row["local_name"]
            gt_path = path.with_name(path.name + ".gt.txt")
            samples.append(
                Sample(
                    name=row["local_name"],
                    path=path,
                    kind=row["kind"],
                    lang=row["lang"] or "eng",
                    pages=int(row["pages"] or 1),
                    tags=row["tags"],
                    ground_truth=gt_path.read_text(encoding="utf-8"),
                    unordered=row["gt_quality"] == "full-unordered",
                )
            )
    return samples


def synthetic_set(folder: Path, only: list[str]) -> list[Sample]:
    """The synthetic sets written to `folder` (bench/synthetic.py with its photos, bench/synthetic_docs.py);
    a photo's, receipt's, table's or form's kind names its family (photo-mild, receipt-faded, ...)."""
    from bench.synthetic import write_samples, write_set
    from bench.synthetic_docs import make_docs

    samples = [
        Sample(
            name=path.name,
            path=path,
            kind=made.family if made.kind == "photo" else made.kind,
            lang=made.lang,
            pages=1,
            tags=";".join(made.tags),
            ground_truth=made.ground_truth,
        )
        for made, path in write_set(folder)
    ]
    for doc, path in write_samples(folder, make_docs()):
        tags = ";".join(doc.tags)
        samples.append(Sample(path.name, path, doc.family, doc.lang, 1, tags, doc.ground_truth, unordered=True))
    return [s for s in samples if not only or any(part in s.name for part in only)]


def score(sample: Sample, text: str) -> float:
    """Caseless CER, or the caseless word-bag error where the ground truth is unordered (receipts)."""
    if sample.unordered:
        return word_bag_error(sample.ground_truth, text)
    return cer(sample.ground_truth, text, ignore_case=True)


def report_kind(sample: Sample) -> str:
    """The kind a file is reported under: the manifest's, with Fraktur lines and pages, and tables and forms
    (the corpus's `table` tag), apart; a synthetic file's family."""
    tags = sample.tags.split(";")
    if "table" in tags:
        return "table/form"
    if "fraktur" in tags and sample.kind in ("line", "page"):
        return f"Fraktur {sample.kind}"
    return "tiff" if sample.kind == "tiff-multipage" else sample.kind


def word_scores(sample: Sample, text: str) -> tuple[float, float] | None:
    """For receipts, tables and forms, both word measures: the word-bag error (missed plus added words, what
    the rules are chosen by) and the share of ground-truth words missed (the corpus README's and the issue's
    "caseless word-bag error"); None for other files."""
    if not (sample.unordered or report_kind(sample) == "table/form" or sample.kind in ("table", "form")):
        return None
    return word_bag_error(sample.ground_truth, text), missed_words(sample.ground_truth, text)


def scored(sample: Sample, text: str, seconds: float, info: str = "", passes: int = 0) -> Result:
    words = word_scores(sample, text)
    return Result(
        sample, score(sample, text), seconds, info, passes, words, cer(sample.ground_truth, text, ignore_case=True)
    )


def media_type(path: Path) -> str:
    return "application/pdf" if path.suffix.lower() == ".pdf" else "image/" + path.suffix.lower().lstrip(".")


# -- plain tesseract ---------------------------------------------------------------------------------
def _tesseract_text(image_path: Path, lang: str) -> str:
    out = subprocess.run(
        ["tesseract", str(image_path), "stdout", "-l", lang],
        capture_output=True,
        text=True,
        timeout=TESSERACT_TIMEOUT_S,
        check=True,
        env={**os.environ, "OMP_THREAD_LIMIT": "1"},
    )
    return out.stdout


def plain_text(sample: Sample) -> str:
    """`tesseract FILE stdout`'s text; PDFs rendered at 300 dpi first (tesseract reads every TIFF page itself)."""
    if sample.path.suffix.lower() != ".pdf":
        return _tesseract_text(sample.path, sample.lang)
    import pypdfium2 as pdfium

    texts = []
    pdf = pdfium.PdfDocument(str(sample.path))
    try:
        with tempfile.TemporaryDirectory(prefix="bench-pdf-") as tmp:
            for index in range(len(pdf)):
                image = pdf[index].render(scale=PDF_RENDER_DPI / 72).to_pil()
                png = Path(tmp) / f"page-{index + 1}.png"
                image.save(png, dpi=(PDF_RENDER_DPI, PDF_RENDER_DPI))
                texts.append(_tesseract_text(png, sample.lang))
    finally:
        pdf.close()
    return "\n".join(texts)


def run_plain(sample: Sample) -> Result:
    start = time.perf_counter()
    text = plain_text(sample)
    return scored(sample, text, time.perf_counter() - start)


# -- the service's pipeline, in this process ------------------------------------------------------------
_WARM_LANGS: set[str] = set()


def pipeline_options(lang: str, switches: dict[str, bool]) -> Any:
    """The pipeline's complete options for a page: `switches` over the upload options' defaults, as the
    service's job steps fill them (workers/steps.py)."""
    from ocr_client.options import JobOptions

    from workers.ocr.preprocess import PageOptions, Switches

    return PageOptions(switches=Switches.of({**JobOptions.switch_defaults(), **switches}), lang=lang)


def switches_off() -> dict[str, bool]:
    """Every preprocessing switch off: one plain read per page."""
    from workers.ocr.preprocess import Switches

    return dict.fromkeys(Switches.names(), False)


def run_pipeline(sample: Sample, extra: dict[str, Any]) -> Result:
    from PIL import Image

    from workers.ocr.engines import RecognizeOptions, get_engine
    from workers.ocr.pages import count_pages, load_page
    from workers.ocr.preprocess import recognize_page
    from workers.settings import get_worker_settings

    settings = get_worker_settings()
    engine = get_engine()
    if sample.lang not in _WARM_LANGS:  # load the model before timing, as a long-running worker has it
        engine.recognize(Image.new("L", (64, 64), 255), RecognizeOptions(lang=sample.lang))
        _WARM_LANGS.add(sample.lang)
    kind = media_type(sample.path)
    options = pipeline_options(sample.lang, extra)
    start = time.perf_counter()
    texts, notes, passes = [], [], 0
    for page_no in range(1, count_pages(sample.path, kind, settings.max_pixels_per_page) + 1):
        page = load_page(
            sample.path,
            kind,
            page_no,
            dpi=None,
            render_dpi=settings.default_dpi,
            max_pixels=settings.max_pixels_per_page,
        )
        output = recognize_page(engine, page_no, page, options)
        texts.append(output.text)
        passes += int(output.info.get("passes", 1))
        steps = output.info.get("steps")
        if steps:
            notes.append(",".join(str(s) for s in steps))
    seconds = time.perf_counter() - start
    return scored(sample, "\n".join(texts), seconds, "; ".join(notes), passes)


# -- the service's pipeline, through its HTTP API ------------------------------------------------------
def run_service(sample: Sample, base_url: str, extra: dict[str, Any], timeout_s: float = 600) -> Result:
    import httpx

    start = time.perf_counter()
    fields = {"lang": sample.lang, **{k: str(v).lower() for k, v in extra.items()}}
    with httpx.Client(base_url=base_url, timeout=60) as client:
        with sample.path.open("rb") as fh:
            response = client.post(
                "/v1/jobs", files={"file": (sample.name, fh, "application/octet-stream")}, data=fields
            )
        response.raise_for_status()
        job_id = response.json()["id"]
        deadline = time.monotonic() + timeout_s
        while True:
            status = client.get(f"/v1/jobs/{job_id}").json()["status"]
            if status in ("succeeded", "failed"):
                break
            if time.monotonic() > deadline:
                raise TimeoutError(f"job {job_id} for {sample.name} still {status} after {timeout_s} s")
            time.sleep(0.2)
        if status == "failed":
            return Result(sample, 1.0, time.perf_counter() - start, "job failed")
        text = client.get(f"/v1/jobs/{job_id}/result.txt").text.replace("\f", "\n")
    return scored(sample, text, time.perf_counter() - start)


START, END = "<!-- bench:accuracy start -->", "<!-- bench:accuracy end -->"
COST_MARKERS = ("<!-- bench:cost start -->", "<!-- bench:cost end -->")
SYNTHETIC_MARKERS = ("<!-- bench:synthetic start -->", "<!-- bench:synthetic end -->")


def write_markdown(path: Path, command: str, table: str, markers: tuple[str, str] = (START, END)) -> None:
    """Put the report between the start and end markers of `path`, keeping the prose around them."""
    start, end = markers
    block = f"{start}\nCommand: `{command}`, run on {datetime.date.today().isoformat()}.\n\n{table}\n{end}"
    text = path.read_text(encoding="utf-8") if path.exists() else f"# Accuracy\n\n{start}\n{end}\n"
    if start in text and end in text:
        text = text[: text.index(start)] + block + text[text.index(end) + len(end) :]
    else:
        text = text.rstrip("\n") + "\n\n" + block + "\n"
    path.write_text(text, encoding="utf-8")


def _parse_switch(text: str) -> tuple[str, bool]:
    key, sep, value = text.partition("=")
    if not sep or value.lower() not in ("true", "false", "1", "0", "on", "off"):
        raise argparse.ArgumentTypeError(f"expected KEY=true|false, got {text!r}")
    return key, value.lower() in ("true", "1", "on")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.accuracy",
        description="CER of the service's page pipeline vs plain `tesseract FILE stdout` on the corpus.",
    )
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS, help="corpus directory (manifest.tsv)")
    parser.add_argument("--only", action="append", default=[], help="keep files whose name contains this")
    parser.add_argument(
        "--synthetic",
        action="store_true",
        help="the synthetic set (bench/synthetic.py, photos per family) instead of the corpus",
    )
    parser.add_argument(
        "--set",
        dest="switches",
        action="append",
        type=_parse_switch,
        default=[],
        metavar="KEY=BOOL",
        help="a preprocessing switch sent as the job option, e.g. --set deskew=false (repeatable)",
    )
    parser.add_argument("--service", metavar="URL", help="go through a running service instead of in-process")
    parser.add_argument("--no-plain", action="store_true", help="skip plain tesseract")
    parser.add_argument(
        "--baseline",
        action="store_true",
        help="also run the pipeline with every preprocessing switch off (what preprocessing gains and costs)",
    )
    parser.add_argument(
        "--cost",
        type=int,
        metavar="REPEATS",
        help="instead of CER: time a single read against the defaults per file, best of REPEATS, alternating",
    )
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1, help="parallel processes (default: cores)")
    parser.add_argument("--markdown", type=Path, help="also write the report, command and date to this file")
    args = parser.parse_args(argv)

    tmp = tempfile.TemporaryDirectory(prefix="synthetic-")
    samples = synthetic_set(Path(tmp.name), args.only) if args.synthetic else load_samples(args.corpus, args.only)
    if not samples:
        parser.error("no corpus files selected")
    if args.cost:
        from bench import cost  # imports this module: not at the top

        with ProcessPoolExecutor(max_workers=max(1, args.jobs)) as pool:
            costs = list(pool.map(cost.run_cost, samples, [args.cost] * len(samples)))
        text = cost.cost_report(costs)
        print(text)
        if args.markdown:
            command = " ".join(["python -m bench.accuracy", *(argv if argv is not None else sys.argv[1:])])
            write_markdown(args.markdown, command, text, markers=COST_MARKERS)
        return 0

    label = "service" if args.service else "pipeline"
    variants = {label: dict(args.switches)}
    if args.baseline:
        variants = {f"{label} no-preprocess": switches_off(), **variants}
    with ProcessPoolExecutor(max_workers=max(1, args.jobs)) as pool:
        futures = {"tesseract": [] if args.no_plain else [pool.submit(run_plain, s) for s in samples]}
        for label, extra in variants.items():
            if args.service:
                futures[label] = [pool.submit(run_service, s, args.service, extra) for s in samples]
            else:
                futures[label] = [pool.submit(run_pipeline, s, extra) for s in samples]
        runs = [(label, [f.result() for f in fs]) for label, fs in futures.items()]
    from bench.accuracy_report import report  # imports this module: not at the top

    text = report(runs)
    print(text)
    if args.markdown:
        command = " ".join(["python -m bench.accuracy", *(argv if argv is not None else sys.argv[1:])])
        write_markdown(args.markdown, command, text, markers=SYNTHETIC_MARKERS if args.synthetic else (START, END))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
