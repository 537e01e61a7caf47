"""`ocr-client watch`: a folder OCR'd as files arrive, by the same engine as `submit` (ocr_client.batch).

Files are noticed by watchfiles (inotify on Linux, a periodic rescan besides, for network shares and missed
events) and taken once complete: their size and modification time unchanged for the settle time. A file renamed
into the folder (the safe way to drop one) is whole when it appears, and passes that check unchanged; one
written in place passes it once its writer has paused longer than the settle time (a scanner writing a page a
minute needs a longer --settle, or a temporary name: `*.part`, `*.tmp` ... are never taken). Each
complete file goes to a `Batch` that never ends until the watch stops: hashed, uploaded, followed, its results
written under OUTDIR mirroring the tree, recorded in the same state file as `submit`'s, so a restart skips what
is done and waits for what was in flight. Done inputs may be moved aside (--move-done), failed ones too
(--move-failed; else they stay, and are tried again only when their bytes change or the watch restarts).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import shutil
import signal
import sys
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from ocr_client.batch import Batch, Outcome
from ocr_client.cli_common import client_options
from ocr_client.client import AsyncClient
from ocr_client.discover import Input, WalkCounts, sniff_file
from ocr_client.options import JobOptions
from ocr_client.progress import PlainReporter, plural

SETTLE_S = 2.0
RESCAN_S = 300.0
TICK_S = 0.25  # how often files waiting to settle are looked at
RECONNECT_S = 10.0  # after the server stayed unreachable, the wait before files are tried again
# Names that say a file is still being written (browsers, rsync, many scanners), whatever its size does.
IN_PROGRESS_SUFFIXES = (".part", ".partial", ".tmp", ".crdownload", ".download", "~")
Key = tuple[int, int]  # size and modification time (ns): a version of a file


def add_watch_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--settle", type=float, default=SETTLE_S, metavar="SECONDS",
        help="a file is complete once its size and time have not changed for this long (default: %(default)s)",
    )  # fmt: skip
    parser.add_argument("--move-done", metavar="DIR", help="move each input here (its tree mirrored) once done")
    parser.add_argument(
        "--move-failed", metavar="DIR", help="move each input the service refused or failed here (default: leave it)"
    )
    parser.add_argument(
        "--rescan", type=float, default=RESCAN_S, metavar="SECONDS",
        help="look through the whole folder this often besides the change events (default: %(default)s; 0: never)",
    )  # fmt: skip


@dataclass
class Arrivals:
    """Files seen changing, until each has kept its size and time for `settle_s`."""

    settle_s: float
    pending: dict[Path, tuple[Key, float]] = field(default_factory=dict)  # path -> (version, unchanged since)

    def saw(self, path: Path) -> None:
        self.pending.setdefault(path, ((-1, -1), time.monotonic()))

    def settled(self) -> list[Path]:
        now, done = time.monotonic(), []
        for path, (key, since) in list(self.pending.items()):
            try:
                st = path.stat()
            except OSError:  # gone (moved away, deleted): nothing to take
                del self.pending[path]
                continue
            current = (st.st_size, st.st_mtime_ns)
            if current != key:
                self.pending[path] = (current, now)
            elif now - since >= self.settle_s:
                del self.pending[path]
                done.append(path)
        return done


@dataclass
class Watcher:
    root: Path
    outdir: Path
    recursive: bool
    arrivals: Arrivals
    move_done: Path | None = None
    move_failed: Path | None = None
    reporter: PlainReporter = field(default_factory=PlainReporter)
    verbose: bool = True
    counts: WalkCounts = field(default_factory=WalkCounts)
    outcomes: dict[str, int] = field(default_factory=lambda: {"done": 0, "skipped": 0, "failed": 0})
    pages: int = 0
    ready: asyncio.Queue[Input] = field(default_factory=asyncio.Queue)
    handled: dict[str, Key] = field(default_factory=dict)  # rel -> the version whose outcome is known
    in_flight: dict[str, tuple[Input, Key]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.root = self.root.resolve()
        self.excluded = [p.resolve() for p in (self.outdir, self.move_done, self.move_failed) if p is not None]

    # -- noticing files ---------------------------------------------------------------------------------
    def consider(self, path: Path) -> None:
        """A path that appeared or changed: watched until complete, unless it is nothing to OCR here."""
        try:
            rel = path.resolve().relative_to(self.root)
        except ValueError:
            return
        hidden = any(part.startswith(".") for part in rel.parts)
        nested = len(rel.parts) > 1 and not self.recursive
        if hidden or nested or path.name.endswith(IN_PROGRESS_SUFFIXES) or self._excluded(path):
            return
        if path.is_file() and not path.is_symlink():
            self.arrivals.saw(path)

    def _excluded(self, path: Path) -> bool:
        resolved = path.resolve()
        return any(resolved == d or d in resolved.parents for d in self.excluded)

    def rescan(self) -> None:
        """Every file in the folder, as if it had just changed (what was there at the start, missed events)."""
        for folder, subfolders, files in os.walk(self.root):
            subfolders[:] = [] if not self.recursive else sorted(d for d in subfolders if not d.startswith("."))
            for name in sorted(files):
                self.consider(Path(folder) / name)

    @staticmethod
    def examine(path: Path) -> tuple[Key, bool] | None:
        """A settled file's version, and whether it is an image or PDF (reads it: call from a thread)."""
        try:
            st = path.stat()
        except OSError:
            return None
        return (st.st_size, st.st_mtime_ns), sniff_file(path) is not None

    def offer(self, path: Path, key: Key, ocr_able: bool) -> None:
        """A complete file (on the event loop): queued for OCR unless this version of it was handled already."""
        rel = PurePosixPath(path.resolve().relative_to(self.root).as_posix())
        if self.handled.get(str(rel)) == key or str(rel) in self.in_flight:
            return
        if not ocr_able:
            self.handled[str(rel)] = key
            self.counts.ignore(str(rel))
            if self.verbose:
                print(f"ignored {rel} (not an image or PDF)", file=sys.stderr, flush=True)
            return
        item = Input(path, rel)
        self.in_flight[str(rel)] = (item, key)
        self.ready.put_nowait(item)

    # -- outcomes ---------------------------------------------------------------------------------------
    def discovered(self, count: int, complete: bool) -> None:
        pass

    def page_done(self) -> None:
        self.reporter.page_done()

    def finished(self, outcome: Outcome) -> None:
        item, key = self.in_flight.pop(outcome.rel, (None, None))
        self.reporter.finished(outcome)
        if item is None or key is None:
            return
        if outcome.unreached:  # tried again once the server is back (Watcher.run)
            self.arrivals.saw(item.path)
            return
        self.handled[outcome.rel] = key
        self.outcomes[outcome.status] += 1
        self.pages += outcome.pages
        target = self.move_failed if outcome.status == "failed" else self.move_done
        if target is not None:
            move_aside(item, target)

    # -- running ----------------------------------------------------------------------------------------
    async def inputs(self, batch: Batch) -> AsyncIterator[Input]:
        """The files as they become complete, until the batch gives up on an unreachable server."""
        while batch.unreachable is None:
            with contextlib.suppress(TimeoutError):
                yield await asyncio.wait_for(self.ready.get(), timeout=1.0)

    async def settle_loop(self, rescan_s: float) -> None:
        next_rescan = time.monotonic() + rescan_s if rescan_s > 0 else float("inf")
        while True:
            if time.monotonic() >= next_rescan:
                await asyncio.to_thread(self.rescan)
                next_rescan = time.monotonic() + rescan_s
            for path in await asyncio.to_thread(self.arrivals.settled):
                seen = await asyncio.to_thread(self.examine, path)
                if seen is not None:
                    self.offer(path, *seen)
            await asyncio.sleep(TICK_S)

    async def event_loop(self, stop: asyncio.Event) -> None:
        from watchfiles import Change, awatch

        async for changes in awatch(self.root, stop_event=stop, recursive=self.recursive):
            for change, name in changes:
                if change != Change.deleted:
                    self.consider(Path(name))

    async def run(self, make_batch: BatchFactory, stop: asyncio.Event, rescan_s: float) -> None:
        await asyncio.to_thread(self.rescan)  # what is there already
        helpers = [asyncio.create_task(self.event_loop(stop)), asyncio.create_task(self.settle_loop(rescan_s))]
        try:
            while True:
                batch = make_batch()
                await batch.run(self.inputs(batch))
                print(f"ocr-client: {batch.unreachable}; trying again in {RECONNECT_S:.0f} s", file=sys.stderr)
                await asyncio.sleep(RECONNECT_S)
        finally:
            stop.set()  # ends the watchfiles thread at once rather than at its next timeout
            for task in helpers:
                task.cancel()
            await asyncio.gather(*helpers, return_exceptions=True)


