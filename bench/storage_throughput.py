"""Upload and download throughput, and peak memory, of each storage backend at the Storage layer.

Every measured operation runs in a fresh child process, so its peak RSS is its own and not what an
earlier operation left in the allocator. Without --s3-endpoint a moto S3 server is started as a
separate process on loopback (its memory is not counted), with fake credentials.

    python -m bench.storage_throughput --size-mb 200
    python -m bench.storage_throughput --backends s3 --s3-endpoint http://127.0.0.1:9000 --s3-bucket ocr
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO, cast

MIB = 1024 * 1024
PAGE = os.sysconf("SC_PAGE_SIZE")
KEY = "bench/object"

# What each operation stands for in the service.
OPERATIONS = {
    "upload-file": "save_stream from a seekable file (the API's spooled upload)",
    "upload-stream": "save_stream from an unseekable stream (a pipe or socket)",
    "download-stream": "iter_chunks, sha256 verified (the API streaming a result)",
    "download-path": "local_path (a worker fetching its input to disk)",
}


# -- measuring -----------------------------------------------------------------------------------
def rss_bytes() -> int:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * PAGE


class PeakRss:
    """Samples this process's RSS every few milliseconds in a background thread."""

    def __init__(self, interval_s: float = 0.002) -> None:
        self.interval_s = interval_s
        self.peak = rss_bytes()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, rss_bytes())
            time.sleep(self.interval_s)

    def __enter__(self) -> PeakRss:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, rss_bytes())


class Unseekable:
    """Only read(): what a pipe or a socket offers."""

    def __init__(self, handle: BinaryIO) -> None:
        self._handle = handle

    def read(self, n: int = -1) -> bytes:
        return self._handle.read(n)


# -- child: one operation on one backend ---------------------------------------------------------
def build_storage(args: argparse.Namespace) -> Any:
    if args.backend == "local":
        from storage.objects.local import LocalStorage

        return LocalStorage(Path(args.workdir) / "local")
    from storage.objects.s3 import S3Storage

    return S3Storage(
        args.s3_bucket,
        prefix=args.s3_prefix,
        endpoint_url=args.s3_endpoint,
        region=args.s3_region,
        multipart_threshold_mb=args.multipart_threshold_mb,
    )


def run_operation(args: argparse.Namespace) -> dict[str, Any]:
    storage = build_storage(args)
    source = Path(args.source)
    size = source.stat().st_size
    storage.exists("bench/warm-up")  # a service has its client made and connected before this
    idle = rss_bytes()
    with PeakRss() as rss:
        started = time.perf_counter()
        if args.operation == "upload-file":
            with source.open("rb") as handle:
                stored = storage.save_stream(KEY, handle)
        elif args.operation == "upload-stream":
            with source.open("rb") as handle:
                stored = storage.save_stream(KEY + "-streamed", cast(BinaryIO, Unseekable(handle)))
        elif args.operation == "download-stream":
            received = sum(len(chunk) for chunk in storage.iter_chunks(KEY))
            assert received == size, (received, size)
        else:
            with storage.local_path(KEY) as path:
                assert path.stat().st_size == size
        seconds = time.perf_counter() - started
    if args.operation.startswith("upload"):
        assert stored.size == size
    return {
        "seconds": seconds,
        "mib_s": size / MIB / seconds,
        "peak_rss_mib": rss.peak / MIB,
        "over_idle_mib": (rss.peak - idle) / MIB,
    }


# -- parent: setup, children, table --------------------------------------------------------------
def write_source(path: Path, size: int) -> None:
    block = os.urandom(MIB)
    with path.open("wb") as out:
        for n in range(0, size, MIB):
            out.write(n.to_bytes(8, "big") + block[8 : min(MIB, size - n)])


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def moto_server() -> Iterator[str]:
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=1):
                break
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("the moto server did not start")
            time.sleep(0.1)
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(timeout=10)


def ensure_bucket(args: argparse.Namespace) -> None:
    import boto3
    from botocore.exceptions import ClientError

    client = boto3.session.Session().client("s3", endpoint_url=args.s3_endpoint, region_name=args.s3_region)
    try:
        client.head_bucket(Bucket=args.s3_bucket)
    except ClientError:
        client.create_bucket(Bucket=args.s3_bucket)


