"""What a searchable PDF is worth, measured from the file alone (the tests and bench/pdf.py use these).

- `pdftotext`: the text poppler's pdftotext extracts, pages split at form feeds.
- `words_on_ink`: the share of the text layer's words (their boxes as `pdftotext -bbox` reports them) that
  lie on ink of the page as rendered (`pdftoppm`, at the same time): a word counts when at least
  `INK_SHARE` of its box is dark.
- `rendered_difference`: the mean absolute difference of two PDFs' pages rendered alike, gray, 0 to 255
  (a page turned by a multiple of 90 degrees is compared turned back).
- `page_images`: each page's image XObjects, with their filters, sizes and stream lengths.
"""

from __future__ import annotations

import re
import subprocess
import tempfile
from dataclasses import dataclass
from html import unescape
from pathlib import Path

import numpy as np
from PIL import Image

INK_SHARE = 0.03  # of a word's box dark: the letters of a word cover far more, white paper none
DARK = 128
_WORD = re.compile(r'<word xMin="([\d.]+)" yMin="([\d.]+)" xMax="([\d.]+)" yMax="([\d.]+)">(.*?)</word>')
_PAGE = re.compile(r'<page width="([\d.]+)" height="([\d.]+)">')


def pdftotext(path: Path, *, raw: bool = False) -> list[str]:
    """The pages' text; `raw`: in content stream order (the text layer's own reading order) instead of
    pdftotext's layout analysis."""
    options = ["-raw"] if raw else []
    out = subprocess.run(
        ["pdftotext", *options, "-enc", "UTF-8", str(path), "-"], capture_output=True, check=True, timeout=120
    )
    pages = out.stdout.decode("utf-8").split("\f")
    return pages[:-1] if pages and not pages[-1].strip() else pages


@dataclass(frozen=True)
class Word:
    page: int  # 1-based
    text: str
    box: tuple[float, float, float, float]  # points, origin top left of the page as shown (turned by /Rotate)


def text_layer_words(path: Path) -> tuple[list[tuple[float, float]], list[Word]]:
    """Each page's size in points (unturned, as pdftotext reports it) and every word with its box, from
    `pdftotext -bbox`."""
    out = subprocess.run(["pdftotext", "-bbox", str(path), "-"], capture_output=True, check=True, timeout=120)
    html = out.stdout.decode("utf-8")
    sizes, words = [], []
    for n, chunk in enumerate(html.split("<page ")[1:], start=1):
        found = _PAGE.match("<page " + chunk)
        if found is None:
            continue
        sizes.append((float(found.group(1)), float(found.group(2))))
        for x0, y0, x1, y1, text in _WORD.findall(chunk):
            words.append(Word(n, unescape(text), (float(x0), float(y0), float(x1), float(y1))))
    return sizes, words


def render(path: Path, dpi: int) -> list[Image.Image]:
    """Every page rendered gray by pdftoppm at `dpi` (turned as the reader sees it)."""
    with tempfile.TemporaryDirectory() as scratch:
        prefix = Path(scratch) / "page"
        subprocess.run(["pdftoppm", "-gray", "-r", str(dpi), str(path), str(prefix)], check=True, timeout=300)
        images = []
        for file in sorted(Path(scratch).glob("page*.pgm"), key=lambda p: int(p.stem.split("-")[-1])):
            with Image.open(file) as image:
                images.append(image.copy())
    return images


def words_on_ink(path: Path, dpi: int | None = None) -> tuple[float, int]:
    """The share of the text layer's words that lie on ink, and how many words there are. Rendered at `dpi`,
    by default 100, or more for small pages (a crop of a line): the smallest page 800 pixels at least."""
    sizes, words = text_layer_words(path)
    if not words:
        return 0.0, 0
    if dpi is None:
        smallest = min(min(size) for size in sizes)
        dpi = round(min(max(100.0, 800 * 72 / max(smallest, 1.0)), 1200))
    pages = [np.asarray(image) < DARK for image in render(path, dpi)]
    on_ink = 0
    for word in words:
        dark = pages[word.page - 1]
        x0, y0, x1, y1 = (v * dpi / 72 for v in word.box)  # (as shown: -bbox's page size is the unturned one)
        window = dark[int(y0) : int(np.ceil(y1)), int(x0) : int(np.ceil(x1))]
        on_ink += bool(window.size) and float(window.mean()) >= INK_SHARE
    return on_ink / len(words), len(words)


def rendered_difference(first: Path, second: Path, dpi: int = 100, blur: float = 2) -> float:
    """The mean absolute gray difference of the two documents' pages (0: the same), rendered alike and
    blurred by `blur` px (a renderer samples an image differently once its page is turned). A page of the
    second turned by a multiple of 90 degrees counts as the same page: it is compared turned back (the turn
    that differs least), at the first's size."""
    from PIL import ImageFilter

    def blurred(image: Image.Image) -> Image.Image:
        return image.filter(ImageFilter.GaussianBlur(blur)) if blur else image

    a = [blurred(image) for image in render(first, dpi)]
    b = [blurred(image) for image in render(second, dpi)]
    if len(a) != len(b):
        return 255.0
    total = 0.0
    for x, y in zip(a, b, strict=True):
        reference = np.asarray(x, dtype=np.int16)
        turns = [y.rotate(angle, expand=True) for angle in (0, 90, 180, 270)]
        total += min(
            float(np.abs(reference - np.asarray(t.resize(x.size) if t.size != x.size else t, dtype=np.int16)).mean())
            for t in turns
            if abs(t.width / t.height - x.width / x.height) < 0.05
        )
    return total / len(a)


@dataclass(frozen=True)
class EmbeddedImage:
    filters: tuple[str, ...]
    width: int
    height: int
    bits: int
    length: int  # bytes of the stream as stored
    raw: bytes


def page_images(path: Path) -> list[list[EmbeddedImage]]:
    """The image XObjects each page draws (directly or in its forms), as stored."""
    import pikepdf

    result = []
    with pikepdf.open(path) as pdf:
        for page in pdf.pages:
            found: list[EmbeddedImage] = []
            _collect(page.resources, found, 0)
            result.append(found)
    return result


def _collect(resources: object, found: list[EmbeddedImage], depth: int) -> None:
    import pikepdf

    if not isinstance(resources, pikepdf.Dictionary) or depth > 4:
        return
    for xobject in resources.get("/XObject", pikepdf.Dictionary()).values():
        if xobject.get("/Subtype") == pikepdf.Name.Image:
            filters = xobject.get("/Filter")
            names = (
                [str(f) for f in filters] if isinstance(filters, pikepdf.Array) else [str(filters)] if filters else []
            )
            raw = xobject.read_raw_bytes()
            found.append(
                EmbeddedImage(tuple(names), int(xobject.Width), int(xobject.Height),
                              int(xobject.get("/BitsPerComponent", 1)), len(raw), raw)
            )  # fmt: skip
        elif xobject.get("/Subtype") == pikepdf.Name.Form:
            _collect(xobject.get("/Resources"), found, depth + 1)
