"""`ocr-client submit` against the plain shell loop of curl uploads and polls in docs/api.md, on the same
files, and against the time the workers alone need for them.

Starts `ocr-service serve` (one worker process per core, its private broker, result cache off so every file is
really read), makes N small single-line scans from ../shared/corpus (default 200), then times, one after the
other on the same service:

- `curl loop`: docs/api.md's folder recipe (the `bash curl-recipe` block with `for f in scans/*`), run as
  written: upload, poll every 0.5 s, download, one file at a time (--no-curl leaves it out: for thousands of
  files it takes an hour);
- `ocr-client -j C`: `ocr-client submit scans --out DIR --concurrency C` for each C of --concurrency.

Then the workers alone (--drain, on by default): the same files uploaded to an API with no worker on its queue
(the local Redis, SQLite), then `ocr-service worker --concurrency N` started, as serve starts it, and timed
until the last job has ended: what N worker processes need for these files when nothing else runs. Each
client's wall time over that drain time is its ratio (the goal: ocr-client within 1.2 x).

Wall time, files a second and the CPU seconds the client side used (curl, jq and bash; or the ocr-client
process) are printed as a Markdown table and written to --json.

    .venv/bin/python -m bench.client_batch                      # about 5 minutes on 2 cores
    .venv/bin/python -m bench.client_batch --files 40 --concurrency 8
    .venv/bin/python -m bench.client_batch --files 2000 --no-curl --concurrency 8,32
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import re
import resource
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx

from bench.stack import REPO, free_port, scratch_dir
from bench.throughput import machine

CORPUS = REPO.parent / "shared" / "corpus" / "files"
SMALL = ("tess_HelloGoogle.tif", "tess_trainingtimes.tif", "tess_trainingital.tif", "pyt_test_la.png",
         "paperless_simple.png")  # fmt: skip
RECIPE = re.compile(r"^```bash curl-recipe\n(.*?)^```", re.S | re.M)


def readme_folder_loop() -> str:
    blocks = RECIPE.findall((REPO / "docs" / "api.md").read_text(encoding="utf-8"))
    return next(b for b in blocks if "for f in scans/*" in b)


def make_inputs(folder: Path, count: int) -> None:
    folder.mkdir(parents=True)
    for i in range(count):
        name = SMALL[i % len(SMALL)]
        shutil.copy(CORPUS / name, folder / f"{i:04d}_{name}")


def timed(cmd: list[str], cwd: Path, env: dict[str, str]) -> tuple[float, float, subprocess.CompletedProcess[str]]:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    out = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu, out


def drain_seconds(scans: Path, workers: int, redis_url: str, work: Path) -> dict[str, Any]:
    """Upload every file to an API whose queue no worker consumes, then start N worker processes and time them
    until every job has ended (read from the job database every 0.1 s)."""
    import sqlite3

    from bench.stack import Stack

    files = sorted(scans.iterdir())
    with Stack(work / "drain", redis_url, workers=0) as stack:  # result cache off, as in serve here
        uploaded_at = time.perf_counter()
        with httpx.Client(base_url=stack.base_url, timeout=60) as http:
            for path in files:
                http.post("/v1/jobs", files={"file": (path.name, path.read_bytes())}).raise_for_status()
        upload_s = time.perf_counter() - uploaded_at
        command = [sys.executable, "-m", "ocr_api.cli", "worker", "--concurrency", str(workers)]
        started = time.perf_counter()
        worker = stack._spawn(command, stack.data_dir / "logs" / "drain-worker.log")
        try:
            database = sqlite3.connect(stack.data_dir / "jobs.sqlite3", timeout=30)
            query = "SELECT count(*) FROM ocr_jobs WHERE status IN ('succeeded', 'failed', 'cancelled')"
            while database.execute(query).fetchone()[0] < len(files):
                if worker.poll() is not None:
                    raise SystemExit(f"the drain worker stopped; see {stack.data_dir / 'logs'}")
                time.sleep(0.1)
            drain_wall_s = time.perf_counter() - started
            failed = database.execute("SELECT count(*) FROM ocr_jobs WHERE status != 'succeeded'").fetchone()[0]
            first, last = database.execute("SELECT min(started_at), max(finished_at) FROM ocr_jobs").fetchone()
            database.close()
        finally:
            worker.send_signal(signal.SIGTERM)
            try:
                worker.wait(60)
            except subprocess.TimeoutExpired:
                worker.kill()
    # The drain time runs from the first job started to the last one ended (the worker process's own start,
    # its imports and models, is not in it, as it is not in the clients' runs, where serve's worker is up).
    drain_s = (datetime.datetime.fromisoformat(last) - datetime.datetime.fromisoformat(first)).total_seconds()
    return {"files": len(files), "workers": workers, "upload_s": upload_s, "drain_s": drain_s,
            "drain_wall_s": drain_wall_s, "failed": failed}  # fmt: skip


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--files", type=int, default=200)
    parser.add_argument("--concurrency", default="1,8", help="ocr-client --concurrency values (default: %(default)s)")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1, help="serve --concurrency")
    parser.add_argument("--no-curl", dest="curl", action="store_false", help="leave the curl loop of docs/api.md out")
    parser.add_argument("--no-drain", dest="drain", action="store_false", help="leave the workers-alone run out")
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/0", help="broker of the drain run")
    parser.add_argument("--json", type=Path, default=REPO / ".bench" / "client_batch.json")
    args = parser.parse_args(argv)

    scratch = scratch_dir(None, "client-batch-")
    work = Path(scratch.name)
    env = {k: v for k, v in os.environ.items() if not k.startswith("OCR_")}
    info = {"machine": machine(), "started": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
            "files": args.files, "serve_workers": args.workers, "inputs": list(SMALL)}  # fmt: skip
    try:
        results = run_clients(args, work, env)
        if args.drain:
            info["drain"] = drain_seconds(work / "scans", args.workers, args.redis_url, work)
            print(f"workers alone: {args.files} files in {info['drain']['drain_s']:.1f} s", file=sys.stderr)
    finally:
        scratch.cleanup()
    info["load_average_end"] = round(os.getloadavg()[0], 2)
    print_report(args, info, results)
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps({**info, "results": results}, indent=2))


def run_clients(args: argparse.Namespace, work: Path, env: dict[str, str]) -> list[dict[str, Any]]:
    """The curl loop of docs/api.md and ocr-client at each concurrency, one after another, against one `serve`."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    serve_env = {**env, "OCR_RESULT_CACHE": "false", "PYTHONUNBUFFERED": "1"}
    serve_cmd = [sys.executable, "-m", "ocr_api.cli", "serve", "--data-dir", str(work / "data"), "--port", str(port),
                 "--concurrency", str(args.workers), "--log-level", "WARNING"]  # fmt: skip
    log = (work / "serve.log").open("wb")
    serve = subprocess.Popen(serve_cmd, env=serve_env, cwd=REPO, stdout=log, stderr=subprocess.STDOUT)
    results: list[dict[str, Any]] = []
    try:
        wait_ready(url, work / "serve.log")
        make_inputs(work / "scans", args.files)
        if args.curl:
            results.append(run_curl_loop(work, env, url))
        for concurrency in (int(c) for c in args.concurrency.split(",")):
            results.append(run_ocr_client(work, env, url, concurrency))
    finally:
        serve.send_signal(signal.SIGINT)
        try:
            serve.wait(60)
        except subprocess.TimeoutExpired:
            serve.kill()
        log.close()
    return results


