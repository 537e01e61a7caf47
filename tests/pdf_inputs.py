"""PDFs the tests make: a born-digital page (text drawn in a standard font, a scan beside it if asked) and a
scan with an earlier OCR layer (Tesseract's own PDF renderer, a glyphless invisible layer as OCR tools draw)."""

from __future__ import annotations

import subprocess
import zlib
from pathlib import Path

import pikepdf
from PIL import Image

LETTER = (612, 792)  # points


def born_digital_pdf(path: Path, lines: list[str], scan: Path | None = None) -> Path:
    """A one-page Letter PDF with `lines` drawn in Helvetica 24 pt (real, visible text, as a word processor
    writes it) from the top, and `scan` (an image) drawn below them at its own resolution."""
    pdf = pikepdf.new()
    page = pdf.add_blank_page(page_size=LETTER)
    font = pikepdf.Dictionary(Type=pikepdf.Name.Font, Subtype=pikepdf.Name.Type1, BaseFont=pikepdf.Name.Helvetica,
                              Encoding=pikepdf.Name.WinAnsiEncoding)  # fmt: skip
    page.add_resource(pdf.make_indirect(font), pikepdf.Name.Font, pikepdf.Name("/F1"))
    shown = " T* ".join(f"({line}) Tj" for line in lines)
    content = f"BT /F1 24 Tf 30 TL 72 720 Td {shown} ET\n"
    if scan is not None:
        with Image.open(scan) as image:
            gray = image.convert("L")
            dpi = float(image.info.get("dpi", (300, 300))[0])
        stream = pikepdf.Stream(pdf, zlib.compress(gray.tobytes()))
        stream.Type, stream.Subtype = pikepdf.Name.XObject, pikepdf.Name.Image
        stream.Width, stream.Height, stream.BitsPerComponent = gray.width, gray.height, 8
        stream.ColorSpace, stream.Filter = pikepdf.Name.DeviceGray, pikepdf.Name.FlateDecode
        page.add_resource(pdf.make_indirect(stream), pikepdf.Name.XObject, pikepdf.Name("/Scan"))
        width, height = gray.width * 72 / dpi, gray.height * 72 / dpi
        content += f"q {width:.2f} 0 0 {height:.2f} 72 {600 - height:.2f} cm /Scan Do Q\n"
    page.contents_add(content.encode("latin-1"))
    pdf.save(path)
    return path


def tesseract_pdf(image: Path, folder: Path) -> Path:
    """The image as Tesseract's own searchable PDF: the image with an invisible OCR layer."""
    base = folder / f"{image.stem}.tesseract"
    subprocess.run(
        ["tesseract", str(image), str(base), "-l", "eng", "pdf"], check=True, capture_output=True, timeout=120
    )
    return Path(f"{base}.pdf")
