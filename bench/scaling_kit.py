"""Run bench.throughput on a bare many-core machine: no Redis, no `tesseract` program, no internet.

`build` packs what such a machine lacks into a git-ignored folder (default .kit/, about 30 MB): the wheels
of the service's imports for its Python (pinned to the versions of this venv), Debian's redis-server with
the libraries it needs beyond the C basics, the eng/deu/osd models, and the corpus files the page sets use
(../shared/corpus is not carried with the working tree). `run`, on that machine, installs the wheels into a
folder of their own, starts that redis-server on a free port, and runs the throughput benchmark (service
against the engine alone, workers draining a filled queue by default) with a deadline, writing its log and
JSON into --out. ../shared/scaling-kit/README.md tells how the first such run was done.

    .venv/bin/python -m bench.scaling_kit build                      # here, once (downloads ~25 wheels)
    python3 -m bench.scaling_kit run --out "$OUT" --processes 16,8,4,2,1  # there, from the repository root
    # tested here, tiny: build --python-version 3.11 --kit .kit311 --bare, then
    #   python3 -m bench.scaling_kit run --kit .kit311 --out /tmp/kit-out --processes 1,2 --sets line:20
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tarfile
import threading
import time
from importlib import metadata
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
# The service's imports on the tesserocr path, with SQLite and Redis (pypdfium2: the A4 set renders PDFs;
# pypdf, a test dependency: bench/workload.py builds the long PDF with it).
WHEELS = [
    "fastapi",
    "starlette",
    "uvicorn",
    "python-multipart",
    "pydantic",
    "pydantic-core",
    "pydantic-settings",
    "python-dotenv",
    "annotated-types",
    "annotated-doc",
    "typing-inspection",
    "typing-extensions",
    "sqlalchemy",
    "greenlet",
    "alembic",
    "mako",
    "markupsafe",
    "celery",
    "kombu",
    "billiard",
    "vine",
    "amqp",
    "click-didyoumean",
    "click-repl",
    "click-plugins",
    "prompt-toolkit",
    "wcwidth",
    "python-dateutil",
    "six",
    "tzlocal",
    "tzdata",
    "redis",
    "tesserocr",
    "pypdfium2",
    "pypdf",
    "prometheus-client",
    "httpx",
    "httpcore",
    "h11",
    "certifi",
    "idna",
    "sniffio",
    "anyio",
    "opentelemetry-api",
    "importlib-metadata",
    "zipp",
    "deprecated",
    "wrapt",
]
# What the measuring machine's image already has; --bare adds them (to test the kit on a plain Python).
IMAGE_PACKAGES = ["numpy", "pillow", "click"]
REDIS_LIBS = ("liblzf.so.1", "libjemalloc.so.2", "libatomic.so.1")
MODELS = ("eng", "deu", "osd")


def _pinned(name: str) -> str:
    with contextlib.suppress(metadata.PackageNotFoundError):
        return f"{name}=={metadata.version(name)}"
    return name


def build(kit: Path, python_version: str, bare: bool) -> None:
    from bench import workload

    kit.mkdir(parents=True, exist_ok=True)
    wheels = kit / "whl"
    shutil.rmtree(wheels, ignore_errors=True)
    names = [*WHEELS, *(IMAGE_PACKAGES if bare else ())]
    subprocess.run(
        [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--only-binary=:all:",
         "--python-version", python_version, "--implementation", "cp", "--platform", "manylinux_2_28_x86_64",
         "--platform", "manylinux_2_17_x86_64", "--platform", "manylinux2014_x86_64", "-d", str(wheels),
         *(_pinned(n) for n in names)],
        check=True,
    )  # fmt: skip
    server = shutil.which("redis-server") or "/usr/bin/redis-server"
    with tarfile.open(kit / "redis.tar.xz", "w:xz") as tar:
        tar.add(Path(server).resolve(), "redis/redis-server")
        for lib in REDIS_LIBS:
            tar.add(Path("/lib/x86_64-linux-gnu", lib).resolve(), f"redis/{lib}")
    tessdata = Path(os.environ.get("TESSDATA_PREFIX", "/usr/share/tesseract-ocr/5/tessdata"))
    with tarfile.open(kit / "tessdata.tar.xz", "w:xz") as tar:
        for model in MODELS:
            tar.add(tessdata / f"{model}.traineddata", f"tessdata/{model}.traineddata")
    files = [*workload.A4_PDFS, *workload.A4_SCANS, *workload.RECEIPTS, *workload.LINES]
    with tarfile.open(kit / "corpus.tar.xz", "w:xz") as tar:
        for name in files:
            tar.add(workload.corpus_file(name), f"corpus/{name}")
    size = sum(p.stat().st_size for p in kit.rglob("*") if p.is_file()) / 2**20
    print(f"kit in {kit}: {len(list(wheels.iterdir()))} wheels, {size:.1f} MiB in all")


def run(args: argparse.Namespace, bench_args: list[str]) -> int:
    out = args.out.resolve()
    out.mkdir(parents=True, exist_ok=True)
    work = Path(args.work_dir).resolve()
    work.mkdir(parents=True, exist_ok=True)
    for archive in ("redis", "tessdata", "corpus"):
        with tarfile.open(args.kit / f"{archive}.tar.xz") as tar:
            tar.extractall(work, filter="data")
    env = dict(os.environ, PYTHONUNBUFFERED="1", OMP_THREAD_LIMIT="1", OCR_TESSDATA_DIR=str(work / "tessdata"),
               OCR_BENCH_CORPUS=str(work / "corpus"))  # fmt: skip
    if (args.kit / "whl").is_dir() and not args.no_install:
        site = work / "site"
        subprocess.run(
            [sys.executable, "-m", "pip", "install", "-q", "--no-index", "--no-deps", "--no-compile",
             "--no-cache-dir", "--upgrade", "--target", str(site), *map(str, (args.kit / "whl").glob("*.whl"))],
            check=True,
        )  # fmt: skip
        env["PYTHONPATH"] = os.pathsep.join([str(site), str(REPO), str(REPO / "client")])  # client/: ocr_client
        env["PATH"] = os.pathsep.join([str(site / "bin"), env.get("PATH", "")])
    with socket.socket() as probe:  # (bench.stack needs httpx, which only the kit's site folder has)
        probe.bind(("127.0.0.1", 0))
        port = int(probe.getsockname()[1])
    redis = subprocess.Popen(
        [str(work / "redis" / "redis-server"), "--port", str(port), "--bind", "127.0.0.1", "--save", "",
         "--appendonly", "no"],
        env=dict(env, LD_LIBRARY_PATH=str(work / "redis")), stdout=(out / "redis.log").open("wb"),
        stderr=subprocess.STDOUT,
    )  # fmt: skip
    time.sleep(0.5)
    command = [sys.executable, "-m", "bench.throughput", "--methods", "service,engine", "--sets", args.sets,
               "--processes", args.processes, "--no-extras", "--redis-url", f"redis://127.0.0.1:{port}/0",
               "--work-dir", str(work), "--json", str(out / "throughput.json"),
               "--env", f"OCR_TESSDATA_DIR={work / 'tessdata'}",
               *(["--drain"] if not args.mixed else []), *bench_args]  # fmt: skip
    print(f"{os.cpu_count()} cores; {' '.join(command)}", flush=True)
    try:
        with (out / "run.log").open("w") as log:
            bench = subprocess.Popen(command, env=env, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                     text=True, start_new_session=True)  # fmt: skip

            def pump() -> None:
                for line in bench.stdout or ():
                    print(line, end="", flush=True)
                    log.write(line)

            pumping = threading.Thread(target=pump, daemon=True)
            pumping.start()
            try:
                bench.wait(args.deadline_s)
            except subprocess.TimeoutExpired:
                print(f"deadline of {args.deadline_s}s passed: stopping the benchmark", flush=True)
                os.killpg(bench.pid, signal.SIGTERM)
                bench.wait(60)
            pumping.join(5)
        return bench.returncode or 0
    finally:
        redis.terminate()
        redis.wait(10)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    b = sub.add_parser("build", help="pack the kit (here)")
    b.add_argument("--kit", type=Path, default=REPO / ".kit")
    b.add_argument("--python-version", default="3.12", help="the measuring machine's Python (default %(default)s)")
    b.add_argument("--bare", action="store_true", help=f"add {', '.join(IMAGE_PACKAGES)} (not in the image)")
    r = sub.add_parser("run", help="run the benchmark with the kit (there); other arguments go to bench.throughput")
    r.add_argument("--kit", type=Path, default=REPO / ".kit")
    r.add_argument("--out", type=Path, required=True, help="log and JSON go here")
    r.add_argument("--work-dir", default="/tmp/ocr-kit", help="where the kit is unpacked and the services run")
    r.add_argument("--processes", default="16,8,4,2,1")
    r.add_argument("--sets", default="A4:32,line:1200", help="as bench.throughput's --sets")
    r.add_argument("--mixed", action="store_true", help="uploads while the workers run (default: drain)")
    r.add_argument("--no-install", action="store_true", help="use this Python's packages, not the kit's wheels")
    r.add_argument("--deadline-s", type=float, default=500, help="stop the benchmark after this long")
    args, rest = parser.parse_known_args(argv)
    if args.command == "build":
        if rest:
            parser.error(f"unknown arguments: {' '.join(rest)}")
        build(args.kit, args.python_version, args.bare)
    else:
        sys.exit(run(args, rest))


if __name__ == "__main__":
    main()
