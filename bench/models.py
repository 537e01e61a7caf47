"""What a recognition costs with the service's models against Tesseract's own (tessdata_best vs tessdata_fast).

One read per page (the engine alone, `--psm 3`, one thread), of the corpus's one-page English files and the
synthetic clean pages, timed alternately with each model directory, best of `--repeats`, after a warm-up
read: the ratio of the totals is what the more accurate model costs a worker. Accuracy is measured by
bench/accuracy.py and bench/tuning.py with OCR_TESSDATA_DIR pointing at either directory (docs/accuracy.md,
"Models").

    .venv/bin/python -m bench.models
    .venv/bin/python -m bench.models --a /usr/share/tesseract-ocr/5/tessdata --b /some/other/tessdata
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

from bench.accuracy import DEFAULT_CORPUS, load_samples, media_type, synthetic_set


def main(argv: list[str] | None = None) -> int:
    os.environ.setdefault("OMP_THREAD_LIMIT", "1")
    from workers.ocr import models, tesseract
    from workers.ocr.engines.base import RecognizeOptions
    from workers.ocr.engines.tesserocr import TesserocrEngine
    from workers.ocr.pages import load_page

    parser = argparse.ArgumentParser(prog="python -m bench.models", description=__doc__.split("\n\n")[0])
    parser.add_argument("--a", type=Path, help="first model directory (default: Tesseract's own)")
    parser.add_argument("--b", type=Path, help="second model directory (default: the service's own)")
    parser.add_argument("--lang", default="eng")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    args = parser.parse_args(argv)
    dirs = {"a": args.a or tesseract.own_tessdata_dir(), "b": args.b or models.service_dir()}
    engines = {key: TesserocrEngine(path) for key, path in dirs.items()}
    options = RecognizeOptions(lang=args.lang)
    with tempfile.TemporaryDirectory(prefix="bench-models-") as tmp:
        samples = [s for s in load_samples(args.corpus, []) if s.lang == args.lang and s.pages == 1]
        samples += synthetic_set(Path(tmp), ["page"])[:20]
        totals = dict.fromkeys(engines, 0.0)
        ratios = []
        for sample in samples:
            image = load_page(sample.path, media_type(sample.path), 1, dpi=None, render_dpi=300, max_pixels=60_000_000)
            best: dict[str, float] = {}
            for key in engines:
                engines[key].recognize(image.image, options)  # warm-up
            for _ in range(args.repeats):
                for key, engine in engines.items():
                    started = time.perf_counter()
                    engine.recognize(image.image, options)
                    best[key] = min(best.get(key, float("inf")), time.perf_counter() - started)
            for key in engines:
                totals[key] += best[key]
            ratios.append(best["b"] / best["a"])
    print(f"{len(samples)} pages, lang {args.lang}, one read each, best of {args.repeats}")
    print("| model directory | seconds, all pages | x the first |")
    print("|---|---:|---:|")
    for key, path in dirs.items():
        print(f"| {path} | {totals[key]:.1f} | {totals[key] / totals['a']:.2f} |")
    print(f"\nmedian per-page ratio: {statistics.median(ratios):.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
