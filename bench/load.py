"""Load run: N concurrent clients (asyncio + httpx, loopback only) upload, poll and download for a bounded time.

Each client loops: upload a one-page image, poll its status until it finishes, download result.txt. The run
stops sending new uploads after --seconds, then waits (bounded) for what is in flight. It reports request
errors (any 5xx, or a 4xx on a valid request), lost jobs (not finished at the end), job latency p50/p95
(upload to result downloaded), request latency p50/p95 and throughput.

    .venv/bin/python -m bench.load --clients 50 --seconds 60      # the figures in docs/reliability.md
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

from tests.support import Stack, base_env, corpus_file


def percentile(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def request(
    client: httpx.AsyncClient, stats: dict[str, Any], what: str, method: str, url: str, **kw: Any
) -> httpx.Response | None:
    """One request, timed; a transport error (connection reset, timeout) is counted as an error, not raised."""
    t = time.monotonic()
    try:
        response = await client.request(method, url, **kw)
    except httpx.TransportError as exc:
        stats["errors"].append(f"{what}: {type(exc).__name__} {exc}")
        return None
    finally:
        stats["requests"].append(time.monotonic() - t)
    return response


async def client_loop(
    client: httpx.AsyncClient, data: bytes, stop_at: float, stats: dict[str, Any], drain_s: float
) -> None:
    while time.monotonic() < stop_at:
        started = time.monotonic()
        job_id = await upload(client, data, stats)
        if job_id is None:
            continue
        stats["submitted"] += 1
        status = await wait_for_end(client, job_id, stats, deadline=stop_at + drain_s)
        if status != "succeeded":
            stats["lost" if status in ("queued", "running") else "failed"].append(job_id)
            continue
        result = await request(client, stats, "result", "GET", f"/v1/jobs/{job_id}/result.txt")
        if result is None:
            continue
        if result.status_code != 200:
            stats["errors"].append(f"result {result.status_code}")
            continue
        stats["latency"].append(time.monotonic() - started)


async def upload(client: httpx.AsyncClient, data: bytes, stats: dict[str, Any]) -> str | None:
    """The new job's id, or None (the failure noted in stats)."""
    files = {"file": ("page.tif", data, "image/tiff")}
    response = await request(client, stats, "upload", "POST", "/v1/jobs", files=files)
    if response is None:
        return None
    if response.status_code != 202:
        stats["errors"].append(f"upload {response.status_code}: {response.text[:200]}")
        return None
    return str(response.json()["id"])


async def wait_for_end(client: httpx.AsyncClient, job_id: str, stats: dict[str, Any], deadline: float) -> str:
    """Poll until the job ends or the deadline passes; its last status seen."""
    status = "queued"
    while time.monotonic() < deadline:
        reply = await request(client, stats, "status", "GET", f"/v1/jobs/{job_id}")
        if reply is not None and reply.status_code != 200:
            stats["errors"].append(f"status {reply.status_code}")
            break
        if reply is not None:
            status = reply.json()["status"]
            if status not in ("queued", "running"):
                break
        await asyncio.sleep(0.2)
    return status


async def load(base_url: str, clients: int, seconds: float, drain_s: float) -> dict[str, Any]:
    data = corpus_file("tess_HelloGoogle.tif").read_bytes()
    stats: dict[str, Any] = {"requests": [], "latency": [], "errors": [], "lost": [], "failed": [], "submitted": 0}
    # A pooled connection is dropped after 2 s idle, before uvicorn closes it (5 s, --timeout-keep-alive):
    # with both at 5 s (httpx's default) a request now and then goes out on a connection the server is closing
    # at that moment and fails with ReadError (7 of 38,519 requests in a 10-minute run, docs/reliability.md).
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients, keepalive_expiry=2.0)
    async with httpx.AsyncClient(base_url=base_url, timeout=60, limits=limits) as client:
        started = time.monotonic()
        stop_at = started + seconds
        await asyncio.gather(*(client_loop(client, data, stop_at, stats, drain_s) for _ in range(clients)))
        elapsed = time.monotonic() - started
    latency, requests = stats["latency"], stats["requests"]
    return {
        "clients": clients,
        "seconds": round(elapsed, 1),
        "jobs_submitted": stats["submitted"],
        "jobs_succeeded": len(latency),
        "jobs_failed": len(stats["failed"]),
        "jobs_lost": len(stats["lost"]),
        "errors": len(stats["errors"]),
        "error_samples": stats["errors"][:5],
        "throughput_jobs_per_s": round(len(latency) / elapsed, 2),
        "job_latency_p50_s": round(percentile(latency, 0.5), 2),
        "job_latency_p95_s": round(percentile(latency, 0.95), 2),
        "requests": len(requests),
        "request_p50_ms": round(percentile(requests, 0.5) * 1000, 1),
        "request_p95_ms": round(percentile(requests, 0.95) * 1000, 1),
        "request_mean_ms": round(statistics.fmean(requests) * 1000, 1) if requests else 0.0,
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--drain", type=float, default=120, help="seconds to wait for jobs in flight at the end")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--cache", action="store_true", help="leave the result cache on (identical uploads)")
    args = parser.parse_args(argv)
    tmp = Path(tempfile.mkdtemp(prefix="load-"))
    env = base_env(tmp, OCR_RESULT_CACHE="true" if args.cache else "false")
    stack = Stack("load", env, tmp).start(workers=args.workers)
    try:
        result = asyncio.run(load(stack.base_url, args.clients, args.seconds, args.drain))
    finally:
        stack.stop()
    print(json.dumps(result, indent=2))
    ok = result["errors"] == 0 and result["jobs_lost"] == 0
    if ok:
        shutil.rmtree(tmp, ignore_errors=True)
    else:
        print(f"the service's logs are kept in {tmp / 'logs'}")
    raise SystemExit(0 if ok else 1)


if __name__ == "__main__":
    main()
