"""The report of bench/tuning.py: per kind (plain tesseract, one read, the defaults, the rules chosen with the
file's own source or family held out), both word measures where they apply, and the choice per held-out source."""

from __future__ import annotations

import statistics
from collections import defaultdict
from typing import Any

from bench.accuracy import report_kind, score, word_scores
from bench.tuning import Scored, default_index, grid_points


class Measures:
    """The scores of one file's readings, each text scored once: the score (CER or word-bag error) and, for
    receipts, tables and forms, (word-bag error, missed share)."""

    def __init__(self, scored: Scored) -> None:
        self.scored = scored
        texts = scored.texts
        self.score = [score(scored.sample, t) for t in texts]
        self.words = [word_scores(scored.sample, t) for t in texts]
        self.plain = None if scored.plain is None else score(scored.sample, scored.plain)
        self.plain_words = None if scored.plain is None else word_scores(scored.sample, scored.plain)

    def at(self, grid: str, index: int) -> float:
        return self.score[self.scored.reading[grid, index]]

    def words_at(self, grid: str, index: int) -> tuple[float, float] | None:
        return self.words[self.scored.reading[grid, index]]


def _mean(values: list[float]) -> float:
    return statistics.fmean(values)


def choose(files: list[Measures], grid: str, points: list[dict[str, Any]], default: int) -> int:
    """The grid point with the lowest mean score over these files. Ties go to the point that moves the fewest
    thresholds from their defaults (then the grid's order): a threshold the files cannot tell apart stays where
    it was set, instead of following the grid's order."""
    base = points[default]

    def moved(i: int) -> int:
        return sum(points[i][name] != value for name, value in base.items())

    return min(range(len(points)), key=lambda i: (round(_mean([m.at(grid, i) for m in files]), 4), moved(i), i))


def leave_one_out(
    files: list[Measures], grid: str, points: list[dict[str, Any]], default: int
) -> dict[str, tuple[int, list[Measures]]]:
    """Per held-out source: the grid point chosen on the other sources, and the source's files."""
    by_source: dict[str, list[Measures]] = defaultdict(list)
    for m in files:
        by_source[m.scored.source].append(m)
    held = {}
    for source, mine in sorted(by_source.items()):
        others = [m for m in files if m.scored.source != source]
        held[source] = (choose(others, grid, points, default) if others else default, mine)
    return held


def _fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


def _word_cell(values: list[tuple[float, float] | None]) -> str:
    pairs = [v for v in values if v is not None]
    if not pairs or len(pairs) < len(values):
        return "-"
    return f"{_mean([p[0] for p in pairs]):.3f} / {_mean([p[1] for p in pairs]):.3f}"


def section(title: str, grid: str, files: list[Measures], points: list[dict[str, Any]], default: int) -> str:
    held = leave_one_out(files, grid, points, default)
    chosen = {id(m): index for index, mine in held.values() for m in mine}
    kinds = sorted({report_kind(m.scored.sample) for m in files})
    rows: list[tuple[str, list[Measures]]] = [
        *((k, [m for m in files if report_kind(m.scored.sample) == k]) for k in kinds),
        ("**all**", files),
    ]
    lines = [
        f"#### {title}",
        "",
        "| kind | files | tesseract mean | one read (switches off) mean | defaults mean | held out mean "
        "| defaults passes/file |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for label, mine in rows:
        plain = [m.plain for m in mine]
        lines.append(
            f"| {label} | {len(mine)} | {_fmt(None if None in plain else _mean(plain))} | "  # type: ignore[arg-type]
            f"{_mean([m.score[m.scored.off] for m in mine]):.3f} | {_mean([m.at(grid, default) for m in mine]):.3f} | "
            f"{_mean([m.at(grid, chosen[id(m)]) for m in mine]):.3f} | "
            f"{_mean([m.scored.passes[grid, default] for m in mine]):.1f} |"
        )
    worded = [(label, mine) for label, mine in rows[:-1] if all(m.words[0] is not None for m in mine)]
    if worded:
        lines += [
            "",
            "Word measures (word-bag error: missed + added words / missed share: the README's and the issue's):",
            "",
            "| kind | files | tesseract | one read | defaults | held out |",
            "|---|---:|---:|---:|---:|---:|",
        ]
        for label, mine in worded:
            lines.append(
                f"| {label} | {len(mine)} | {_word_cell([m.plain_words for m in mine])} | "
                f"{_word_cell([m.words[m.scored.off] for m in mine])} | "
                f"{_word_cell([m.words_at(grid, default) for m in mine])} | "
                f"{_word_cell([m.words_at(grid, chosen[id(m)]) for m in mine])} |"
            )
    lines += ["", "| held out | files | chosen on the others | held out mean | with the defaults |"]
    lines.append("|---|---:|---|---:|---:|")
    for source, (index, mine) in held.items():
        point = ", ".join(f"{k}={v}" for k, v in points[index].items())
        lines.append(
            f"| {source} | {len(mine)} | {point} | {_mean([m.at(grid, index) for m in mine]):.3f} | "
            f"{_mean([m.at(grid, default) for m in mine]):.3f} |"
        )
    return "\n".join(lines)


def report(grid_name: str, grid: dict[str, list[Any]], sets: list[tuple[str, list[Scored]]]) -> str:
    """The grid's section: its values and defaults, then each set held out source by source."""
    points = grid_points(grid)
    default = default_index(grid)
    described = "; ".join(f"{k} in {v}" for k, v in grid.items())
    parts = [f"Grid `{grid_name}`: {described}; defaults {points[default]}."]
    for title, results in sets:
        if results:
            parts.append(section(title, grid_name, [Measures(r) for r in results], points, default))
    return "\n\n".join(parts)
