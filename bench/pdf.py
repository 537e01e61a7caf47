"""The searchable PDF side by side with OCRmyPDF's, on the corpus's PDFs, TIFFs and photos.

    nice -n 10 .venv/bin/python -m bench.pdf [--ocrmypdf .bench/ocrmypdf-venv/bin/python] [--no-ocrmypdf]
        [--lossy 75/off --lossy 50/150 ...] [--files NAME ...]

OCRmyPDF runs from a virtual environment of its own, for this benchmark only (git-ignored):
`python3 -m venv .bench/ocrmypdf-venv && .bench/ocrmypdf-venv/bin/pip install ocrmypdf`; its PDF/A output
needs Debian's ghostscript (`apt-get install ghostscript`, for the benchmark only: the service does not use
it). It runs with its defaults (PDF/A-2b output) and `--rotate-pages --image-dpi 300 -j 1`.

The service's side runs the pipeline as the job steps do (workers/steps.py: each page loaded, read and put
on its page's grid, then workers/ocr/pdf.searchable_pdf as finalize does), in this process, on one core.

`--lossy QUALITY/DPI` (repeatable; `off` for a knob left off) adds a row per setting: the service's PDF made
again from the same readings with that lossy optimisation (JobOptions pdf_jpeg_quality / pdf_image_dpi);
its seconds are the reading's plus its own writing's.

Per file: output size (and its ratio to the input), the mean rendered-pixel difference from the input
(bench/pdfcheck.py: gray, 100 dpi, 2 px blur, a page turned by 90 degrees compared turned back; and, for the
lossy rows' sake, at 300 dpi without blur), the share of text-layer words on ink, the text layer's CER
against the ground truth (pdftotext, layout mode), and seconds per page. docs/formats.md has the tables.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench import pdfcheck
from bench.scoring import cer
from tests.support import corpus_file, ground_truth

FILES = {
    "ocrmypdf_cardinal.pdf": ("application/pdf", "eng"),
    "ocrmypdf_skew.pdf": ("application/pdf", "eng"),
    "doctor_image-pdf.pdf": ("application/pdf", "eng"),
    "ocrmypdf_francais.pdf": ("application/pdf", "fra"),
    "paperless_multi-page-images.pdf": ("application/pdf", "eng"),
    "paperless_multi-page-images.tiff": ("image/tiff", "eng"),
    "tess_phototest.tif": ("image/tiff", "eng"),
    "photo_Histoire_Geo_IMG_20210329_122524.jpg": ("image/jpeg", "fra"),
    "pyt_test.jpg": ("image/jpeg", "eng"),
    "sroie_302.jpg": ("image/jpeg", "eng"),
    "ocrdgt_clauren_mimil_1815_0031.jpg": ("image/jpeg", "deu"),
}


def read_service(source: Path, media_type: str, lang: str) -> list[Any]:
    """The service's readings of the file's pages (as the page steps make them)."""
    from workers.ocr import pages
    from workers.ocr.engines import get_engine
    from workers.ocr.preprocess import PageOptions, Switches, recognize_page

    options = PageOptions(Switches(normalize=True, orient=True, deskew=True, auto_model=True, retry=True), lang=lang)
    count = pages.count_pages(source, media_type, 60_000_000)
    outputs = []
    for n in range(1, count + 1):
        page = pages.load_page(source, media_type, n, dpi=None, render_dpi=300, max_pixels=60_000_000)
        outputs.append(recognize_page(get_engine(), n, page, options))
    return outputs


def write_service(source: Path, media_type: str, outputs: list[Any], target: Path, lossy: Any = None) -> None:
    """The service's searchable PDF of the readings (as finalize makes it), with `lossy` where given."""
    from workers.ocr.pdf import searchable_pdf

    with target.open("wb") as out:
        searchable_pdf(source, media_type, outputs, out, title=source.name, creator="bench", redo=False,
                       archive=True, dpi=None, default_dpi=300, max_pixels=60_000_000, lossy=lossy)  # fmt: skip


def lossy_setting(text: str) -> tuple[int | None, int | None]:
    """`QUALITY/DPI` (`off` for a knob left off) as the two JobOptions values."""
    quality, _, dpi = text.partition("/")
    values = [None if part.strip() in ("", "off") else int(part) for part in (quality, dpi)]
    if values == [None, None]:
        raise argparse.ArgumentTypeError("give a JPEG quality, a resolution or both: 75/off, off/150, 50/150")
    return values[0], values[1]


