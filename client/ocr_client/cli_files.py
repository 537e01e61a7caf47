"""`ocr-client submit` and `ocr-client watch`: files and folders OCR'd through ocr_client.batch, results mirrored
under OUTDIR. One flag per JobOptions field, made from the model."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, get_args

from pydantic import ValidationError
from pydantic.fields import FieldInfo

from ocr_client._requests import job_options
from ocr_client.batch import Batch, Outcome
from ocr_client.cli_common import client_options
from ocr_client.client import AsyncClient
from ocr_client.discover import WalkCounts, discover
from ocr_client.options import FORMATS, JobOptions
from ocr_client.progress import PlainReporter, RichReporter, plural

EXIT_FAILED, EXIT_INTERRUPTED = 1, 130
IGNORED_SHOWN = 10  # ignored files named in the summary line's note (all of them with --verbose or --json)


def _formats(value: str) -> tuple[str, ...]:
    formats = tuple(dict.fromkeys(f.strip() for f in value.split(",") if f.strip()))
    unknown = [f for f in formats if f not in FORMATS]
    if unknown or not formats:
        raise argparse.ArgumentTypeError(f"formats are {', '.join(FORMATS)}; got {value!r}")
    return formats


def _field_value(name: str, kind: type[int] | type[str]) -> Callable[[str], int | str]:
    """argparse's `type` for a JobOptions field: the text as the field's type, checked against the field's
    limits (`--psm 14` is refused here, not by the server)."""

    def parse(text: str) -> int | str:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
        try:
            JobOptions.model_validate({name: value})
        except ValidationError as exc:
            raise argparse.ArgumentTypeError("; ".join(e["msg"] for e in exc.errors())) from None
        return value

    return parse


def _add_job_flag(parser: argparse.ArgumentParser, name: str, info: FieldInfo) -> None:
    """One flag a JobOptions field (underscores as dashes): a switch is --x/--no-x, the rest take a value.
    Left out, the field is not sent and the server's default applies; --formats alone defaults to txt here,
    the results the batch writes."""
    flag = "--" + name.replace("_", "-")
    help_text = (info.description or info.title or name).replace("%", "%%")
    if name == "formats":
        parser.add_argument(flag, type=_formats, default=("txt",), help=help_text)
    elif info.annotation is bool:
        default = "on" if info.default else "off"
        parser.add_argument(
            flag, dest=name, action=argparse.BooleanOptionalAction, help=f"{help_text} (server default: {default})"
        )
    else:
        kind = int if int in (info.annotation, *get_args(info.annotation)) else str
        parser.add_argument(flag, dest=name, type=_field_value(name, kind), help=help_text)


def upload_options(args: argparse.Namespace) -> JobOptions:
    """The JobOptions of `ocr-client submit`'s flags: the fields given, and --formats."""
    return job_options(None, {name: getattr(args, name) for name in JobOptions.model_fields})


def add_file_flags(parser: argparse.ArgumentParser) -> None:
    """What submit and watch share: where results go, the job's options, the walk, the pace, the output."""
    parser.add_argument("--out", "-o", required=True, metavar="OUTDIR", help="where the results go")
    for name, info in JobOptions.model_fields.items():
        _add_job_flag(parser, name, info)
    parser.add_argument("--recursive", "-r", action="store_true", help="descend into subfolders")
    parser.add_argument("--concurrency", "-j", type=int, default=8, help="files in flight at once (default: 8)")
    parser.add_argument("--poll", action="store_true", help="poll job status instead of following /events")
    parser.add_argument("--quiet", "-q", action="store_true", help="log failures only (when not on a terminal)")
    parser.add_argument("--verbose", "-v", action="store_true", help="name every ignored file")


def cmd_submit(args: argparse.Namespace) -> int:
    if args.concurrency < 1:
        raise SystemExit("ocr-client: --concurrency must be at least 1")
    outdir = Path(args.out)
    options = upload_options(args)
    counts = WalkCounts()
    for path in args.paths:
        if not Path(path).exists():
            raise SystemExit(f"ocr-client: no such file or folder: {path}")
    inputs = discover(args.paths, recursive=args.recursive, exclude=outdir, counts=counts)
    live = not args.json and sys.stderr.isatty()
    reporter: RichReporter | PlainReporter = RichReporter() if live else PlainReporter(quiet=args.quiet or args.json)
    started = time.monotonic()

    async def run() -> list[Outcome]:
        # Connections: one per worker for its upload or download, plus its event stream.
        async with AsyncClient(args.server, **client_options(args), max_connections=args.concurrency * 2) as client:
            batch = Batch(client, outdir, options, reporter, args.concurrency, stream_events=not args.poll)
            return await batch.run(inputs)

    try:
        outcomes = asyncio.run(run())
    except KeyboardInterrupt:
        reporter.close()
        print("ocr-client: interrupted; run the same command again to resume", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BaseException:
        reporter.close()  # give the terminal its cursor back before the error is printed
        raise
    reporter.close()
    summary = summarize(outcomes, counts, time.monotonic() - started, args)
    if args.json:
        print(json.dumps(summary, indent=2))
    else:
        print_summary(summary, verbose=args.verbose)
    return EXIT_FAILED if summary["failed"] else 0


def summarize(outcomes: list[Outcome], counts: WalkCounts, elapsed: float, args: argparse.Namespace) -> dict[str, Any]:
    by_status = {s: [o for o in outcomes if o.status == s] for s in ("done", "skipped", "failed")}
    done = by_status["done"]
    return {
        "server": args.server,
        "outdir": str(args.out),
        "files": len(outcomes),
        "done": len(done),
        "resumed": sum(o.resumed for o in done),
        "skipped": len(by_status["skipped"]),
        "failed": len(by_status["failed"]),
        "ignored": counts.ignored,
        "ignored_files": counts.ignored_paths,
        "pages": sum(o.pages for o in done),
        "elapsed_s": round(elapsed, 3),
        "files_per_s": round(len(done) / elapsed, 3) if elapsed > 0 else None,
        "failures": [{"path": o.rel, "reason": o.reason, "job_id": o.job_id} for o in by_status["failed"]],
    }


def print_summary(summary: dict[str, Any], verbose: bool = False) -> None:
    err = sys.stderr
    print(
        f"{summary['done']} done ({plural(summary['pages'], 'page')}, {summary['resumed']} resumed), "
        f"{summary['skipped']} skipped (already done), {summary['failed']} failed, "
        f"{summary['ignored']} ignored (not an image or PDF) in {summary['elapsed_s']:.1f} s -> {summary['outdir']}",
        file=err,
    )
    print_ignored(summary["ignored"], summary["ignored_files"], verbose)
    if summary["failures"]:
        width = max(len("file"), *(len(f["path"]) for f in summary["failures"]))
        print(f"\n{'file':<{width}}  reason", file=err)
        print(f"{'-' * width}  {'-' * 6}", file=err)
        for failure in summary["failures"]:
            print(f"{failure['path']:<{width}}  {failure['reason']}", file=err)


def print_ignored(count: int, names: list[str], verbose: bool) -> None:
    """The ignored files by name: the first few, or (-v) every one named."""
    if not count:
        return
    shown = names if verbose else names[:IGNORED_SHOWN]
    more = count - len(shown)
    tail = f", and {more} more" + ("" if verbose else " (-v names them all)") if more > 0 else ""
    print(f"ignored: {', '.join(shown)}{tail}", file=sys.stderr)