def wait_ready(url: str, log_path: Path, timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            if httpx.get(f"{url}/readyz", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            raise SystemExit(f"serve did not become ready; see {log_path}")
        time.sleep(0.2)


def run_curl_loop(work: Path, env: dict[str, str], url: str) -> dict[str, Any]:
    loop_dir = work / "curl"
    loop_dir.mkdir()
    (loop_dir / "scans").symlink_to(work / "scans")
    script = "set -uo pipefail\n" + readme_folder_loop()
    wall, cpu, _ = timed(["bash", "-c", script], loop_dir, {**env, "OCR": url})
    done = len(list((loop_dir / "out").glob("*.txt")))
    print(f"curl loop: {done} files in {wall:.1f} s", file=sys.stderr)
    return {"client": "curl loop (docs/api.md)", "wall_s": wall, "client_cpu_s": cpu, "done": done}


def run_ocr_client(work: Path, env: dict[str, str], url: str, concurrency: int) -> dict[str, Any]:
    outdir = work / f"out-j{concurrency}"
    cmd = [sys.executable, "-m", "ocr_client.cli", "submit", "scans", "--out", str(outdir), "--server", url,
           "--concurrency", str(concurrency), "--json"]  # fmt: skip
    wall, cpu, out = timed(cmd, work, env)
    summary = json.loads(out.stdout)
    print(f"ocr-client -j {concurrency}: {summary['done']} files in {wall:.1f} s", file=sys.stderr)
    return {"client": f"ocr-client -j {concurrency}", "wall_s": wall, "client_cpu_s": cpu,
            "done": summary["done"], "failed": summary["failed"]}  # fmt: skip


def print_report(args: argparse.Namespace, info: dict[str, Any], results: list[dict[str, Any]]) -> None:
    print(f"\n{info['machine']}; {args.files} files; serve with {args.workers} worker processes, result cache off\n")
    drain = info.get("drain")
    if drain:
        print(f"workers alone ({args.workers} processes, uploads done first): {drain['drain_s']:.1f} s for "
              f"{drain['files']} files from the first job started to the last ended ({drain['drain_wall_s']:.1f} s "
              f"from starting the worker; {drain['failed']} not succeeded); the uploads took {drain['upload_s']:.1f} s "
              "on their own\n")  # fmt: skip
    print("| client | files done | wall (s) | files/s | client CPU (s) | wall / workers alone |")
    print("|---|---|---|---|---|---|")
    for r in results:
        if drain:
            r["ratio_to_drain"] = r["wall_s"] / drain["drain_s"]
        ratio = f"{r['ratio_to_drain']:.2f}" if drain else "-"
        print(f"| {r['client']} | {r['done']} | {r['wall_s']:.1f} | {r['done'] / r['wall_s']:.2f} | "
              f"{r['client_cpu_s']:.1f} | {ratio} |")  # fmt: skip


if __name__ == "__main__":
    main()
