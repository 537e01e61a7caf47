"""`ocr-client`'s commands about single jobs and the server: status, get, cancel, delete, list, languages."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from ocr_client.cli_common import client_options
from ocr_client.client import Client
from ocr_client.options import FORMATS

LIST_COLUMNS = ("id", "status", "created_at", "pages", "filename")


def add_job_commands(sub: Any, common: argparse.ArgumentParser) -> None:
    status = sub.add_parser("status", parents=[common], help="a job's status, as JSON")
    status.add_argument("job_id", metavar="JOB_ID")
    status.set_defaults(func=cmd_status)

    get = sub.add_parser("get", parents=[common], help="download a job's result")
    get.add_argument("job_id", metavar="JOB_ID")
    get.add_argument("--format", "-f", default="txt", choices=FORMATS)
    get.add_argument("--output", "-o", metavar="FILE", help="default: standard output")
    get.add_argument("--wait", action="store_true", help="wait for the job to finish first")
    get.set_defaults(func=cmd_get)

    cancel = sub.add_parser(
        "cancel", parents=[common], help="cancel queued or running jobs",
        description="Stop queued or running jobs: their pages stop and they end 'cancelled', keeping their input.",
    )  # fmt: skip
    cancel.add_argument("job_ids", nargs="+", metavar="JOB_ID")
    cancel.set_defaults(func=cmd_cancel)

    delete = sub.add_parser(
        "delete", parents=[common], help="delete jobs and their files",
        description="Remove jobs and their files from the server; a queued or running job is cancelled first.",
    )  # fmt: skip
    delete.add_argument("job_ids", nargs="+", metavar="JOB_ID")
    delete.set_defaults(func=cmd_delete)

    listing = sub.add_parser(
        "list", parents=[common], help="the jobs of your key, newest first",
        description="List jobs, newest first: one page (--limit jobs) and how to ask for the next, or --all. An "
        "API key sees its own jobs; an admin key sees every job.",
    )  # fmt: skip
    listing.add_argument("--limit", "-n", type=int, help="jobs per page (default: the server's, 50)")
    listing.add_argument("--cursor", help="the page after this cursor (printed at the end of a page)")
    listing.add_argument("--all", "-a", action="store_true", help="every page, to the oldest job")
    listing.add_argument("--json", action="store_true", help="one JSON object a line (JSON Lines), the full status")
    listing.set_defaults(func=cmd_list)

    languages = sub.add_parser("languages", parents=[common], help="the server's installed languages")
    languages.add_argument("--json", action="store_true")
    languages.set_defaults(func=cmd_languages)


def cmd_status(args: argparse.Namespace) -> int:
    with Client(args.server, **client_options(args)) as client:
        print(json.dumps(client.job(args.job_id).raw, indent=2))
    return 0


def cmd_get(args: argparse.Namespace) -> int:
    with Client(args.server, **client_options(args)) as client:
        if args.wait:
            client.wait(args.job_id, raise_on_failure=True)
        if args.output:
            client.download(args.job_id, args.format, args.output)
        else:
            sys.stdout.buffer.write(client.result(args.job_id, args.format))
            sys.stdout.flush()
    return 0


def cmd_cancel(args: argparse.Namespace) -> int:
    with Client(args.server, **client_options(args)) as client:
        for job_id in args.job_ids:
            job = client.cancel(job_id)
            print(f"{job.id}  {job.status}", flush=True)
    return 0


def cmd_delete(args: argparse.Namespace) -> int:
    with Client(args.server, **client_options(args)) as client:
        for job_id in args.job_ids:
            client.delete(job_id)
            print(f"{job_id}  deleted", flush=True)
    return 0


def cmd_list(args: argparse.Namespace) -> int:
    if args.limit is not None and not 1 <= args.limit <= 500:
        raise SystemExit("ocr-client: --limit must be between 1 and 500")
    cursor = args.cursor
    with Client(args.server, **client_options(args)) as client:
        while True:
            page = client.jobs(args.limit, cursor)
            for job in page.jobs:
                print(json.dumps(job.raw) if args.json else _row(job.raw), flush=True)
            cursor = page.next_cursor
            if not cursor or not args.all:
                break
    if cursor:
        print(f"more: ocr-client list --cursor {cursor}  (or --all)", file=sys.stderr)
    return 0


def _row(job: dict[str, Any]) -> str:
    total = job.get("pages_total")
    pages = f"{job.get('pages_done', 0)}/{total}" if total is not None else "-"
    created = str(job.get("created_at", ""))[:19].replace("T", " ")
    return f"{job['id']}  {job['status']:<9}  {created}  {pages:>7}  {job.get('filename') or ''}"


def cmd_languages(args: argparse.Namespace) -> int:
    with Client(args.server, **client_options(args)) as client:
        body = client.languages()
    if args.json:
        print(json.dumps(body))
    else:
        for lang in body["languages"]:
            print(f"{lang}  (default)" if lang == body.get("default") else lang)
    return 0
