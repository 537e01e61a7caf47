"""An image input as a PDF document whose pages embed the image as it is, where PDF can carry its codec.

img2pdf (the library OCRmyPDF uses for images) does this losslessly: a JPEG's own bytes as DCTDecode (JPEG
2000 as JPXDecode), a TIFF page's CCITT Group 4 data as CCITTFaxDecode, other bilevel pages encoded as CCITT
G4, everything else Flate (PNG data passed through where it can be); an EXIF orientation becomes the page's
/Rotate, the stored pixels stay as they are. A TIFF page whose data is JPEG is then given that JPEG instead of
img2pdf's lossless copy, where its strips merge into one (tiffjpeg.py). An MPO (a phone's JPEG with its
previews or depth maps after it) is one page, its first image, as workers/ocr/pages.py reads it. Each page
measures the image at its resolution: the job's `dpi` when the upload set one, else the image's own when it
is plausible (the range pages.SANE_DPI), else the service's default.

What img2pdf refuses (a mirrored EXIF orientation, more than 8 bits a sample, an odd mode) is embedded
losslessly from Pillow's reading of it instead: each frame (its EXIF orientation applied to the first, as
workers/ocr/pages.py loads it) as PNG data, 16-bit samples cut to 8 bits.
"""

from __future__ import annotations

import io
import logging
import warnings
from collections.abc import Callable
from pathlib import Path

from PIL import Image, ImageOps

from workers.ocr.pages import SANE_DPI, frame_count
from workers.ocr.pdf import tiffjpeg

__all__ = ["image_document"]

log = logging.getLogger(__name__)
Layout = Callable[[int, int, tuple[float, float]], tuple[float, float, float, float]]


def _layout(dpi: int | None, default_dpi: int) -> Layout:
    def layout(width: int, height: int, ndpi: tuple[float, float]) -> tuple[float, float, float, float]:
        if dpi:
            xdpi = ydpi = float(dpi)
        else:
            sane = all(SANE_DPI[0] <= value <= SANE_DPI[1] for value in ndpi)
            xdpi, ydpi = (float(ndpi[0]), float(ndpi[1])) if sane else (float(default_dpi),) * 2
        w, h = width * 72 / xdpi, height * 72 / ydpi
        return w, h, w, h

    return layout


def image_document(path: Path, *, dpi: int | None, default_dpi: int, max_pixels: int) -> bytes:
    """The image (every frame a page) as a PDF document."""
    import img2pdf

    layout = _layout(dpi, default_dpi)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)  # pages.py checked the limit
            document = img2pdf.convert(
                str(path), layout_fun=layout, rotation=img2pdf.Rotation.auto, first_frame_only=_is_mpo(path)
            )
    except (img2pdf.ExifOrientationError, img2pdf.AlphaChannelError, ValueError, OSError) as exc:
        log.info("img2pdf cannot embed %s as it is (%s): embedding Pillow's lossless reading of it", path.name, exc)
        frames = _lossless_frames(path, max_pixels)
        return bytes(img2pdf.convert(frames, layout_fun=layout, rotation=img2pdf.Rotation.none))
    return tiffjpeg.with_page_jpegs(bytes(document), path)


def _is_mpo(path: Path) -> bool:
    with Image.open(path) as image:
        return image.format == "MPO"


def _lossless_frames(path: Path, max_pixels: int) -> list[bytes]:
    """Every frame as PNG (TIFF for CMYK, which PNG cannot hold), upright as pages.py loads it."""
    frames = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        with Image.open(path) as image:
            for n in range(frame_count(image)):
                image.seek(n)
                if image.width * image.height > max_pixels:
                    raise ValueError("a frame has more pixels than the limit")
                frame = ImageOps.exif_transpose(image) if n == 0 else image.copy()
                frames.append(_encoded(frame, image.info.get("dpi")))
    return frames


def _encoded(frame: Image.Image, dpi: object) -> bytes:
    if frame.mode in ("I;16", "I;16B", "I;16L", "I", "F"):
        frame = ImageOps.autocontrast(frame.convert("I").point(lambda v: v / 256).convert("L"))
    elif frame.mode not in ("1", "L", "LA", "P", "PA", "RGB", "RGBA", "CMYK"):
        frame = frame.convert("RGBA" if "A" in frame.mode else "RGB")
    buffer = io.BytesIO()
    extra = {"dpi": dpi} if isinstance(dpi, tuple) else {}
    frame.save(buffer, "TIFF" if frame.mode == "CMYK" else "PNG", **extra)
    return buffer.getvalue()
