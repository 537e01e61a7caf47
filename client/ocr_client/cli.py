"""`ocr-client`: OCR folders of scans through the service (once, or watching them), and look after single jobs.
A thin layer over ocr_client.batch, ocr_client.watch and ocr_client.client; the commands are in cli_files.py
and cli_jobs.py."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable

from ocr_client._version import __version__
from ocr_client.cli_common import common_parser
from ocr_client.cli_files import EXIT_FAILED, EXIT_INTERRUPTED, add_file_flags, cmd_submit, upload_options
from ocr_client.cli_jobs import add_job_commands
from ocr_client.errors import ApiError, OcrClientError
from ocr_client.pipes import stdout_gone

__all__ = ["build_parser", "main", "upload_options"]


EPILOG = """\
Examples:
  ocr-client submit scans/ --out results/ --recursive             # scans/a/b.tif -> results/a/b.txt
  ocr-client submit scans/ --out results/ -r --formats txt,pdf --lang eng+deu --concurrency 8
  ocr-client submit one.pdf two.png --out out/ --json              # one summary object on stdout
  ocr-client watch inbox/ --out results/ --move-done done/         # every file that arrives, until stopped
  ocr-client status 7f0c...                                        # the job as JSON
  ocr-client get 7f0c... --format pdf -o scan.pdf
  ocr-client list --all; ocr-client cancel 7f0c...; ocr-client delete 7f0c...
  ocr-client languages

The server is --server, else $OCR_SERVER, else http://127.0.0.1:8000; the API key is --api-key, else
$OCR_API_KEY. Rerunning the same submit skips what is done and waits for jobs an interrupted run had
started instead of uploading them again (state in OUTDIR/.ocr-client-state.jsonl); watch resumes the same way.
Exit status: 0 all done, 1 some file failed (listed) or the server answered an error, 130 interrupted,
141 the output's reader went away (`| head`).
"""


def build_parser() -> argparse.ArgumentParser:
    from ocr_client.watch import add_watch_flags, cmd_watch

    common = common_parser()
    parser = argparse.ArgumentParser(
        prog="ocr-client",
        description="OCR images and PDFs with an OCR service: whole folders at once, watched folders, or single jobs.",
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
    add_file_flags(submit)
    submit.add_argument("--json", action="store_true", help="print one summary object on stdout, no progress")
    submit.set_defaults(func=cmd_submit)

    watch = sub.add_parser(
        "watch", parents=[common], help="OCR what is in a folder and every file that arrives, until stopped",
        description="OCR the images and PDFs in FOLDER, then every file that arrives there once it is complete "
        "(its size and time unchanged for --settle seconds, whether written in place or renamed in), with the "
        "results mirrored under OUTDIR as submit does. Runs until Ctrl-C or SIGTERM; restarted with the "
        "same OUTDIR it resumes, redoing nothing. docs/clients.md has a systemd unit and a compose service.",
        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter,
    )  # fmt: skip
    watch.add_argument("folder", metavar="FOLDER", help="the folder to watch")
    add_file_flags(watch)
    add_watch_flags(watch)
    watch.set_defaults(func=cmd_watch)

    add_job_commands(sub, common)
    return parser


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
    except BrokenPipeError:
        code = stdout_gone()
    try:
        sys.stdout.flush()
    except BrokenPipeError:
        code = stdout_gone()
    sys.exit(code)


if __name__ == "__main__":
    main()
