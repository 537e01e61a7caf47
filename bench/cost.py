"""What the preprocessing costs: a single plain read against the defaults on each page (`bench.accuracy --cost`)."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from bench.accuracy import Sample, media_type, pipeline_options, report_kind, switches_off


@dataclass
class Cost:
    sample: Sample
    clean: bool  # no step runs after the first read (_clean): the defaults may cost at most 1.15x a single read
    confident: bool  # the first read at least poor_confidence (and covering): clean but for the vote's bar
    passes: int
    single_s: float  # best time of one plain read (every switch off)
    defaults_s: float  # best time with the defaults


def _clean(page_tsv: str, page: Any, lang: str) -> tuple[bool, bool]:
    """Whether no step runs after a page's first reading (made with every switch off), and whether none would
    but for the vote: confident (a German one confident enough that the Fraktur checks are skipped too; for the
    first, a page of several lines confident enough that the vote is skipped too), covering the page's text,
    not a camera's photo."""
    from workers.ocr import tsv
    from workers.ocr.candidates import DEFAULT_TUNING, word_quality
    from workers.ocr.coverage import text_ink
    from workers.ocr.geometry import Chain

    floor = DEFAULT_TUNING.poor_confidence
    if "deu" in lang.split("+"):  # the Fraktur check: the model under model_confidence, OSD's script under this
        floor = max(floor, DEFAULT_TUNING.model_confidence, DEFAULT_TUNING.script_confidence)
    vote_floor = floor
    if DEFAULT_TUNING.vote and tsv.line_count(page_tsv) >= DEFAULT_TUNING.vote_min_lines:
        vote_floor = max(floor, DEFAULT_TUNING.vote_confidence)
    quality, characters = word_quality(page_tsv)
    covered = text_ink(page.image).covered(page_tsv, Chain())
    low_coverage = covered is not None and covered < DEFAULT_TUNING.poor_coverage
    sane = bool(characters) and not low_coverage and not page.camera
    return sane and quality >= vote_floor, sane and quality >= floor


def run_cost(sample: Sample, repeats: int) -> Cost:
    """Single read against the defaults on each page, alternating, best of `repeats`, model loaded."""
    from PIL import Image

    from workers.ocr.engines import RecognizeOptions, get_engine
    from workers.ocr.pages import count_pages, load_page
    from workers.ocr.preprocess import recognize_page
    from workers.settings import get_worker_settings

    settings = get_worker_settings()
    engine = get_engine()
    engine.recognize(Image.new("L", (64, 64), 255), RecognizeOptions(lang=sample.lang))
    kind = media_type(sample.path)
    page_images = [
        load_page(
            sample.path, kind, n, dpi=None, render_dpi=settings.default_dpi, max_pixels=settings.max_pixels_per_page
        )
        for n in range(1, count_pages(sample.path, kind, settings.max_pixels_per_page) + 1)
    ]
    off = pipeline_options(sample.lang, switches_off())
    defaults = pipeline_options(sample.lang, {})
    best = {"off": float("inf"), "on": float("inf")}
    passes, clean, confident = 0, True, True
    for _ in range(repeats):
        for label, options in (("off", off), ("on", defaults)):
            start = time.perf_counter()
            outputs = [recognize_page(engine, n, page, options) for n, page in enumerate(page_images, 1)]
            best[label] = min(best[label], time.perf_counter() - start)
            if label == "on":
                passes = sum(int(o.info["passes"]) for o in outputs)
            else:
                # Clean: no step would run after the first read (confident; a German one confident enough
                # that the Fraktur check is skipped too).
                flags = [_clean(o.tsv, page, sample.lang) for o, page in zip(outputs, page_images, strict=True)]
                clean, confident = all(c for c, _ in flags), all(c for _, c in flags)
    return Cost(sample, clean, confident, passes, best["off"], best["on"])


def cost_report(costs: list[Cost]) -> str:
    lines = [
        "| inputs | files | single read s | defaults s | ratio (sum) | worst file ratio |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for title, chosen in (
        ("clean (first reading confident, at least the vote's bar)", [c for c in costs if c.clean]),
        ("confident but under the vote's bar", [c for c in costs if c.confident and not c.clean]),
        ("poor, or German under the Fraktur checks' bar", [c for c in costs if not c.confident]),
        ("all", costs),
    ):
        if not chosen:
            continue
        single, on = sum(c.single_s for c in chosen), sum(c.defaults_s for c in chosen)
        worst = max(chosen, key=lambda c: c.defaults_s / c.single_s)
        lines.append(
            f"| {title} | {len(chosen)} | {single:.2f} | {on:.2f} | {on / single:.2f} | "
            f"{worst.defaults_s / worst.single_s:.2f} ({worst.sample.name}) |"
        )
    lines += [
        "",
        "| kind | files | clean files | passes/page | single read s/page | defaults s/page | ratio (sum) |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for kind in sorted({report_kind(c.sample) for c in costs}):
        chosen = [c for c in costs if report_kind(c.sample) == kind]
        pages = sum(c.sample.pages for c in chosen)
        single, on = sum(c.single_s for c in chosen), sum(c.defaults_s for c in chosen)
        lines.append(
            f"| {kind} | {len(chosen)} | {sum(c.clean for c in chosen)} | "
            f"{sum(c.passes for c in chosen) / pages:.1f} | {single / pages:.3f} | {on / pages:.3f} | "
            f"{on / single:.2f} |"
        )
    lines += [
        "",
        "| file | kind | clean | passes | single read s | defaults s | ratio |",
        "|---|---|---|---:|---:|---:|---:|",
    ]
    for c in costs:
        lines.append(
            f"| {c.sample.name} | {report_kind(c.sample)} | {'yes' if c.clean else 'no'} | {c.passes} | "
            f"{c.single_s:.3f} | {c.defaults_s:.3f} | {c.defaults_s / c.single_s:.2f} |"
        )
    return "\n".join(lines)
