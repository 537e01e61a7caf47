"""End-to-end throughput of the whole service against the OCR engine alone, on the same pages, in one run.

For each process count N it starts the service twice (API + Celery worker with --concurrency N over Redis,
OCR_ENGINE=tesserocr and OCR_ENGINE=pytesseract) and runs every page set (A4 pages, receipts, single lines;
bench/workload.py) through each method in turn, so that all figures of a set come from the same minutes:

  service              upload -> queue -> workers -> result download, all jobs submitted at once, with the
                       preprocessing passes off: the engine's work plus everything the service adds
  engine               the service's engine alone in N processes (bench/baselines.py)
  cli                  plain `tesseract` with N processes
  naive                pytesseract.image_to_string in N processes
  service-pytesseract  the service with the CLI engine (one tesseract process per page)
  service-defaults     the service with its default deskew, orientation and retry passes

then, on the idle service with the largest N, the latency of one small image and the wall time of a long
PDF against the ideal split of its pages over N processes. Prints Markdown tables (pages/s, CPU per page,
ratios, scaling) and writes every figure to --json. Redis is shared; each service has its own queue.

`--drain` measures the workers alone: the service's consumer is paused (`celery control cancel_consumer`),
every page is uploaded, then the consumer is resumed and the batch is timed on the server, from the first job
started to the last one finished, so the API does not compete with the workers for the CPU. `--postgres`
keeps the job records in a fresh PostgreSQL database instead of the default SQLite file. The per-step
timings the workers record (ocr_page_step_seconds, workers/timings.py) are read from each stack's metrics
directory and printed per set: where a small job's time goes besides recognition.

    .venv/bin/python -m bench.throughput --quick
    .venv/bin/python -m bench.throughput --json /tmp/throughput.json
    # the issue's table (A4 pages, receipts, single lines; service / engine), in about 5 minutes on 2 cores:
    .venv/bin/python -m bench.throughput --methods service,engine --sets A4:4,receipt:14,line:150 \
        --processes 1,2 --repeats 2 --drain --no-extras
"""

from __future__ import annotations

import argparse
import datetime
import itertools
import json
import os
import platform
import statistics
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from bench import baselines, workload
from bench.postgres import drop_pg_database, new_pg_database
from bench.stack import Sampler, ServiceClient, Stack, scratch_dir, tree_cpu_seconds

# The engine alone reads each page once; so does the service with its preprocessing switched off, which
# makes "service" the same work plus the service around it. "service-defaults" adds the default deskew,
# orientation and retry passes (workers/ocr/preprocess.py).
PLAIN = {"orient": "false", "deskew": "false", "retry": "false"}
SERVICE_METHODS = {  # method: (OCR_ENGINE, upload fields)
    "service": ("tesserocr", PLAIN),
    "service-defaults": ("tesserocr", {}),
    "service-pytesseract": ("pytesseract", PLAIN),
}
METHODS = ("service", "engine", "cli", "naive", "service-pytesseract", "service-defaults")


@dataclass
class Row:
    kind: str
    method: str
    processes: int
    pages: int
    seconds: float
    cpu_seconds: float  # of the service's processes or the engine's, not of this benchmark's client

    @property
    def pages_per_s(self) -> float:
        return self.pages / self.seconds

    @property
    def cpu_per_page(self) -> float:
        return self.cpu_seconds / self.pages


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def parse_sets(text: str) -> dict[str, int]:
    """`A4:4,receipt:14,line:150` -> pages per set (each set's files repeated or cut to that many)."""
    sets = {}
    for item in text.split(","):
        kind, _, count = item.partition(":")
        if kind not in workload.KINDS or not count.isdigit():
            raise argparse.ArgumentTypeError(f"{item!r}: want KIND:COUNT with KIND one of {', '.join(workload.KINDS)}")
        sets[kind] = int(count)
    return sets


def warm_up(stack: Stack, client: ServiceClient) -> None:
    """Each worker process loads its engine and models before anything is timed."""
    small = workload.corpus_file(workload.SMALL_IMAGE)
    client.finish_all([client.upload(small) for _ in range(stack.workers * 3)])


