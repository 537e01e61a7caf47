"""Lossy optimisation of the searchable PDF's images, only when the job asks for it (off by default).

Two knobs (JobOptions pdf_jpeg_quality and pdf_image_dpi): colour and gray images re-encoded as JPEG at a
quality, and images drawn above a resolution downsampled to it. Either changes the user's pixels, so the
default is neither: every image is kept as it is (docs/formats.md states the effect measured).

What is touched: 8-bit gray or RGB images (DeviceGray, DeviceRGB, or ICC-based with 1 or 3 components),
stored as JPEG (DCTDecode; an RGB one only with the default colour transform) or Flate, without masks of
any kind, drawn by a page or a form it draws.
Everything else is left alone: bilevel images (CCITT, JBIG2, 1-bit), JPEG 2000, indexed, CMYK and other
colour spaces, images with a /Decode array, soft masks and the images that have one, inline images.
An image is decoded with pikepdf.PdfImage and re-encoded with Pillow; the new data replaces the old only
when it is smaller, so no image grows. A Flate image downsampled stays lossless (Flate) without a JPEG
quality, and with one becomes whichever of JPEG and Flate is smaller (a clean gray scan is often smaller
as Flate); a JPEG downsampled without a quality is re-encoded at `DOWNSAMPLED_QUALITY`.
"""

from __future__ import annotations

import io
import logging
import math
import zlib
from dataclasses import dataclass

import pikepdf
from PIL import Image

__all__ = ["DOWNSAMPLED_QUALITY", "Lossy", "reencode_images"]

log = logging.getLogger(__name__)
DOWNSAMPLED_QUALITY = 85
_FILTERS = {(): "raw", ("/FlateDecode",): "flate", ("/DCTDecode",): "jpeg"}
_DEPTH = 8  # forms drawn within forms followed this deep


@dataclass(frozen=True)
class Lossy:
    """What the job asked for: a JPEG quality to re-encode colour and gray images at, a resolution (dpi on
    the page) to downsample images above. None: not asked."""

    jpeg_quality: int | None = None
    max_dpi: int | None = None

    def __bool__(self) -> bool:
        return self.jpeg_quality is not None or self.max_dpi is not None


@dataclass
class _Drawn:
    image: pikepdf.Stream
    dpi: float  # the lowest resolution it is drawn at (its largest drawing), pixels per inch


def reencode_images(pdf: pikepdf.Pdf, lossy: Lossy) -> tuple[int, int, int]:
    """Re-encode the document's eligible images as `lossy` says, in place. Returns how many were replaced,
    and the bytes of those images before and after."""
    drawn: Drawn = {}
    for number, page in enumerate(pdf.pages, start=1):
        try:
            _walk(page.obj, page.resources, pikepdf.Matrix.identity(), drawn, 0)
        except pikepdf.PdfError as exc:  # a content stream that does not parse: its images are left as they are
            log.info("page %d's images are kept as they are: its content cannot be read (%s)", number, exc)
    replaced = before = after = 0
    for entry in drawn.values():
        old = len(entry.image.read_raw_bytes())
        new = _reencode(entry.image, entry.dpi, lossy, old)
        if new is not None:
            replaced, before, after = replaced + 1, before + old, after + new
    if replaced:
        log.info("lossy optimisation: %d image(s) re-encoded, %d -> %d bytes", replaced, before, after)
    return replaced, before, after


Drawn = dict[tuple[int, int], _Drawn]


def _walk(content: pikepdf.Object, resources: pikepdf.Object, ctm: pikepdf.Matrix, drawn: Drawn, depth: int) -> None:
    """Every image drawn by `content` (a page or a form) and the forms it draws, with its resolution there."""
    xobjects = resources.get("/XObject") if isinstance(resources, pikepdf.Dictionary) else None
    if not isinstance(xobjects, pikepdf.Dictionary):
        return
    stack = [ctm]
    for instruction in pikepdf.parse_content_stream(content, "q Q cm Do"):
        op, operands = str(instruction.operator), instruction.operands
        if op == "q":
            stack.append(stack[-1])
        elif op == "Q":
            stack = stack[:-1] or [ctm]
        elif op == "cm":
            stack[-1] = _matrix(operands) @ stack[-1]
        elif op == "Do" and operands:
            _drawn(xobjects.get(str(operands[0])), stack[-1], drawn, depth)


def _matrix(values: object) -> pikepdf.Matrix:
    """A matrix from six numbers (cm's operands, a form's /Matrix); the identity where they are not that."""
    try:
        return pikepdf.Matrix(*(float(v) for v in values))  # type: ignore[attr-defined]
    except (TypeError, ValueError):
        return pikepdf.Matrix.identity()


