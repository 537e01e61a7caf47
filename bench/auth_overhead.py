"""What API keys cost a status read: GET /v1/jobs/{id} per second with OCR_AUTH off, with a cached key and no
rate limit, and with a cached key counted in Redis (the default rate limit).

Starts two `ocr-service api` processes over the local Redis (queues no worker consumes), makes the keys with
`ocr-service keys create`, and alternates the three runs so that a busy machine hurts each alike.

    .venv/bin/python -m bench.auth_overhead --rounds 3 --seconds 4
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parents[1]
IMAGE = REPO.parent / "shared" / "corpus" / "files" / "pyt_test.png"


def _env(data_dir: Path, auth: str, redis_url: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OCR_")}
    env.update(OCR_DATA_DIR=str(data_dir), OCR_BROKER_URL=redis_url, OCR_AUTH=auth,
               OCR_QUEUE_NAME=f"bench-auth-{uuid.uuid4().hex[:8]}")  # fmt: skip
    return env


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _start(env: dict[str, str], port: int) -> subprocess.Popen[bytes]:
    cmd = [sys.executable, "-m", "ocr_api.cli", "api", "--port", str(port), "--log-level", "WARNING"]
    proc = subprocess.Popen(cmd, env=env, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz").status_code == 200:
                return proc
        except httpx.TransportError:
            time.sleep(0.1)
    proc.kill()
    raise SystemExit("the API did not start")


def _key(env: dict[str, str], name: str, *flags: str) -> str:
    out = subprocess.run([sys.executable, "-m", "ocr_api.cli", "keys", "create", name, *flags], env=env, cwd=REPO,
                         capture_output=True, text=True, check=True).stdout  # fmt: skip
    return next(line.split(": ", 1)[1] for line in out.splitlines() if line.startswith("api_key: "))


async def _reader(port: int, request: bytes, deadline: float, counts: list[int]) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        while time.perf_counter() < deadline:
            writer.write(request)
            head = await reader.readuntil(b"\r\n\r\n")
            length = next(
                int(h.split(b":", 1)[1]) for h in head.lower().split(b"\r\n") if h.startswith(b"content-length:")
            )
            await reader.readexactly(length)
            counts[0 if head.split(b" ", 2)[1] == b"200" else 1] += 1
    finally:
        writer.close()


async def reads(port: int, path: str, key: str | None, connections: int, seconds: float) -> float:
    header = f"X-API-Key: {key}\r\n" if key else ""
    request = f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n{header}\r\n".encode()
    counts = [0, 0]
    started = time.perf_counter()
    await asyncio.gather(*(_reader(port, request, started + seconds, counts) for _ in range(connections)))
    if counts[1]:
        raise SystemExit(f"{counts[1]} reads failed")
    return counts[0] / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/0")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=4.0)
    parser.add_argument("--connections", type=int, default=10)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-auth-") as tmp:
        env_off, env_on = (
            _env(Path(tmp) / "off", "off", args.redis_url),
            _env(Path(tmp) / "on", "required", args.redis_url),
        )
        port_off, port_on = _free_port(), _free_port()
        procs = [_start(env_off, port_off), _start(env_on, port_on)]
        try:
            unlimited = _key(env_on, "unlimited", "--admin", "--rate-per-minute", "0")
            counted = _key(env_on, "counted", "--admin", "--rate-per-minute", "1000000000")
            image = IMAGE.read_bytes()
            job_off = httpx.post(f"http://127.0.0.1:{port_off}/v1/jobs", files={"file": ("a.png", image)}).json()["id"]
            job_on = httpx.post(f"http://127.0.0.1:{port_on}/v1/jobs", files={"file": ("a.png", image)},
                                headers={"X-API-Key": unlimited}).json()["id"]  # fmt: skip
            runs = {
                "keys off": (port_off, job_off, None),
                "cached key, no rate limit": (port_on, job_on, unlimited),
                "cached key + Redis rate counter": (port_on, job_on, counted),
            }
            results: dict[str, list[float]] = {name: [] for name in runs}
            for _ in range(args.rounds):
                for name, (port, job_id, key) in runs.items():
                    per_s = asyncio.run(reads(port, f"/v1/jobs/{job_id}", key, args.connections, args.seconds))
                    results[name].append(round(per_s))
            print(json.dumps(results, indent=1))
        finally:
            for proc in procs:
                proc.terminate()
                proc.wait(20)


if __name__ == "__main__":
    main()