def run_service(client: ServiceClient, files: list[Path], fields: dict[str, str]) -> float:
    from concurrent.futures import ThreadPoolExecutor

    started = time.perf_counter()
    with ThreadPoolExecutor(4) as uploads:
        ids = list(uploads.map(lambda path: client.upload(path, **fields), files))
    client.finish_all(ids, poll_s=0.05)  # 20 cheap status reads a second: the end of a batch is seen within 50 ms
    return time.perf_counter() - started


def run_drain(stack: Stack, client: ServiceClient, files: list[Path], fields: dict[str, str]) -> float:
    """Upload every page while the worker does not consume, then time the workers alone on the server's own
    clock: from the first job started to the last finished (the API then only answers a status read a tenth
    of a second)."""
    from concurrent.futures import ThreadPoolExecutor

    stack.control("cancel_consumer")
    try:
        with ThreadPoolExecutor(4) as uploads:
            ids = list(uploads.map(lambda path: client.upload(path, **fields), files))
    finally:
        stack.control("add_consumer")
    jobs = client.finish_all(ids, poll_s=0.1)
    started = min(datetime.datetime.fromisoformat(job["started_at"]) for job in jobs)
    finished = max(datetime.datetime.fromisoformat(job["finished_at"]) for job in jobs)
    return (finished - started).total_seconds()


def measure_latency(client: ServiceClient, runs: int, fields: dict[str, str]) -> dict[str, Any]:
    """One small image at a time on an idle service: upload until its text is downloaded."""
    small = workload.corpus_file(workload.SMALL_IMAGE)
    totals, server = [], []
    for _ in range(runs):
        started = time.perf_counter()
        job_id = client.upload(small, **fields)
        while (job := client.status(job_id))["status"] not in ("succeeded", "failed"):
            time.sleep(0.005)
        client.text(job_id)
        totals.append(time.perf_counter() - started)
        created = datetime.datetime.fromisoformat(job["created_at"])
        finished = datetime.datetime.fromisoformat(job["finished_at"])
        server.append((finished - created).total_seconds())
    _, engine_times, _ = baselines.run("engine", [small] * 5, 1)
    _, cli_times, _ = baselines.run("cli", [small] * 5, 1)
    return {
        "image": workload.SMALL_IMAGE,
        "preprocessing": "defaults" if not fields else "off",
        "runs": runs,
        "p50_s": statistics.median(totals),
        "p95_s": percentile(totals, 0.95),
        "server_p50_s": statistics.median(server),
        "engine_alone_s": statistics.median(engine_times),
        "cli_alone_s": statistics.median(cli_times),
    }


def measure_long_pdf(client: ServiceClient, work_dir: Path, pages: int, processes: int) -> dict[str, Any]:
    """Wall time of one long PDF through the service against the ideal split of its pages over N processes
    (the engine's own time for each page, rendered and read in N processes, summed and divided by N), and
    against the wall time of the engine alone on the same pages."""
    pdf, _ = workload.build_long_pdf(work_dir / "long.pdf", pages)
    engine_wall, times, _ = baselines.run("engine", [(pdf, n) for n in range(1, pages + 1)], processes)
    ideal = sum(times) / processes
    started = time.perf_counter()
    client.finish_all([client.upload(pdf, **PLAIN)], poll_s=0.5)
    wall = time.perf_counter() - started
    return {"pages": pages, "processes": processes, "wall_s": wall, "ideal_s": ideal, "ratio": wall / ideal,
            "engine_wall_s": engine_wall, "mean_page_s": sum(times) / len(times),
            "pdf_mib": pdf.stat().st_size / 2**20}  # fmt: skip


