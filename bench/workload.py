"""The pages the throughput benchmarks run: A4 pages, receipts and single lines from ../shared/corpus.

PDF pages are rendered once at 300 dpi into grayscale PNGs that state their resolution (a re-encoded image
without it would make tesseract guess 70 dpi), so every method under test gets the same page images.
Everything is written under a temporary directory, never into the repository or the corpus.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
# OCR_BENCH_CORPUS: the files elsewhere (bench/scaling_kit.py carries them to a machine without ../shared).
CORPUS_FILES = Path(os.environ.get("OCR_BENCH_CORPUS") or REPO.parent / "shared" / "corpus" / "files")
RENDER_DPI = 300

# Letter/A4-sized image PDFs (ocrmypdf_francais.pdf is 3 x 3 inches and left out).
A4_PDFS = (
    "ocrmypdf_skew.pdf",
    "ocrmypdf_rotated_skew.pdf",
    "ocrmypdf_cardinal.pdf",
    "ocrmypdf_epson.pdf",
    "paperless_multi-page-images.pdf",
)
A4_SCANS = ("tess_8087_054.3B.tif", "tess_8071_093.3B.tif")
RECEIPTS = ("sroie_000.jpg", "sroie_150.jpg", "sroie_200.jpg", "sroie_250.jpg", "sroie_400.jpg",
            "sroie_500.jpg", "sroie_600.jpg")  # fmt: skip
LINES = ("tess_HelloGoogle.tif", "tess_trainingtimes.tif", "paperless_simple.png")
SMALL_IMAGE = "tess_HelloGoogle.tif"


@dataclass(frozen=True)
class PageSet:
    kind: str
    files: list[Path]  # one page each; repeated files are run again, not read from a cache

    @property
    def pages(self) -> int:
        return len(self.files)


def corpus_file(name: str) -> Path:
    path = CORPUS_FILES / name
    if not path.exists():
        raise SystemExit(f"corpus file {path} is missing: the benchmarks read ../shared/corpus beside the repo")
    return path


def render_pdf(pdf: Path, out_dir: Path, dpi: int = RENDER_DPI) -> list[Path]:
    """Every page of `pdf` as a grayscale PNG at `dpi`, with the resolution written into the file."""
    import pypdfium2 as pdfium

    out_dir.mkdir(parents=True, exist_ok=True)
    document = pdfium.PdfDocument(str(pdf))
    paths = []
    try:
        for index in range(len(document)):
            image = document[index].render(scale=dpi / 72, grayscale=True).to_pil().convert("L")
            path = out_dir / f"{pdf.stem}-p{index + 1}.png"
            image.save(path, dpi=(dpi, dpi))
            paths.append(path)
    finally:
        document.close()
    return paths


KINDS = ("A4", "receipt", "line")


def page_sets(work_dir: Path, quick: bool, counts: dict[str, int] | None = None) -> list[PageSet]:
    """A4 pages once each; receipts and lines repeated so that each set is several seconds of OCR.
    `counts`: only these sets, each with this many pages (its files in turn)."""
    rendered = [p for name in A4_PDFS for p in render_pdf(corpus_file(name), work_dir / "rendered")]
    a4 = [corpus_file(n) for n in A4_SCANS] + rendered
    receipts = [corpus_file(n) for n in RECEIPTS]
    lines = [corpus_file(n) for n in LINES]
    if counts:
        files = {"A4": a4, "receipt": receipts, "line": lines}
        return [PageSet(kind, [files[kind][i % len(files[kind])] for i in range(n)]) for kind, n in counts.items()]
    if quick:
        return [PageSet("A4", a4[:4]), PageSet("receipt", receipts[:4]), PageSet("line", lines * 4)]
    return [PageSet("A4", a4), PageSet("receipt", receipts * 3), PageSet("line", lines * 30)]


def build_long_pdf(out: Path, pages: int) -> tuple[Path, list[tuple[str, int]]]:
    """A `pages`-page PDF made of the corpus PDFs' A4 pages in turn; returns it and each page's source."""
    from pypdf import PdfReader, PdfWriter

    sources = [(name, index) for name in A4_PDFS for index in range(len(PdfReader(corpus_file(name)).pages))]
    readers = {name: PdfReader(corpus_file(name)) for name in A4_PDFS}
    writer = PdfWriter()
    order = [sources[i % len(sources)] for i in range(pages)]
    for name, index in order:
        writer.add_page(readers[name].pages[index])
    with out.open("wb") as fh:
        writer.write(fh)
    return out, order
