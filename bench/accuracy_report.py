"""The report of bench/accuracy.py: per kind and overall, both word measures for receipts, tables and forms,
passes, and per file."""

from __future__ import annotations

import statistics
from collections.abc import Callable
from functools import partial

from bench.accuracy import Result, report_kind


def _summary(results: list[Result], score: Callable[[Result], float] = lambda r: r.cer) -> list[str]:
    """Median and mean score (CER, or `score`'s) and seconds per page, or dashes when that side did not run."""
    if not results:
        return ["-", "-", "-"]
    values = [score(r) for r in results]
    per_page = sum(r.seconds for r in results) / sum(r.sample.pages for r in results)
    return [f"{statistics.median(values):.3f}", f"{statistics.fmean(values):.3f}", f"{per_page:.2f}"]


def readme_score(result: Result, measure: str) -> float:
    """A file's score with its receipts (unordered ground truth) measured as the corpus README says: by the
    share of their words missed (its "caseless word-bag error", `missed`) or by caseless CER (`cer`); every
    other file by caseless CER, as in the main score."""
    if not result.sample.unordered:
        return result.cer
    if measure == "missed" and result.words is not None:
        return result.words[1]
    return result.caseless_cer if result.caseless_cer is not None else result.cer


def _words_summary(results: list[Result]) -> list[str]:
    """Mean word-bag error and mean missed share, or dashes."""
    words = [r.words for r in results if r.words is not None]
    if not words:
        return ["-", "-"]
    return [f"{statistics.fmean(w[0] for w in words):.3f}", f"{statistics.fmean(w[1] for w in words):.3f}"]


def _of_kind(results: list[Result], kind: str | None) -> list[Result]:
    return [r for r in results if kind in (None, report_kind(r.sample))]


def _words_table(runs: list[tuple[str, list[Result]]], kinds: list[str]) -> list[str]:
    """Both word measures per kind that has them (receipts, tables, forms)."""
    worded = [k for k in kinds if any(r.words is not None for _, rs in runs for r in _of_kind(rs, k))]
    if not worded:
        return []
    head = " | ".join(f"{label} word-bag | {label} missed" for label, _ in runs)
    lines = ["", f"| kind (word measures, means) | files | {head} |", "|---|---:|" + "---:|" * 2 * len(runs)]
    for kind in worded:
        cells = [cell for _, results in runs for cell in _words_summary(_of_kind(results, kind))]
        files = max(len(_of_kind(results, kind)) for _, results in runs)
        lines.append(f"| {kind} | {files} | " + " | ".join(cells) + " |")
    return lines


def _passes_table(runs: list[tuple[str, list[Result]]], rows: list[tuple[str, str | None]]) -> list[str]:
    counted = [(label, results) for label, results in runs if any(r.passes for r in results)]
    if not counted:
        return []
    lines = ["", "| kind | " + " | ".join(f"{label} passes/page" for label, _ in counted) + " |"]
    lines.append("|---|" + "---:|" * len(counted))
    for title, kind in rows:
        cells = []
        for _, results in counted:
            chosen = _of_kind(results, kind)
            cells.append(f"{sum(r.passes for r in chosen) / max(1, sum(r.sample.pages for r in chosen)):.1f}")
        lines.append(f"| {title} | " + " | ".join(cells) + " |")
    return lines


def report(runs: list[tuple[str, list[Result]]]) -> str:
    """Per kind and overall, then per file: CER and seconds of each run, side by side; for receipts, tables
    and forms both word measures."""
    runs = [(label, results) for label, results in runs if results]
    kinds = sorted({report_kind(r.sample) for _, results in runs for r in results})
    rows: list[tuple[str, str | None]] = [*((k, k) for k in kinds), ("**all**", None)]
    head = " | ".join(f"{label} median | {label} mean | {label} s/page" for label, _ in runs)
    lines = [f"| kind | files | {head} |", "|---|---:|" + "---:|" * 3 * len(runs)]
    for title, kind in rows:
        cells = [cell for _, results in runs for cell in _summary(_of_kind(results, kind))]
        files = max(len(_of_kind(results, kind)) for _, results in runs)
        lines.append(f"| {title} | {files} | " + " | ".join(cells) + " |")
    if any(r.sample.unordered for _, results in runs for r in results):  # the README's two receipt measures
        files = max(len(results) for _, results in runs)
        for measure, title in (("missed", "missed share"), ("cer", "caseless CER")):
            score = partial(readme_score, measure=measure)
            cells = [cell for _, results in runs for cell in _summary(results, score)]
            lines.append(f"| **all, receipts by {title}** | {files} | " + " | ".join(cells) + " |")
    lines += _words_table(runs, kinds) + _passes_table(runs, rows)
    head = " | ".join(f"{label} score | {label} s" for label, _ in runs)
    lines += ["", f"| file | kind | {head} | steps |", "|---|---|" + "---:|" * 2 * len(runs) + "---|"]
    by_run = [{r.sample.name: r for r in results} for _, results in runs]
    for r in runs[-1][1]:
        cells = []
        for by_name in by_run:
            other = by_name.get(r.sample.name)
            cells += [_file_score(other), f"{other.seconds:.2f}"] if other else ["-", "-"]
        lines.append(f"| {r.sample.name} | {report_kind(r.sample)} | " + " | ".join(cells) + f" | {r.info} |")
    return "\n".join(lines)


def _file_score(result: Result) -> str:
    """A file's CER, or its word-bag error with the missed share after a slash."""
    if result.words is None:
        return f"{result.cer:.3f}"
    return f"{result.cer:.3f} / {result.words[1]:.3f}" if result.sample.unordered else f"{result.cer:.3f}"