def measure(
    method: str,
    page_set: workload.PageSet,
    n: int,
    stacks: dict[str, Stack],
    clients: dict[str, ServiceClient],
    extra: dict[str, Any],
) -> Row:
    if method not in SERVICE_METHODS:
        seconds, _, cpu = baselines.run(method, page_set.files, n)
        return Row(page_set.kind, method, n, page_set.pages, seconds, cpu)
    engine, fields = SERVICE_METHODS[method]
    stack = stacks[engine]
    sampler = Sampler(tree_pid=stack.worker.pid)  # type: ignore[union-attr]
    # Draining, only the worker pool's CPU counts (the API's went into the uploads before the timing).
    cpu_now = (lambda: tree_cpu_seconds(stack.worker.pid)) if extra.get("drain") else stack.cpu_seconds  # type: ignore[union-attr]
    cpu = cpu_now()
    steps = stack.step_timings()
    with sampler:
        if extra.get("drain"):
            seconds = run_drain(stack, clients[engine], page_set.files, fields)
        else:
            seconds = run_service(clients[engine], page_set.files, fields)
    cpu = cpu_now() - cpu
    after = stack.step_timings()
    extra["steps"].setdefault(f"{method}-{n}-{page_set.kind}", []).append(
        {step: {"count": c - steps.get(step, (0, 0.0))[0], "ms": (s - steps.get(step, (0, 0.0))[1]) * 1000}
         for step, (c, s) in after.items() if c > steps.get(step, (0, 0.0))[0]}
    )  # fmt: skip
    extra["threads"][f"{method}-{n}-{page_set.kind}"] = {"max_threads": sampler.max_threads,
                                                          "omp": sorted(sampler.omp_limits)}  # fmt: skip
    return Row(page_set.kind, method, n, page_set.pages, seconds, cpu)


def run_all(args: argparse.Namespace, work_dir: Path) -> dict[str, Any]:
    sets = workload.page_sets(work_dir, args.quick, args.sets)
    rows: list[Row] = []
    extra: dict[str, Any] = {"inspect": {}, "threads": {}, "steps": {}, "drain": args.drain}
    for n in args.processes:
        rows += run_at(n, args, work_dir, sets, extra)
    return {"rows": [{**asdict(r), "pages_per_s": r.pages_per_s, "cpu_per_page": r.cpu_per_page} for r in rows],
            **extra}  # fmt: skip


def run_at(
    n: int, args: argparse.Namespace, work_dir: Path, sets: list[workload.PageSet], extra: dict[str, Any]
) -> list[Row]:
    """Every method on every page set with N worker processes, args.repeats times."""
    engines = dict.fromkeys(SERVICE_METHODS[m][0] for m in args.methods if m in SERVICE_METHODS)
    env = dict(item.split("=", 1) for item in args.env)
    if args.postgres:
        env["OCR_DATABASE_URL"] = new_pg_database(args.postgres)
    stacks = {engine: Stack(work_dir / f"{engine}-{n}", args.redis_url, n, engine=engine, extra_env=env)
              for engine in engines}  # fmt: skip
    clients: dict[str, ServiceClient] = {}
    rows: list[Row] = []
    try:
        for engine, stack in stacks.items():
            stack.start()
            clients[engine] = ServiceClient(stack.base_url)
            warm_up(stack, clients[engine])
            extra["inspect"][f"{engine}-{n}"] = stack.inspect()
        for attempt in range(1, args.repeats + 1):
            for page_set, method in itertools.product(sets, args.methods):
                row = measure(method, page_set, n, stacks, clients, extra)
                rows.append(row)
                print(f"  #{attempt} N={n} {page_set.kind:8} {method:20} {row.pages_per_s:7.3f} pages/s "
                      f"{row.cpu_per_page * 1000:7.1f} ms CPU/page", flush=True)  # fmt: skip
        if n == max(args.processes) and args.extras and "tesserocr" in clients:
            runs = 8 if args.quick else 30
            extra["latency"] = [measure_latency(clients["tesserocr"], runs, f) for f in (PLAIN, {})]
            extra["long_pdf"] = measure_long_pdf(clients["tesserocr"], work_dir, args.pdf_pages, n)
    finally:
        for client in clients.values():
            client.close()
        for stack in stacks.values():
            stack.stop()
        if args.postgres:
            drop_pg_database(args.postgres, env["OCR_DATABASE_URL"])
    return rows


