"""The upload path of one API process: closed-loop uploads/s, CPU ms per upload, and open-loop latency.

Starts one `ocr-service api` process (one uvicorn worker) over the local Redis with a queue no worker consumes,
on SQLite (the default) or on a PostgreSQL database made for the run (--database postgres), and posts a small
image (a pre-built multipart body on raw keep-alive asyncio sockets, so the client costs little):

- closed loop: C connections, each posting back to back for --seconds: uploads/s of the process, and the
  API process's CPU time (/proc/PID/stat, utime+stime) per upload over the same interval;
- open loop: uploads sent on a fixed schedule (--rate a second for --seconds) whatever the answers; a request
  whose time has come takes a free connection or opens one, so a slow API cannot slow the sender down, and each
  latency runs from the scheduled send time to the whole answer read (queueing included).

    .venv/bin/python -m bench.upload_rate                        # SQLite, about 40 s
    .venv/bin/python -m bench.upload_rate --database postgres --json /tmp/upload_pg.json
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime
import json
import os
import statistics
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from bench import workload
from bench.postgres import drop_pg_database, new_pg_database
from bench.stack import Stack, scratch_dir
from bench.throughput import machine, percentile

_TICK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> tuple[float, float]:
    """User and system CPU time of a process so far (/proc/PID/stat utime, stime)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return int(fields[11]) / _TICK, int(fields[12]) / _TICK


def _cpu_per_upload(before: tuple[float, float], pid: int, uploads: int) -> dict[str, float]:
    user, system = (after - start for after, start in zip(cpu_seconds(pid), before, strict=True))
    n = max(1, uploads)
    return {"api_cpu_ms_per_upload": (user + system) * 1000 / n, "api_user_ms": user * 1000 / n,
            "api_sys_ms": system * 1000 / n}  # fmt: skip


PG_ADMIN_URL = os.environ.get("OCR_TEST_PG_ADMIN", "postgresql://postgres@127.0.0.1:5432/postgres")