class BatchFactory:
    """A new Batch over the watch's client and options (one per stretch of the server being reachable)."""

    def __init__(self, client: AsyncClient, args: argparse.Namespace, options: JobOptions, watcher: Watcher) -> None:
        self.client, self.args, self.options, self.watcher = client, args, options, watcher

    def __call__(self) -> Batch:
        args = self.args
        return Batch(self.client, Path(args.out), self.options, self.watcher, args.concurrency, not args.poll)


def move_aside(item: Input, target: Path) -> Path | None:
    """Move an input under `target`, its place in the tree kept; a name taken there gets ` (2)`, ` (3)` ..."""
    dest = target.joinpath(*item.rel.parts)
    dest.parent.mkdir(parents=True, exist_ok=True)
    stem, suffix, n = dest.stem, dest.suffix, 2
    while dest.exists():
        dest = dest.with_name(f"{stem} ({n}){suffix}")
        n += 1
    try:
        return Path(shutil.move(item.path, dest))
    except OSError as exc:
        print(f"ocr-client: could not move {item.rel} to {dest}: {exc}", file=sys.stderr, flush=True)
        return None


def cmd_watch(args: argparse.Namespace) -> int:
    from ocr_client.cli_files import print_ignored, upload_options

    folder = Path(args.folder)
    if not folder.is_dir():
        raise SystemExit(f"ocr-client: not a folder: {folder}")
    if args.concurrency < 1 or args.settle < 0:
        raise SystemExit("ocr-client: --concurrency must be at least 1 and --settle not negative")
    watcher = Watcher(
        folder, Path(args.out), args.recursive, Arrivals(args.settle),
        move_done=Path(args.move_done) if args.move_done else None,
        move_failed=Path(args.move_failed) if args.move_failed else None,
        reporter=PlainReporter(quiet=args.quiet), verbose=not args.quiet,
    )  # fmt: skip
    options = upload_options(args)
    print(f"ocr-client: watching {folder} -> {args.out} (Ctrl-C or SIGTERM stops)", file=sys.stderr, flush=True)
    asyncio.run(_watch(watcher, args, options))
    done, failed = watcher.outcomes["done"], watcher.outcomes["failed"]
    print(
        f"ocr-client: stopped; {done} done ({plural(watcher.pages, 'page')}), {watcher.outcomes['skipped']} skipped "
        f"(already done), {failed} failed, {watcher.counts.ignored} ignored; run it again to go on",
        file=sys.stderr,
    )
    print_ignored(watcher.counts.ignored, watcher.counts.ignored_paths, args.verbose)
    return 0


async def _watch(watcher: Watcher, args: argparse.Namespace, options: JobOptions) -> None:
    """Until SIGINT or SIGTERM: jobs in flight are left to the server, their ids in the state file."""
    loop = asyncio.get_running_loop()
    stopping = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stopping.set)
    async with AsyncClient(args.server, **client_options(args), max_connections=args.concurrency * 2) as client:
        work = asyncio.create_task(
            watcher.run(BatchFactory(client, args, options, watcher), asyncio.Event(), args.rescan)
        )
        stop = asyncio.create_task(stopping.wait())
        await asyncio.wait({work, stop}, return_when=asyncio.FIRST_COMPLETED)
        for task in (work, stop):
            task.cancel()
        results = await asyncio.gather(work, stop, return_exceptions=True)
    errors = [r for r in results if isinstance(r, BaseException) and not isinstance(r, asyncio.CancelledError)]
    if errors:
        raise errors[0]
