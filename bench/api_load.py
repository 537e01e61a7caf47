"""The API process alone: status reads per second, upload+enqueue latency under concurrent clients, and the
API's resident memory while it receives a 1 GiB upload.

Starts one API process (`ocr-service api`, one uvicorn worker) over the local Redis with a queue no worker
consumes, so uploads stay queued and nothing but the API is measured. Load goes to 127.0.0.1 only.

- status reads: a keep-alive HTTP/1.1 client on raw asyncio sockets (C connections, GET /v1/jobs/{id}), far
  cheaper per request than httpx, so on a small machine the client is not what limits the figure.
- uploads: C keep-alive connections, each posting a small image back to back; latency per request.
  (An httpx client costs more CPU per upload than the API does, and would measure itself.)
- 1 GiB upload: '%PDF-1.4' and zeros (sniffed as a PDF, refused later by a worker), streamed from a
  temporary file while /proc/PID/status VmRSS of the API process is sampled; the file is deleted after.

    .venv/bin/python -m bench.api_load --quick
    .venv/bin/python -m bench.api_load --json /tmp/api_load.json
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import json
import os
import statistics
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import httpx

from bench import workload
from bench.stack import Sampler, Stack, scratch_dir
from bench.throughput import machine, percentile

GIB = 1024**3


def _content_length(head: bytes) -> int:
    headers = head.lower().split(b"\r\n")
    return next(int(h.split(b":", 1)[1]) for h in headers if h.startswith(b"content-length:"))


async def _reader(host: str, port: int, path: str, deadline: float, counts: list[int]) -> None:
    reader, writer = await asyncio.open_connection(host, port)
    request = f"GET {path} HTTP/1.1\r\nHost: {host}\r\nAccept: application/json\r\n\r\n".encode()
    try:
        while time.perf_counter() < deadline:
            writer.write(request)
            head = await reader.readuntil(b"\r\n\r\n")
            status = int(head.split(b" ", 2)[1])
            await reader.readexactly(_content_length(head))
            counts[0 if status == 200 else 1] += 1
    finally:
        writer.close()


async def reads(base_url: str, path: str, connections: int, seconds: float) -> dict[str, Any]:
    """GET `path` over `connections` keep-alive connections for `seconds`."""
    url = httpx.URL(base_url)
    counts = [0, 0]
    started = time.perf_counter()
    deadline = started + seconds
    await asyncio.gather(*(_reader(url.host, url.port or 80, path, deadline, counts) for _ in range(connections)))
    elapsed = time.perf_counter() - started
    return {"path": path, "connections": connections, "seconds": elapsed, "ok": counts[0], "errors": counts[1],
            "per_s": counts[0] / elapsed}  # fmt: skip


async def _uploader(host: str, port: int, request: bytes, count: int, latencies: list[float], codes: list[int]) -> None:
    reader, writer = await asyncio.open_connection(host, port)
    try:
        for _ in range(count):
            started = time.perf_counter()
            writer.write(request)
            head = await reader.readuntil(b"\r\n\r\n")
            await reader.readexactly(_content_length(head))
            latencies.append(time.perf_counter() - started)
            codes.append(int(head.split(b" ", 2)[1]))
    finally:
        writer.close()


async def uploads(base_url: str, image: Path, clients: int, per_client: int) -> dict[str, Any]:
    """`clients` keep-alive connections each posting `image` back to back (a pre-built multipart body, so
    the client costs next to nothing); latency from sending the request to reading the whole answer."""
    url = httpx.URL(base_url)
    boundary = uuid.uuid4().hex
    body = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{image.name}"\r\n'
        "Content-Type: application/octet-stream\r\n\r\n".encode()
        + image.read_bytes()
        + f"\r\n--{boundary}--\r\n".encode()
    )
    head = (
        f"POST /v1/jobs HTTP/1.1\r\nHost: {url.host}\r\nContent-Type: multipart/form-data; boundary={boundary}\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    ).encode()
    latencies: list[float] = []
    codes: list[int] = []
    started = time.perf_counter()
    await asyncio.gather(
        *(_uploader(url.host, url.port or 80, head + body, per_client, latencies, codes) for _ in range(clients))
    )
    elapsed = time.perf_counter() - started
    return {"clients": clients, "requests": len(latencies), "errors": sum(c != 202 for c in codes),
            "per_s": len(latencies) / elapsed, "p50_ms": statistics.median(latencies) * 1000,
            "p95_ms": percentile(latencies, 0.95) * 1000, "p99_ms": percentile(latencies, 0.99) * 1000}  # fmt: skip


def big_upload(stack: Stack, size: int, work_dir: Path) -> dict[str, Any]:
    path = work_dir / "big.pdf"
    with path.open("wb") as fh:
        fh.write(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
        fh.truncate(size)  # a sparse file: zeros that take no disk until the API stores them
    try:
        assert stack.api is not None
        sampler = Sampler(pid=stack.api.pid, interval_s=0.02)
        started = time.perf_counter()
        with sampler, path.open("rb") as fh, httpx.Client(base_url=stack.base_url, timeout=600) as http:
            response = http.post("/v1/jobs", files={"file": ("big.pdf", fh, "application/pdf")})
        elapsed = time.perf_counter() - started
        if response.status_code == 202:
            http_delete = httpx.delete(f"{stack.base_url}/v1/jobs/{response.json()['id']}", timeout=60)
            http_delete.raise_for_status()
        return {"bytes": size, "status": response.status_code, "seconds": elapsed, "mib_per_s": size / 2**20 / elapsed,
                "rss_start_mib": sampler.rss_start, "rss_peak_mib": sampler.rss_peak,
                "rss_growth_mib": sampler.rss_peak - sampler.rss_start}  # fmt: skip
    finally:
        path.unlink(missing_ok=True)


def markdown(result: dict[str, Any]) -> str:
    out = ["| measure | figure |", "|---|---|"]
    for run in result["status_reads"]:
        path = "/v1/jobs/{id}" if run["path"].startswith("/v1/jobs/") else run["path"]
        out.append(f"| GET {path}, {run['connections']} keep-alive connections | **{run['per_s']:.0f}/s** "
                   f"({run['ok']} in {run['seconds']:.1f} s, {run['errors']} errors) |")  # fmt: skip
    for up in result["uploads"]:
        out.append(f"| upload+enqueue, {up['clients']} concurrent clients ({up['requests']} uploads) | p50 "
                   f"{up['p50_ms']:.0f} ms, **p95 {up['p95_ms']:.0f} ms**, p99 {up['p99_ms']:.0f} ms; "
                   f"{up['per_s']:.0f} uploads/s; {up['errors']} errors |")  # fmt: skip
    if big := result.get("big_upload"):
        out.append(f"| API RSS during a {big['bytes'] / GIB:.2g} GiB upload (HTTP {big['status']}, "
                   f"{big['mib_per_s']:.0f} MiB/s) | {big['rss_start_mib']:.0f} -> {big['rss_peak_mib']:.0f} MiB, "
                   f"**+{big['rss_growth_mib']:.1f} MiB** |")  # fmt: skip
    return "\n".join(out)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="short runs and a 256 MiB upload (development)")
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/0", help="broker (default: %(default)s)")
    parser.add_argument("--seconds", type=float, help="duration of the status-read run (default 10, 3 with --quick)")
    parser.add_argument("--clients", type=lambda s: [int(x) for x in s.split(",")], default=[1, 10, 50],
                        help="concurrent upload clients, comma-separated (default: 1,10,50)")  # fmt: skip
    parser.add_argument("--upload-gib", type=float, help="size of the big upload (default 1, 0.25 with --quick)")
    parser.add_argument("--json", type=Path, help="write every figure here")
    parser.add_argument("--work-dir", type=Path, help="where the data dir and the big upload go (default: .bench/)")
    args = parser.parse_args(argv)
    seconds = args.seconds or (3.0 if args.quick else 10.0)
    size = int((args.upload_gib or (0.25 if args.quick else 1.0)) * GIB)
    header = f"{datetime.datetime.now(datetime.UTC):%Y-%m-%d %H:%M} UTC; {machine()}"
    print(header, flush=True)
    small = workload.corpus_file(workload.SMALL_IMAGE)
    result: dict[str, Any] = {"started": header, "status_reads": [], "uploads": []}
    with scratch_dir(args.work_dir, "ocr-bench-api-") as tmp:
        upload_mb = str(int(size / 2**20) + 100)
        limit = {"OCR_MAX_UPLOAD_MB": upload_mb}
        with Stack(Path(tmp) / "api", args.redis_url, workers=0, extra_env=limit) as stack:
            job = httpx.post(f"{stack.base_url}/v1/jobs", files={"file": (small.name, small.read_bytes())}).json()
            # /healthz: the same framework, middleware and thread pool without the database: the ceiling here.
            for path, connections in ((f"/v1/jobs/{job['id']}", 1), (f"/v1/jobs/{job['id']}", 16), ("/healthz", 16)):
                result["status_reads"].append(asyncio.run(reads(stack.base_url, path, connections, seconds)))
                print(result["status_reads"][-1], flush=True)
            for clients in args.clients:
                per_client = max(4, (100 if args.quick else 600) // clients)
                result["uploads"].append(asyncio.run(uploads(stack.base_url, small, clients, per_client)))
                print(result["uploads"][-1], flush=True)
            result["big_upload"] = big_upload(stack, size, Path(tmp))
            print(result["big_upload"], flush=True)
    result["command"] = " ".join([Path(sys.executable).name, "-m", "bench.api_load", *(argv or sys.argv[1:])])
    result["load_at_end"] = os.getloadavg()[0]
    print()
    print(markdown(result))
    if args.json:
        args.json.write_text(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