def multipart_request(host: str, image: Path) -> bytes:
    boundary = uuid.uuid4().hex
    body = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{image.name}"\r\n'
        "Content-Type: application/octet-stream\r\n\r\n".encode()
        + image.read_bytes()
        + f"\r\n--{boundary}--\r\n".encode()
    )
    head = (
        f"POST /v1/jobs HTTP/1.1\r\nHost: {host}\r\nContent-Type: multipart/form-data; boundary={boundary}\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    ).encode()
    return head + body


async def _exchange(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, request: bytes) -> int:
    writer.write(request)
    head = await reader.readuntil(b"\r\n\r\n")
    length = next(int(h.split(b":", 1)[1]) for h in head.lower().split(b"\r\n") if h.startswith(b"content-length:"))
    await reader.readexactly(length)
    return int(head.split(b" ", 2)[1])


def _summary(latencies: list[float], codes: list[int], elapsed: float) -> dict[str, Any]:
    return {"requests": len(latencies), "errors": sum(c != 202 for c in codes), "seconds": elapsed,
            "per_s": len(latencies) / elapsed, "p50_ms": statistics.median(latencies) * 1000,
            "p95_ms": percentile(latencies, 0.95) * 1000, "p99_ms": percentile(latencies, 0.99) * 1000,
            "max_ms": max(latencies) * 1000}  # fmt: skip


async def closed_loop(port: int, request: bytes, clients: int, seconds: float, api_pid: int) -> dict[str, Any]:
    latencies: list[float] = []
    codes: list[int] = []
    deadline = 0.0

    async def client() -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            while time.perf_counter() < deadline:
                started = time.perf_counter()
                codes.append(await _exchange(reader, writer, request))
                latencies.append(time.perf_counter() - started)
        finally:
            writer.close()

    cpu_before = cpu_seconds(api_pid)
    started = time.perf_counter()
    deadline = started + seconds
    await asyncio.gather(*(client() for _ in range(clients)))
    elapsed = time.perf_counter() - started
    cpu = _cpu_per_upload(cpu_before, api_pid, len(latencies))
    return {"mode": "closed", "clients": clients, **_summary(latencies, codes, elapsed), **cpu}


async def open_loop(port: int, request: bytes, rate: float, seconds: float, api_pid: int) -> dict[str, Any]:
    idle: list[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = []
    latencies: list[float] = []
    codes: list[int] = []
    opened = 0

    async def send(scheduled: float) -> None:
        nonlocal opened
        if idle:
            conn = idle.pop()
        else:
            conn = await asyncio.open_connection("127.0.0.1", port)
            opened += 1
        codes.append(await _exchange(*conn, request))
        latencies.append(time.perf_counter() - scheduled)
        idle.append(conn)

    total = int(rate * seconds)
    cpu_before = cpu_seconds(api_pid)
    started = time.perf_counter()
    tasks = []
    for i in range(total):
        scheduled = started + i / rate
        delay = scheduled - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(send(scheduled)))
    await asyncio.gather(*tasks)
    elapsed = time.perf_counter() - started
    cpu = _cpu_per_upload(cpu_before, api_pid, len(latencies))
    for _, writer in idle:
        writer.close()
    return {"mode": "open", "rate": rate, "connections": opened, **_summary(latencies, codes, elapsed), **cpu}


@contextlib.contextmanager
def postgres_database() -> Iterator[str]:
    """A PostgreSQL database made for the run (bench.throughput's), dropped after it."""
    url = new_pg_database(PG_ADMIN_URL)
    try:
        yield url
    finally:
        drop_pg_database(PG_ADMIN_URL, url)


def markdown(result: dict[str, Any]) -> str:
    settings = " ".join([result["database"], *result["settings"]])
    out = [f"{result['started']}; {settings}; load average at the end {result['load_at_end']:.2f}", "",
           "| load | uploads | uploads/s | p50 ms | p95 ms | p99 ms | API CPU ms/upload (user+sys) | errors |",
           "|---|---|---|---|---|---|---|---|"]  # fmt: skip
    for run in result["runs"]:
        label = f"closed, {run['clients']} clients" if run["mode"] == "closed" else f"open, {run['rate']:.0f}/s"
        out.append(f"| {label} | {run['requests']} | {run['per_s']:.0f} | {run['p50_ms']:.1f} | "
                   f"{run['p95_ms']:.1f} | {run['p99_ms']:.1f} | {run['api_cpu_ms_per_upload']:.2f} "
                   f"({run['api_user_ms']:.2f}+{run['api_sys_ms']:.2f}) | "
                   f"{run['errors']} |")  # fmt: skip
    return "\n".join(out)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database", choices=("sqlite", "postgres"), default="sqlite")
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/0", help="broker (default: %(default)s)")
    parser.add_argument("--seconds", type=float, default=8.0, help="length of each run (default: %(default)s)")
    parser.add_argument("--clients", type=lambda s: [int(x) for x in s.split(",")], default=[8, 32],
                        help="closed-loop connections, comma-separated (default: 8,32)")  # fmt: skip
    parser.add_argument("--rate", type=float, default=100.0, help="open-loop uploads a second (default: 100)")
    parser.add_argument("--repeat", type=int, default=1, help="run the whole set this many times")
    parser.add_argument("--image", default=workload.SMALL_IMAGE, help="corpus file to upload (default: %(default)s)")
    parser.add_argument("--set", action="append", default=[], metavar="OCR_NAME=VALUE",
                        help="a setting for the API process (repeatable), e.g. OCR_UPLOAD_CONCURRENCY=8")  # fmt: skip
    parser.add_argument("--json", type=Path, help="write every figure here")
    parser.add_argument("--work-dir", type=Path, help="where the data dir goes (default: .bench/)")
    args = parser.parse_args(argv)
    header = f"{datetime.datetime.now(datetime.UTC):%Y-%m-%d %H:%M} UTC; {machine()}"
    print(header, flush=True)
    image = workload.corpus_file(args.image)
    result: dict[str, Any] = {"started": header, "database": args.database, "image": image.name,
                              "settings": args.set, "runs": []}  # fmt: skip
    with contextlib.ExitStack() as cleanup:
        tmp = cleanup.enter_context(scratch_dir(args.work_dir, "ocr-bench-upload-"))
        env = dict(item.split("=", 1) for item in args.set)
        if args.database == "postgres":
            env["OCR_DATABASE_URL"] = cleanup.enter_context(postgres_database())
        stack = cleanup.enter_context(Stack(Path(tmp) / "api", args.redis_url, workers=0, extra_env=env))
        assert stack.api is not None
        port = int(stack.base_url.rsplit(":", 1)[1])
        request = multipart_request("127.0.0.1", image)
        asyncio.run(closed_loop(port, request, 4, 1.0, stack.api.pid))  # warm-up: imports, pools, first pages
        for _ in range(args.repeat):
            for clients in args.clients:
                result["runs"].append(asyncio.run(closed_loop(port, request, clients, args.seconds, stack.api.pid)))
                print(result["runs"][-1], flush=True)
            result["runs"].append(asyncio.run(open_loop(port, request, args.rate, args.seconds, stack.api.pid)))
            print(result["runs"][-1], flush=True)
    result["command"] = " ".join([Path(sys.executable).name, "-m", "bench.upload_rate", *(argv or sys.argv[1:])])
    result["load_at_end"] = os.getloadavg()[0]
    print()
    print(markdown(result))
    if args.json:
        args.json.write_text(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