def run_child(args: argparse.Namespace, backend: str, operation: str) -> dict[str, Any]:
    command = [
        sys.executable,
        "-m",
        "bench.storage_throughput",
        "--child",
        "--backend",
        backend,
        "--operation",
        operation,
        "--source",
        args.source,
        "--workdir",
        args.workdir,
        "--s3-bucket",
        args.s3_bucket,
        "--s3-prefix",
        args.s3_prefix,
        "--s3-region",
        args.s3_region,
        "--multipart-threshold-mb",
        str(args.multipart_threshold_mb),
    ]
    if args.s3_endpoint:
        command += ["--s3-endpoint", args.s3_endpoint]
    done = subprocess.run(command, capture_output=True, text=True, check=False, cwd=Path(__file__).parent.parent)
    if done.returncode:
        raise SystemExit(f"{backend} {operation} failed:\n{done.stderr}")
    return cast(dict[str, Any], json.loads(done.stdout.strip().splitlines()[-1]))


def clean_up(args: argparse.Namespace, backend: str) -> None:
    ns = argparse.Namespace(**{**vars(args), "backend": backend})
    build_storage(ns).delete_prefix("bench")


def print_table(size_mib: int, results: list[tuple[str, str, dict[str, Any]]]) -> None:
    print(f"\n{size_mib} MiB object, each operation in a fresh process\n")
    header = f"{'backend':<8} {'operation':<16} {'MiB/s':>8} {'seconds':>8} {'peak RSS MiB':>13} {'over idle':>10}"
    print(header)
    print("-" * len(header))
    for backend, operation, r in results:
        # LocalStorage hands workers the stored file itself: nothing is transferred.
        speed = "no copy" if (backend, operation) == ("local", "download-path") else f"{r['mib_s']:.1f}"
        print(
            f"{backend:<8} {operation:<16} {speed:>8} {r['seconds']:>8.2f} "
            f"{r['peak_rss_mib']:>13.1f} {r['over_idle_mib']:>10.1f}"
        )
    print()
    for operation, meaning in OPERATIONS.items():
        print(f"  {operation:<16} {meaning}")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size-mb", type=int, default=200, help="object size in MiB (default 200)")
    parser.add_argument("--backends", default="local,s3", help="comma-separated: local, s3 (default both)")
    parser.add_argument("--s3-endpoint", help="an S3-compatible endpoint; default: start a moto server")
    parser.add_argument("--s3-bucket", default="ocr-bench", help="bucket, created if missing")
    parser.add_argument("--s3-prefix", default=f"bench-{uuid.uuid4().hex[:8]}/", help="key prefix")
    parser.add_argument("--s3-region", default="us-east-1")
    parser.add_argument("--multipart-threshold-mb", type=int, default=16, help="as OCR_S3_MULTIPART_THRESHOLD_MB")
    parser.add_argument("--workdir", help="where the source file and local store go; default a temp dir")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--backend", help=argparse.SUPPRESS)
    parser.add_argument("--operation", choices=list(OPERATIONS), help=argparse.SUPPRESS)
    parser.add_argument("--source", help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    if args.child:
        print(json.dumps(run_operation(args)))
        return
    backends = [b.strip() for b in args.backends.split(",") if b.strip()]
    with contextlib.ExitStack() as stack:
        args.workdir = args.workdir or stack.enter_context(tempfile.TemporaryDirectory(prefix="storage-bench-"))
        args.source = str(Path(args.workdir) / "source.bin")
        write_source(Path(args.source), args.size_mb * MIB)
        if "s3" in backends and not args.s3_endpoint:
            for name, value in [("AWS_ACCESS_KEY_ID", "testing"), ("AWS_SECRET_ACCESS_KEY", "testing")]:
                os.environ[name] = value
            args.s3_endpoint = stack.enter_context(moto_server())
            print(f"moto S3 server on {args.s3_endpoint} (loopback, in memory)")
        if "s3" in backends:
            ensure_bucket(args)
        results = []
        for backend in backends:
            for operation in OPERATIONS:
                results.append((backend, operation, run_child(args, backend, operation)))
            clean_up(args, backend)
    print_table(args.size_mb, results)


if __name__ == "__main__":
    main()