def _drawn(xobject: pikepdf.Object | None, ctm: pikepdf.Matrix, drawn: Drawn, depth: int) -> None:
    if not isinstance(xobject, pikepdf.Stream):
        return
    if xobject.get("/Subtype") == pikepdf.Name.Form and depth < _DEPTH:
        inner = _matrix(xobject.get("/Matrix")) @ ctm if "/Matrix" in xobject else ctm
        _walk(xobject, xobject.get("/Resources", pikepdf.Dictionary()), inner, drawn, depth + 1)
        return
    if xobject.get("/Subtype") != pikepdf.Name.Image or not xobject.is_indirect:
        return
    width_pt, height_pt = math.hypot(ctm.a, ctm.b), math.hypot(ctm.c, ctm.d)
    if width_pt <= 0 or height_pt <= 0:
        return
    dpi = min(int(xobject.Width) * 72 / width_pt, int(xobject.Height) * 72 / height_pt)
    key = xobject.objgen
    if key not in drawn or dpi < drawn[key].dpi:
        drawn[key] = _Drawn(xobject, dpi)


def _kind(image: pikepdf.Stream) -> str | None:
    """The kind ("jpeg", "flate" or "raw") of an image this module may re-encode; None for one it leaves alone."""
    if image.get("/ImageMask", False) or image.get("/BitsPerComponent") != 8:
        return None
    if any(key in image for key in ("/SMask", "/Mask", "/Decode", "/SMaskInData", "/Alternates")):
        return None
    filters = image.get("/Filter")
    names = tuple(str(f) for f in filters) if isinstance(filters, pikepdf.Array) else (str(filters),) if filters else ()
    kind, components = _FILTERS.get(names), _components(image.get("/ColorSpace"))
    parms = image.get("/DecodeParms")
    if kind == "jpeg" and components == 3 and isinstance(parms, pikepdf.Dictionary) and "/ColorTransform" in parms:
        # Pillow decodes the JPEG by its own markers: only the default transform (YCbCr) agrees with that.
        return kind if parms.ColorTransform == 1 else None
    return kind if components in (1, 3) else None


def _components(space: pikepdf.Object | None) -> int | None:
    if space == pikepdf.Name.DeviceGray:
        return 1
    if space == pikepdf.Name.DeviceRGB:
        return 3
    if isinstance(space, pikepdf.Array) and len(space) == 2 and space[0] == pikepdf.Name.ICCBased:
        return int(space[1].get("/N", 0))
    return None


def _reencode(image: pikepdf.Stream, dpi: float, lossy: Lossy, old_size: int) -> int | None:
    """Replace the image's data when re-encoding makes it smaller; the new size, or None when it was kept."""
    kind = _kind(image)
    scale = lossy.max_dpi / dpi if lossy.max_dpi and dpi > lossy.max_dpi else 1.0
    if kind is None or (scale == 1.0 and lossy.jpeg_quality is None):
        return None
    try:
        pixels = pikepdf.PdfImage(image).as_pil_image()
    except (pikepdf.PdfError, NotImplementedError, ValueError, OSError) as exc:
        log.info("an image cannot be decoded for re-encoding (%s): kept as it is", exc)
        return None
    if pixels.mode not in ("L", "RGB"):
        return None
    if scale < 1.0:
        size = (max(1, round(pixels.width * scale)), max(1, round(pixels.height * scale)))
        pixels = pixels.resize(size, Image.Resampling.LANCZOS)
    candidates = []
    if kind != "jpeg" and scale < 1.0:  # a lossless image downsampled: Flate again
        candidates.append((zlib.compress(pixels.tobytes()), pikepdf.Name.FlateDecode))
    if lossy.jpeg_quality is not None or kind == "jpeg":
        buffer = io.BytesIO()
        pixels.info.pop("icc_profile", None)  # the PDF's colour space says it
        pixels.save(buffer, "JPEG", quality=lossy.jpeg_quality or DOWNSAMPLED_QUALITY, optimize=True)
        candidates.append((buffer.getvalue(), pikepdf.Name.DCTDecode))
    data, codec = min(candidates, key=lambda candidate: len(candidate[0]))
    if len(data) >= old_size:
        return None
    image.write(data, filter=codec)
    if "/DecodeParms" in image:
        del image["/DecodeParms"]
    image.Width, image.Height = pixels.width, pixels.height
    return len(data)
