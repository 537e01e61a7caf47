"""`ocr-client`: OCR folders of scans through the service, and look at single jobs. A thin layer over
ocr_client.batch and ocr_client.client."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, get_args

from pydantic import ValidationError
from pydantic.fields import FieldInfo

from ocr_client._requests import job_options
from ocr_client._version import __version__
from ocr_client.batch import Batch, Outcome
from ocr_client.client import DEFAULT_SERVER, AsyncClient, Client
from ocr_client.discover import WalkCounts, discover
from ocr_client.errors import ApiError, OcrClientError
from ocr_client.options import FORMATS, JobOptions
from ocr_client.progress import PlainReporter, RichReporter
from ocr_client.retry import RetryPolicy

EXIT_FAILED, EXIT_INTERRUPTED = 1, 130

EPILOG = """\
Examples:
  ocr-client submit scans/ --out results/ --recursive             # scans/a/b.tif -> results/a/b.txt
  ocr-client submit scans/ --out results/ -r --formats txt,pdf --lang eng+deu --concurrency 8
  ocr-client submit one.pdf two.png --out out/ --json              # one summary object on stdout
  ocr-client status 7f0c...                                        # the job as JSON
  ocr-client get 7f0c... --format pdf -o scan.pdf
  ocr-client languages

The server is --server, else $OCR_SERVER, else http://127.0.0.1:8000; the API key is --api-key, else
$OCR_API_KEY. Rerunning the same submit skips what is done and waits for jobs an interrupted run had
started instead of uploading them again (state in OUTDIR/.ocr-client-state.jsonl).
Exit status: 0 all done, 1 some file failed (listed) or the server answered an error, 130 interrupted.
"""


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


def build_parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--server", default=os.environ.get("OCR_SERVER", DEFAULT_SERVER), help="default: %(default)s")
    common.add_argument("--api-key", default=os.environ.get("OCR_API_KEY"), help="sent as Authorization: Bearer")
    common.add_argument(
        "--retries", type=int, default=5, help="tries again after refused connections, 429 and 503 (default: 5)"
    )
    parser = argparse.ArgumentParser(
        prog="ocr-client",
        description="OCR images and PDFs with an OCR service: whole folders at once, or single jobs.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    submit = sub.add_parser(
        "submit", parents=[common], help="OCR files and folders, results mirrored under OUTDIR",
        description="Find images and PDFs (by their content, not their names) under PATHs, upload them a few "
        "at a time, wait for each job and write its results under OUTDIR, mirroring the input tree: "
        "scans/a/b.tif -> OUTDIR/a/b.txt, OUTDIR/a/b.pdf. Resumable: run it again after Ctrl-C or a failure.",
        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter,
    )  # fmt: skip
    submit.add_argument("paths", nargs="+", metavar="PATH", help="files and folders")
    submit.add_argument("--out", "-o", required=True, metavar="OUTDIR", help="where the results go")
    for name, info in JobOptions.model_fields.items():
        _add_job_flag(submit, name, info)
    submit.add_argument("--recursive", "-r", action="store_true", help="descend into subfolders")
    submit.add_argument("--concurrency", "-j", type=int, default=8, help="files in flight at once (default: 8)")
    submit.add_argument("--poll", action="store_true", help="poll job status instead of following /events")
    submit.add_argument("--json", action="store_true", help="print one summary object on stdout, no progress")
    submit.add_argument("--quiet", "-q", action="store_true", help="log failures only (when not on a terminal)")
    submit.set_defaults(func=cmd_submit)

    status = sub.add_parser("status", parents=[common], help="a job's status, as JSON")
    status.add_argument("job_id", metavar="JOB_ID")
    status.set_defaults(func=cmd_status)

    get = sub.add_parser("get", parents=[common], help="download a job's result")
    get.add_argument("job_id", metavar="JOB_ID")
    get.add_argument("--format", "-f", default="txt", choices=FORMATS)
    get.add_argument("--output", "-o", metavar="FILE", help="default: standard output")
    get.add_argument("--wait", action="store_true", help="wait for the job to finish first")
    get.set_defaults(func=cmd_get)

    languages = sub.add_parser("languages", parents=[common], help="the server's installed languages")
    languages.add_argument("--json", action="store_true")
    languages.set_defaults(func=cmd_languages)
    return parser


def _client_options(args: argparse.Namespace) -> dict[str, Any]:
    return {"api_key": args.api_key, "retry": RetryPolicy(attempts=max(args.retries, 0) + 1)}


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
        async with AsyncClient(args.server, **_client_options(args), max_connections=args.concurrency * 2) as client:
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
    summary = _summary(outcomes, counts, time.monotonic() - started, args)
    if args.json:
        print(json.dumps(summary, indent=2))
    else:
        _print_summary(summary)
    return EXIT_FAILED if summary["failed"] else 0


def _summary(outcomes: list[Outcome], counts: WalkCounts, elapsed: float, args: argparse.Namespace) -> dict[str, Any]:
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
        "pages": sum(o.pages for o in done),
        "elapsed_s": round(elapsed, 3),
        "files_per_s": round(len(done) / elapsed, 3) if elapsed > 0 else None,
        "failures": [{"path": o.rel, "reason": o.reason, "job_id": o.job_id} for o in by_status["failed"]],
    }


def _print_summary(summary: dict[str, Any]) -> None:
    err = sys.stderr
    print(
        f"{summary['done']} done ({summary['pages']} pages, {summary['resumed']} resumed), "
        f"{summary['skipped']} skipped (already done), {summary['failed']} failed, "
        f"{summary['ignored']} ignored (not an image or PDF) in {summary['elapsed_s']:.1f} s -> {summary['outdir']}",
        file=err,
    )
    if summary["failures"]:
        width = max(len("file"), *(len(f["path"]) for f in summary["failures"]))
        print(f"\n{'file':<{width}}  reason", file=err)
        print(f"{'-' * width}  {'-' * 6}", file=err)
        for failure in summary["failures"]:
            print(f"{failure['path']:<{width}}  {failure['reason']}", file=err)


def cmd_status(args: argparse.Namespace) -> int:
    with Client(args.server, **_client_options(args)) as client:
        print(json.dumps(client.job(args.job_id).raw, indent=2))
    return 0


def cmd_get(args: argparse.Namespace) -> int:
    with Client(args.server, **_client_options(args)) as client:
        if args.wait:
            client.wait(args.job_id, raise_on_failure=True)
        if args.output:
            client.download(args.job_id, args.format, args.output)
        else:
            sys.stdout.buffer.write(client.result(args.job_id, args.format))
            sys.stdout.flush()
    return 0


def cmd_languages(args: argparse.Namespace) -> int:
    with Client(args.server, **_client_options(args)) as client:
        body = client.languages()
    if args.json:
        print(json.dumps(body))
    else:
        for lang in body["languages"]:
            print(f"{lang}  (default)" if lang == body.get("default") else lang)
    return 0


def main(argv: list[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    func: Callable[[argparse.Namespace], int] = args.func
    try:
        code = func(args)
    except ApiError as exc:
        print(f"ocr-client: the server answered {exc.status} {exc.code}: {exc.message}", file=sys.stderr)
        code = EXIT_FAILED
    except OcrClientError as exc:
        print(f"ocr-client: {exc}", file=sys.stderr)
        code = EXIT_FAILED
    except KeyboardInterrupt:
        code = EXIT_INTERRUPTED
    sys.exit(code)


if __name__ == "__main__":
    main()