def run_ocrmypdf(python: str, source: Path, lang: str, target: Path) -> None:
    command = [python, "-m", "ocrmypdf", "-q", "-j", "1", "-l", lang, "--rotate-pages", "--image-dpi", "300"]
    subprocess.run([*command, str(source), str(target)], check=True, timeout=900)


def _cer(source: Path, text: str) -> float | None:
    """The text's CER against the file's ground truth; None where the corpus has none (reference OCR is not)."""
    if not (source.parent / f"{source.name}.gt.txt").exists():
        return None
    return cer(ground_truth(source.name), text)


def measure(source: Path, result: Path, seconds: float, pages: int) -> dict[str, float | None]:
    share, _ = pdfcheck.words_on_ink(result)
    text = "\f".join(pdfcheck.pdftotext(result))
    reference = source
    if source.suffix.lower() not in (".pdf",):  # images: compare with the image as a PDF of its own
        reference = result.with_suffix(".input.pdf")
        from workers.ocr.pdf.images import image_document

        reference.write_bytes(image_document(source, dpi=None, default_dpi=300, max_pixels=60_000_000))
    return {
        "kib": result.stat().st_size / 1024,
        "ratio": result.stat().st_size / source.stat().st_size,
        "diff": pdfcheck.rendered_difference(reference, result),
        "diff300": pdfcheck.rendered_difference(reference, result, dpi=300, blur=0),
        "ink": share,
        "cer": _cer(source, text),
        "s_page": seconds / pages,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--ocrmypdf", default=".bench/ocrmypdf-venv/bin/python", help="the Python with OCRmyPDF")
    parser.add_argument("--no-ocrmypdf", action="store_true", help="the service's rows only")
    parser.add_argument(
        "--lossy",
        type=lossy_setting,
        action="append",
        default=[],
        metavar="QUALITY/DPI",
        help="also the PDF with this lossy optimisation (75/off, off/150, 50/150); repeatable",
    )
    parser.add_argument("--files", nargs="+", choices=list(FILES), default=list(FILES), metavar="NAME",
                        help="these of the files only")  # fmt: skip
    args = parser.parse_args()
    print("| file | tool | size KiB (x input) | rendered diff | at 300 dpi | words on ink | text CER | s/page |")
    print("|---|---|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as scratch:
        for name in args.files:
            for tool, m in measure_file(name, Path(scratch), args):
                text_cer = "n/a" if m["cer"] is None else f"{m['cer']:.3f}"
                print(f"| {name} | {tool} | {m['kib']:.0f} ({m['ratio']:.2f}) | {m['diff']:.2f} | {m['diff300']:.2f} |"
                      f" {m['ink']:.0%} | {text_cer} | {m['s_page']:.1f} |", flush=True)  # fmt: skip


def measure_file(name: str, scratch: Path, args: argparse.Namespace) -> list[tuple[str, dict[str, float | None]]]:
    """The rows of one file: the service's PDF, one a lossy setting, OCRmyPDF's."""
    from workers.ocr.pdf import Lossy

    media_type, lang = FILES[name]
    source = corpus_file(name)
    ours = scratch / f"{name}.service.pdf"
    started = time.perf_counter()
    outputs = read_service(source, media_type, lang)
    read_seconds = time.perf_counter() - started
    write_service(source, media_type, outputs, ours)
    rows = [("service", measure(source, ours, time.perf_counter() - started, len(outputs)))]
    for quality, dpi in args.lossy:
        lossy_pdf = scratch / f"{name}.service-{quality}-{dpi}.pdf"
        started = time.perf_counter()
        write_service(source, media_type, outputs, lossy_pdf, Lossy(jpeg_quality=quality, max_dpi=dpi))
        seconds = read_seconds + time.perf_counter() - started
        label = f"service, pdf_jpeg_quality={quality or 'off'} pdf_image_dpi={dpi or 'off'}"
        rows.append((label, measure(source, lossy_pdf, seconds, len(outputs))))
    if not args.no_ocrmypdf:
        theirs = scratch / f"{name}.ocrmypdf.pdf"
        started = time.perf_counter()
        try:
            run_ocrmypdf(args.ocrmypdf, source, lang, theirs)
            rows.append(("OCRmyPDF", measure(source, theirs, time.perf_counter() - started, len(outputs))))
        except subprocess.CalledProcessError as exc:
            print(f"OCRmyPDF failed on {name}: {exc}", file=sys.stderr)
    return rows


if __name__ == "__main__":
    main()