def table(header: list[str], rows: list[list[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    return lines + ["| " + " | ".join(row) + " |" for row in rows]


def markdown(result: dict[str, Any]) -> str:
    # Best of the attempts: other work on the machine only ever slows a run down.
    rows: dict[tuple[str, str, int], dict[str, Any]] = {}
    for r in result["rows"]:
        key = (r["kind"], r["method"], r["processes"])
        best = rows.setdefault(key, dict(r))
        best["pages_per_s"] = max(best["pages_per_s"], r["pages_per_s"])
        best["cpu_per_page"] = min(best["cpu_per_page"], r["cpu_per_page"])
    kinds = list(dict.fromkeys(r["kind"] for r in result["rows"]))
    counts = sorted({r["processes"] for r in result["rows"]})
    methods = [m for m in METHODS if any(r["method"] == m for r in result["rows"])]
    cells = [(kind, n) for kind in kinds for n in counts]
    pairs = [("service", "engine"), ("service", "naive"), ("service", "cli"), ("service-pytesseract", "engine"),
             ("service-defaults", "engine")]  # fmt: skip
    ratios = [(a, b) for a, b in pairs if a in methods and b in methods]

    def speed(kind: str, method: str, n: int) -> float:
        return float(rows[(kind, method, n)]["pages_per_s"])

    def cpu(kind: str, method: str, n: int) -> float:
        return float(rows[(kind, method, n)]["cpu_per_page"])

    timed = "the workers' drain, first job started to last finished" if result.get("drain") else "the whole batch"
    out = [f"Pages per second, wall time of {timed} (best of {result.get('repeats', 1)}):", ""]
    out += table(
        ["pages", "N", "pages in set", *methods, *(f"{a} / {b}" for a, b in ratios)],
        [[kind, str(n), str(rows[(kind, methods[0], n)]["pages"]), *(f"{speed(kind, m, n):.3f}" for m in methods),
          *(f"{speed(kind, a, n) / speed(kind, b, n):.3f}" for a, b in ratios)] for kind, n in cells],
    )  # fmt: skip
    who = "the worker pool (draining)" if result.get("drain") else "the API and the worker pool"
    out += ["", f"CPU ms per page used by the service's processes ({who}; not Redis, not this "
            "client) and by the engine alone; ratios as engine-time / service-time:", ""]  # fmt: skip
    out += table(
        ["pages", "N", *methods, *(f"{a} / {b}" for a, b in ratios)],
        [[kind, str(n), *(f"{cpu(kind, m, n) * 1000:.0f}" for m in methods),
          *(f"{cpu(kind, b, n) / cpu(kind, a, n):.3f}" for a, b in ratios)] for kind, n in cells],
    )  # fmt: skip
    if len(counts) > 1:
        lo, hi = counts[0], counts[-1]
        out += ["", f"Scaling {lo} -> {hi} processes (pages/s at {hi} / pages/s at {lo}):", ""]
        out += table(
            ["pages", *methods],
            [[kind, *(f"{speed(kind, m, hi) / speed(kind, m, lo):.2f}x" for m in methods)] for kind in kinds],
        )
    out += step_table(result.get("steps", {}))
    for lat in result.get("latency", []):
        out += ["", f"Latency of {lat['image']} on the idle service, preprocessing {lat['preprocessing']} "
                f"({lat['runs']} runs, upload to downloaded text): p50 {lat['p50_s'] * 1000:.0f} ms, p95 "
                f"{lat['p95_s'] * 1000:.0f} ms; created to finished on the server p50 {lat['server_p50_s'] * 1000:.0f}"
                f" ms; the engine alone {lat['engine_alone_s'] * 1000:.0f} ms, the tesseract program "
                f"{lat['cli_alone_s'] * 1000:.0f} ms."]  # fmt: skip
    if pdf := result.get("long_pdf"):
        out += ["", f"{pdf['pages']}-page PDF ({pdf['pdf_mib']:.1f} MiB), preprocessing off, N={pdf['processes']}: "
                f"wall {pdf['wall_s']:.1f} s, ideal split {pdf['ideal_s']:.1f} s (the engine's own time for each page, "
                f"mean {pdf['mean_page_s']:.2f} s, summed and divided by N): ratio **{pdf['ratio']:.3f}**; the engine "
                f"alone on the same pages in N processes took {pdf['engine_wall_s']:.1f} s "
                f"(service / engine {pdf['wall_s'] / pdf['engine_wall_s']:.3f})"]  # fmt: skip
    return "\n".join(out)


def step_table(steps: dict[str, list[dict[str, Any]]]) -> list[str]:
    """Mean ms per job of each step the workers timed (workers/timings.py), from the fastest attempt."""
    names = list(dict.fromkeys(step for attempts in steps.values() for a in attempts for step in a))
    if not names:
        return []
    out = ["", "Worker-side steps, mean ms per page (ocr_page_step_seconds; `between`: a pool process's gap from "
           "one task's end to the next one's start: acknowledgement, dispatch and waiting for work):", ""]  # fmt: skip
    rows = []
    for key, attempts in steps.items():
        pages = max(a.get("task", {}).get("count", 0) for a in attempts) or 1
        cells = []
        for name in names:
            best = min((a[name]["ms"] / max(a[name]["count"], 1) for a in attempts if name in a), default=None)
            cells.append("" if best is None else f"{best:.1f}")
        rows.append([key, str(pages), *cells])
    return out + table(["method-N-pages", "tasks", *names], rows)


def machine() -> str:
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor())  # fmt: skip
    load = os.getloadavg()
    return f"{cpu}, {os.cpu_count()} cores, Python {platform.python_version()}, load average at start {load[0]:.2f}"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="a few pages per set, 20-page PDF (development)")
    parser.add_argument("--processes", type=lambda s: [int(x) for x in s.split(",")], default=None,
                        help="comma-separated process counts N (default: 1 and the number of cores)")  # fmt: skip
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/0", help="broker (default: %(default)s)")
    parser.add_argument("--pdf-pages", type=int, help="pages of the long PDF (default 100, 20 with --quick)")
    parser.add_argument("--repeats", type=int, default=1, help="run every set this many times, report the best")
    parser.add_argument("--json", type=Path, help="write every figure here")
    parser.add_argument("--methods", type=lambda s: s.split(","), default=list(METHODS),
                        help=f"comma-separated, of {', '.join(METHODS)} (default: all)")  # fmt: skip
    parser.add_argument("--sets", type=parse_sets, help="pages per set, e.g. A4:4,receipt:14,line:150")
    parser.add_argument("--drain", action="store_true", help="time the workers alone on a queue filled first")
    parser.add_argument("--postgres", nargs="?", const="postgresql://postgres@127.0.0.1:5432/postgres",
                        metavar="ADMIN_URL", help="job records in a new PostgreSQL database made through ADMIN_URL "
                        "(default: %(const)s) instead of SQLite")  # fmt: skip
    parser.add_argument(
        "--env",
        action="append",
        default=[],
        metavar="OCR_NAME=VALUE",
        help="a setting of the services under test (repeatable): OCR_PREFETCH_MULTIPLIER=4",
    )
    parser.add_argument(
        "--no-extras", dest="extras", action="store_false", help="skip the idle latency and long-PDF measurements"
    )
    parser.add_argument("--work-dir", type=Path, help="where data dirs and temporary files go (default: .bench/)")
    args = parser.parse_args(argv)
    if unknown := set(args.methods) - set(METHODS):
        parser.error(f"unknown methods: {', '.join(sorted(unknown))}")
    args.processes = args.processes or sorted({1, os.cpu_count() or 1})
    args.pdf_pages = args.pdf_pages or (20 if args.quick else 100)
    started = datetime.datetime.now(datetime.UTC)
    header = f"{started:%Y-%m-%d %H:%M} UTC; {machine()}"
    print(header, flush=True)
    with scratch_dir(args.work_dir, "ocr-bench-") as tmp:
        result = run_all(args, Path(tmp))
    result |= {"command": " ".join([Path(sys.executable).name, "-m", "bench.throughput", *(argv or sys.argv[1:])]),
               "started": header, "load_at_end": os.getloadavg()[0], "repeats": args.repeats}  # fmt: skip
    print()
    print(markdown(result))
    print(f"\nload average at the end {result['load_at_end']:.2f}")
    if args.json:
        args.json.write_text(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
