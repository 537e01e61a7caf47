"""How `ocr-client submit` shows its progress: a live bar on a terminal (rich), plain log lines otherwise."""

from __future__ import annotations

import sys
import time
from typing import TextIO

from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

from ocr_client.batch import Outcome


def plural(count: int, word: str) -> str:
    """`1 page`, `2 pages`."""
    return f"{count} {word}" if count == 1 else f"{count} {word}s"


class Counters:
    def __init__(self) -> None:
        self.started = time.monotonic()
        self.found = 0
        self.finished = 0
        self.pages = 0

    def rate(self) -> float:
        elapsed = time.monotonic() - self.started
        return self.finished / elapsed if elapsed > 0 else 0.0


class PlainReporter:
    """One line a file (failures always; done and skipped unless quiet), for logs and pipes."""

    def __init__(self, out: TextIO = sys.stderr, quiet: bool = False) -> None:
        self.out = out
        self.quiet = quiet
        self.counts = Counters()

    def discovered(self, count: int, complete: bool) -> None:
        self.counts.found = count

    def page_done(self) -> None:
        self.counts.pages += 1

    def finished(self, outcome: Outcome) -> None:
        self.counts.finished += 1
        if outcome.status == "failed":
            print(f"failed  {outcome.rel}: {outcome.reason}", file=self.out, flush=True)
        elif not self.quiet:
            resumed = ", resumed" if outcome.resumed else ""
            detail = (
                f" ({plural(outcome.pages, 'page')}, job {outcome.job_id}{resumed})" if outcome.status == "done" else ""
            )
            print(f"{outcome.status:7} {outcome.rel}{detail}", file=self.out, flush=True)

    def close(self) -> None:
        pass


class RichReporter:
    """Files done of found (the total is known once the walk ends), pages done, files a second, ETA."""

    def __init__(self, console: Console | None = None) -> None:
        self.console = console or Console(stderr=True)
        self.counts = Counters()
        self.progress = Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("files, {task.fields[pages]}, {task.fields[rate]:.1f} files/s"),
            TimeElapsedColumn(),
            TextColumn("ETA"),
            TimeRemainingColumn(),
            console=self.console,
        )
        self.task = self.progress.add_task("OCR", total=None, pages=plural(0, "page"), rate=0.0)
        self.progress.start()

    def discovered(self, count: int, complete: bool) -> None:
        self.counts.found = count
        if complete:
            self.progress.update(self.task, total=count)

    def page_done(self) -> None:
        self.counts.pages += 1
        self.progress.update(self.task, pages=plural(self.counts.pages, "page"))

    def finished(self, outcome: Outcome) -> None:
        self.counts.finished += 1
        if outcome.status == "failed":
            self.progress.console.print(
                f"[red]failed[/red] {escape(outcome.rel)}: {escape(outcome.reason)}", highlight=False
            )
        self.progress.update(self.task, advance=1, rate=self.counts.rate())

    def close(self) -> None:
        self.progress.stop()
