"""What bounding request heads costs: requests/s of small GETs on uvicorn's h11 parser (which the service uses,
since httptools bounds no header size) against httptools, the same app, one API process, in the same run.

    .venv/bin/python -m bench.http_parser [--seconds 8] [--rounds 2] [--clients 8]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parents[1]
PATHS = ("/healthz", "/v1/languages")


async def load(url: str, path: str, seconds: float, clients: int) -> float:
    done = 0
    stop = time.monotonic() + seconds
    async with httpx.AsyncClient(base_url=url, limits=httpx.Limits(max_connections=clients)) as client:

        async def loop() -> None:
            nonlocal done
            while time.monotonic() < stop:
                response = await client.get(path)
                response.raise_for_status()
                done += 1

        await asyncio.gather(*(loop() for _ in range(clients)))
    return done / seconds


def measure(http: str, port: int, seconds: float, clients: int) -> dict[str, float]:
    env = {**os.environ, "OCR_DATA_DIR": tempfile.mkdtemp(prefix="bench-http-"), "OCR_LOG_LEVEL": "WARNING"}
    cmd = [sys.executable, "-m", "uvicorn", "ocr_api.app:create_app", "--factory", "--http", http, "--port",
           str(port), "--log-level", "warning", "--no-access-log"]  # fmt: skip
    server = subprocess.Popen(cmd, env=env, cwd=REPO)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{url}/healthz").status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.2)
        asyncio.run(load(url, "/healthz", 2, clients))  # warm up
        return {path: asyncio.run(load(url, path, seconds, clients)) for path in PATHS}
    finally:
        server.terminate()
        server.wait(30)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=8)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--clients", type=int, default=8)
    args = parser.parse_args(argv)
    rows: dict[str, list[dict[str, float]]] = {"httptools": [], "h11": []}
    for _ in range(args.rounds):  # alternating: a noisy moment slows both
        for port, http in enumerate(rows, start=18101):
            rows[http].append(measure(http, port, args.seconds, args.clients))
    print("| path | httptools req/s | h11 req/s | h11 / httptools |")
    print("|---|---:|---:|---:|")
    for path in PATHS:
        fast = max(r[path] for r in rows["httptools"])
        bounded = max(r[path] for r in rows["h11"])
        print(f"| {path} | {fast:.0f} | {bounded:.0f} | {bounded / fast:.2f} |")


if __name__ == "__main__":
    main()
