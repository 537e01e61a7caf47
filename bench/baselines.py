"""The OCR engine alone, with no service around it, on N processes: the yardsticks of bench.throughput.

Each runner takes one file per page and a process count, warms its processes up outside the timing, then
returns the wall time of the whole batch. Pages are handed out one at a time (like the service's queue),
so a slow page does not hold up a whole chunk.
"""

from __future__ import annotations

import multiprocessing
import os
import resource
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

os.environ.setdefault("OMP_THREAD_LIMIT", "1")  # as in the workers: parallelism from processes, not threads

METHODS = {
    "engine": "the service's own engine (workers.ocr.engines.tesserocr.TesserocrEngine, Tesseract in-process) "
    "in N processes: workers.ocr.pages.load_page + recognize (text, hOCR and TSV in one pass)",
    "cli": "`tesseract FILE stdout --psm 3`, one process per page, N at a time",
    "naive": "pytesseract.image_to_string(PIL image, --dpi when the file states one) in N processes: "
    "the OCR part of a naive pytesseract-per-page service, without its HTTP or queue (a lower bound of its cost)",
}
_PAGE_TIMEOUT_S = 300
_worker: dict[str, Any] = {}


def _cpu_now() -> float:
    """CPU seconds of this process and of the children it has waited for (tesseract programs)."""
    own, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def _media_type(path: Path) -> str:
    return "application/pdf" if path.suffix.lower() == ".pdf" else "image/*"


def _init(method: str, barrier: Any) -> None:
    if method == "engine":
        from workers.ocr import tesseract
        from workers.ocr.engines.tesserocr import TesserocrEngine

        _worker["engine"] = TesserocrEngine(tesseract.tessdata_dir())
    else:
        import pytesseract

        from workers.ocr import tesseract

        pytesseract.pytesseract.tesseract_cmd = tesseract.tesseract_cmd()
    _worker["method"] = method
    _worker["barrier"] = barrier


def _ready(_: int) -> None:
    """Runs once in each pool process (the barrier sees to that) and loads the models there."""
    _worker["barrier"].wait(60)
    if _worker["method"] == "engine":
        from PIL import Image

        from workers.ocr.engines import RecognizeOptions

        _worker["engine"].recognize(Image.new("L", (200, 100), 255), RecognizeOptions(lang="eng", psm=3))


def engine_page(path: Path, page_no: int = 1) -> float:
    """Render or decode one page as the workers do and recognize it; returns the seconds it took."""
    from workers.ocr.engines import RecognizeOptions
    from workers.ocr.pages import load_page

    started = time.perf_counter()
    page = load_page(path, _media_type(path), page_no, dpi=None, render_dpi=300, max_pixels=60_000_000)
    _worker["engine"].recognize(page.image, RecognizeOptions(lang="eng", psm=3, dpi=page.dpi))
    return time.perf_counter() - started


def _naive_page(path: Path) -> float:
    import pytesseract
    from PIL import Image

    started = time.perf_counter()
    with Image.open(path) as image:
        dpi = image.info.get("dpi")
        config = "--psm 3" + (f" --dpi {round(float(dpi[0]))}" if dpi else "")
        pytesseract.image_to_string(image, lang="eng", config=config, timeout=_PAGE_TIMEOUT_S)
    return time.perf_counter() - started


def _page(args: tuple[Path, int]) -> tuple[float, float]:
    path, page_no = args
    cpu = _cpu_now()
    seconds = engine_page(path, page_no) if _worker["method"] == "engine" else _naive_page(path)
    return seconds, _cpu_now() - cpu


def _cli_page(path: Path) -> float:
    from workers.ocr import tesseract

    started = time.perf_counter()
    subprocess.run(
        [tesseract.tesseract_cmd(), str(path), "stdout", "--psm", "3"],
        capture_output=True, check=True, timeout=_PAGE_TIMEOUT_S, env={**os.environ, "OMP_THREAD_LIMIT": "1"},
    )  # fmt: skip
    return time.perf_counter() - started


def run(method: str, pages: list[Path] | list[tuple[Path, int]], processes: int) -> tuple[float, list[float], float]:
    """Wall seconds for all `pages` (paths, or (pdf, page number) pairs), each page's own seconds, and the
    CPU seconds all of it used."""
    items = [p if isinstance(p, tuple) else (p, 1) for p in pages]
    if method == "cli":
        with ThreadPoolExecutor(processes) as threads:
            list(threads.map(_cli_page, [items[0][0]] * processes))  # page cache and program warm
            cpu, started = _cpu_now(), time.perf_counter()
            times = list(threads.map(_cli_page, [path for path, _ in items]))
            return time.perf_counter() - started, times, _cpu_now() - cpu
    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(processes)
    with context.Pool(processes, initializer=_init, initargs=(method, barrier)) as pool:
        pool.map(_ready, range(processes), chunksize=1)
        started = time.perf_counter()
        measured = list(pool.imap(_page, items, chunksize=1))
        wall = time.perf_counter() - started
    return wall, [seconds for seconds, _ in measured], sum(cpu for _, cpu in measured)
