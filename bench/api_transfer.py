"""Upload and download throughput of one large file through the HTTP API, on local disk and on S3,
with the API process's peak memory during each.

    python -m bench.api_transfer --size-mb 200

The S3 backend is a moto server started on loopback (an in-memory Python server, so S3 figures measure
moto more than a network store; pass --s3-endpoint for a real one, e.g. MinIO). The upload is a file the API
accepts ('%PDF-' then padding: it is sniffed as a PDF); its job never runs (no worker consumes the queue).
For the download the benchmark writes a result object of the same size and marks the job succeeded, then
fetches GET /v1/jobs/{id}/result.txt.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import tempfile
import time
import uuid
from pathlib import Path

import httpx

from bench.stack import Sampler, Stack
from bench.storage_throughput import moto_server

CHUNK = 1024 * 1024


def make_upload(path: Path, size_mb: int) -> None:
    with path.open("wb") as out:
        out.write(b"%PDF-1.4\n")
        block = os.urandom(CHUNK)
        for _ in range(size_mb):
            out.write(block)


def mark_succeeded_with_result(stack: Stack, job_id: str, size_mb: int) -> None:
    """Put a result of `size_mb` for the job through the same storage code the workers use."""
    os.environ.update({k: v for k, v in stack.env.items() if k.startswith(("OCR_", "AWS_"))})
    from storage import get_storage, reset_storage
    from storage.objects.keys import result_key
    from storage.records import jobs as repo
    from storage.records.db import reset_engine, session_scope

    reset_storage()
    reset_engine()

    class Repeat:
        def __init__(self) -> None:
            self.left = size_mb * CHUNK
            self.block = b"lorem ipsum dolor sit amet\n" * (CHUNK // 27 + 1)

        def read(self, n: int = -1) -> bytes:
            n = min(self.left, CHUNK if n < 0 else n)
            self.left -= n
            return (self.block * (n // len(self.block) + 1))[:n]

    get_storage().save_stream(result_key(job_id, "txt"), Repeat())  # type: ignore[arg-type]
    with session_scope() as session:
        repo.start_job(session, job_id, 1, {})
        repo.finish_page(session, job_id, 1, {})
        repo.succeed_job(session, job_id)


def measure(backend: str, size_mb: int, upload: Path, extra_env: dict[str, str]) -> dict[str, float]:
    with tempfile.TemporaryDirectory(prefix=f"bench-transfer-{backend}-") as tmp:
        env = {"OCR_MAX_UPLOAD_MB": str(size_mb + 10), **extra_env}
        with Stack(Path(tmp), os.environ.get("OCR_BENCH_REDIS", "redis://127.0.0.1:6379/0"), 0,
                   extra_env=env) as stack, httpx.Client(base_url=stack.base_url, timeout=600) as client:  # fmt: skip
            assert stack.api is not None
            with Sampler(pid=stack.api.pid) as up_mem, upload.open("rb") as fh:
                started = time.perf_counter()
                response = client.post("/v1/jobs", files={"file": ("big.pdf", fh, "application/pdf")})
                up_s = time.perf_counter() - started
            response.raise_for_status()
            job_id = response.json()["id"]
            mark_succeeded_with_result(stack, job_id, size_mb)
            with Sampler(pid=stack.api.pid) as down_mem:
                started = time.perf_counter()
                received = 0
                with client.stream(
                    "GET", f"/v1/jobs/{job_id}/result.txt", headers={"accept-encoding": "identity"}
                ) as r:
                    r.raise_for_status()
                    for chunk in r.iter_raw(CHUNK):
                        received += len(chunk)
                down_s = time.perf_counter() - started
            if received != size_mb * CHUNK:
                log = (Path(tmp) / "logs" / "api.log").read_text(errors="replace")[-3000:]
                raise RuntimeError(f"{backend}: download ended after {received} bytes; API log:\n{log}")
    return {
        "up_mib_s": size_mb / up_s,
        "up_peak_rss": up_mem.rss_peak,
        "up_growth": up_mem.rss_peak - up_mem.rss_start,
        "down_mib_s": size_mb / down_s,
        "down_peak_rss": down_mem.rss_peak,
        "down_growth": down_mem.rss_peak - down_mem.rss_start,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size-mb", type=int, default=200, help="file size in MiB (default: %(default)s)")
    parser.add_argument("--s3-endpoint", help="use this S3 endpoint (bucket is created) instead of moto")
    parser.add_argument("--backends", default="local,s3", help="comma-separated (default: %(default)s)")
    args = parser.parse_args()

    results: dict[str, dict[str, float]] = {}
    with tempfile.TemporaryDirectory(prefix="bench-transfer-") as tmp:
        upload = Path(tmp) / "upload.pdf"
        make_upload(upload, args.size_mb)
        for backend in args.backends.split(","):
            if backend == "local":
                results["local"] = measure("local", args.size_mb, upload, {"OCR_STORAGE": "local"})
                continue
            with contextlib.ExitStack() as stack:
                endpoint = args.s3_endpoint or stack.enter_context(moto_server())
                creds = {"AWS_ACCESS_KEY_ID": os.environ.get("AWS_ACCESS_KEY_ID", "bench"),
                         "AWS_SECRET_ACCESS_KEY": os.environ.get("AWS_SECRET_ACCESS_KEY", "bench"),
                         "AWS_DEFAULT_REGION": "us-east-1"}  # fmt: skip
                os.environ.update(creds)
                import boto3

                bucket = f"bench-{uuid.uuid4().hex[:8]}"
                boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1").create_bucket(Bucket=bucket)
                env = {"OCR_STORAGE": "s3", "OCR_S3_BUCKET": bucket, "OCR_S3_ENDPOINT_URL": endpoint, **creds}
                results["s3"] = measure("s3", args.size_mb, upload, env)

    print(f"{args.size_mb} MiB through the API (one API process; peak RSS of that process, MiB)")
    header = ("backend", "up MiB/s", "up peak", "up +RSS", "down MiB/s", "down peak", "down +RSS")
    print("{:8} {:>9} {:>8} {:>8} {:>11} {:>10} {:>10}".format(*header))
    for name, r in results.items():
        print(f"{name:8} {r['up_mib_s']:9.1f} {r['up_peak_rss']:8.1f} {r['up_growth']:8.1f} "
              f"{r['down_mib_s']:11.1f} {r['down_peak_rss']:10.1f} {r['down_growth']:10.1f}")  # fmt: skip


if __name__ == "__main__":
    main()
