"""OCR engines behind one interface: one recognition pass per page yields text, hOCR and TSV together.

`tesserocr` keeps Tesseract loaded in the worker process and reuses it across pages and jobs;
`pytesseract` runs the `tesseract` program once per page. OCR_ENGINE picks one (see docs/performance.md).
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_THREAD_LIMIT", "1")  # parallelism comes from worker processes, not threads

import re
import tempfile
from collections import OrderedDict
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, Protocol

from PIL import Image

from workers.ocr import tesseract
from workers.ocr.errors import EngineUnavailable, OcrFailed
from workers.settings import get_worker_settings

TSV_HEADER = "level\tpage_num\tblock_num\tpar_num\tline_num\tword_num\tleft\ttop\twidth\theight\tconf\ttext"


@dataclass(frozen=True)
class RecognizeOptions:
    lang: str = "eng"
    psm: int = 3
    dpi: int | None = None

    def effective(self) -> dict[str, Any]:
        return {"lang": self.lang, "psm": self.psm, "dpi": self.dpi}


@dataclass
class Recognition:
    text: str
    hocr_page: str  # the <div class='ocr_page'> element of hOCR
    tsv: str  # rows without the header line
    mean_confidence: float
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Orientation:
    # tesseract's 'Rotate': degrees to turn the image CLOCKWISE to read it, PIL's image.rotate(-rotate).
    # Both engines agree (tess_phototest-rotated-L.png, text turned left, gives 90; -180.png gives 180).
    rotate: int
    confidence: float
    script: str | None
    script_confidence: float


class OcrEngine(Protocol):
    name: str

    def version(self) -> str: ...

    def recognize(self, image: Image.Image, options: RecognizeOptions) -> Recognition: ...

    def detect_orientation(self, image: Image.Image, dpi: int | None) -> Orientation | None: ...


def _mean_conf_from_tsv(tsv: str) -> float:
    confs = []
    for row in tsv.splitlines():
        cols = row.split("\t")
        if len(cols) == 12 and cols[0] == "5" and cols[11].strip():
            try:
                confs.append(float(cols[10]))
            except ValueError:
                continue
    return sum(confs) / len(confs) if confs else 0.0


class TesserocrEngine:
    """Tesseract kept loaded in-process (the tesserocr binding), one API object per language spec."""

    name = "tesserocr"
    _max_cached = 3

    def __init__(self, tessdata: Path) -> None:
        import tesserocr

        self._tesserocr = tesserocr
        self._path = str(tessdata).rstrip("/") + "/"
        self._apis: OrderedDict[str, Any] = OrderedDict()
        self._osd: Any = None

    def version(self) -> str:
        return str(self._tesserocr.tesseract_version().splitlines()[0].replace("tesseract", "").strip())

    def _api(self, lang: str) -> Any:
        api = self._apis.pop(lang, None)
        if api is None:
            tesseract.require_models(lang, Path(self._path))
            try:
                api = self._tesserocr.PyTessBaseAPI(
                    path=self._path, lang=tesseract.resolve_lang(lang, Path(self._path))
                )
            except RuntimeError as exc:
                raise EngineUnavailable(f"could not load tesseract models for '{lang}': {exc}") from exc
            while len(self._apis) >= self._max_cached:
                _, old = self._apis.popitem(last=False)
                old.End()
        self._apis[lang] = api
        return api

    def recognize(self, image: Image.Image, options: RecognizeOptions) -> Recognition:
        api = self._api(options.lang)
        api.Clear()
        api.SetPageSegMode(options.psm)
        api.SetImage(image)
        if options.dpi:
            api.SetSourceResolution(options.dpi)
        if not api.Recognize():
            raise OcrFailed("tesseract could not recognize the page")
        text = api.GetUTF8Text()
        hocr = api.GetHOCRText(0)
        tsv = api.GetTSVText(0)
        conf = float(api.MeanTextConf())
        return Recognition(text=text, hocr_page=hocr, tsv=tsv.rstrip("\n"), mean_confidence=conf)

    def detect_orientation(self, image: Image.Image, dpi: int | None) -> Orientation | None:
        if self._osd is None:
            self._osd = self._tesserocr.PyTessBaseAPI(path=self._path, lang="osd", psm=self._tesserocr.PSM.OSD_ONLY)
        api = self._osd
        api.SetImage(image)
        if dpi:
            api.SetSourceResolution(dpi)
        result = api.DetectOrientationScript()
        if not result:
            return None
        return Orientation(
            # tesserocr reports the text's orientation; turn it into the correction, as `tesseract --psm 0` does
            rotate=(360 - int(result["orient_deg"])) % 360,
            confidence=float(result["orient_conf"]),
            script=result.get("script_name"),
            script_confidence=float(result.get("script_conf", 0.0)),
        )


_BODY_RE = re.compile(r"<body>\s*(.*?)\s*</body>", re.S)


class PytesseractEngine:
    """One `tesseract` process per page through pytesseract, all outputs from that one run."""

    name = "pytesseract"

    def __init__(self, tessdata: Path | None) -> None:
        import pytesseract

        self._pt = pytesseract
        self._pt.pytesseract.tesseract_cmd = tesseract.tesseract_cmd()
        self._tessdata = tessdata

    def version(self) -> str:
        return tesseract.cli_version()

    def _config(self, options: RecognizeOptions, *extra: str) -> str:
        parts = [f"--psm {options.psm}"]
        if options.dpi:
            parts.append(f"--dpi {options.dpi}")
        if self._tessdata:
            parts.append(f"--tessdata-dir {self._tessdata}")
        parts += extra
        return " ".join(parts)

    def recognize(self, image: Image.Image, options: RecognizeOptions) -> Recognition:
        tesseract.require_models(options.lang, self._tessdata)
        with tempfile.TemporaryDirectory(prefix="ocr-page-") as tmp:
            src = Path(tmp) / "page.png"
            dpi = options.dpi or 0
            image.save(src, format="PNG", dpi=(dpi, dpi) if dpi else None, compress_level=1)  # size is irrelevant here
            base = Path(tmp) / "out"
            config = self._config(options, "-c tessedit_create_hocr=1", "-c tessedit_create_tsv=1")
            try:
                self._pt.pytesseract.run_tesseract(
                    str(src),
                    str(base),
                    extension="txt",
                    lang=tesseract.resolve_lang(options.lang, self._tessdata),
                    config=config,
                    timeout=get_worker_settings().page_time_limit_s,
                )
            except self._pt.TesseractError as exc:
                raise OcrFailed(f"tesseract failed: {exc.message}") from exc
            except RuntimeError as exc:  # pytesseract's timeout
                raise OcrFailed(f"tesseract timed out: {exc}") from exc
            text = (base.with_suffix(".txt")).read_text(encoding="utf-8")
            hocr_doc = (base.with_suffix(".hocr")).read_text(encoding="utf-8")
            tsv_lines = (base.with_suffix(".tsv")).read_text(encoding="utf-8").splitlines()
        match = _BODY_RE.search(hocr_doc)
        tsv = "\n".join(line for line in tsv_lines[1:] if line)
        return Recognition(
            text=text,
            hocr_page=match.group(1) if match else "",
            tsv=tsv,
            mean_confidence=_mean_conf_from_tsv(tsv),
        )

    def detect_orientation(self, image: Image.Image, dpi: int | None) -> Orientation | None:
        config = "--psm 0" + (f" --dpi {dpi}" if dpi else "")
        if self._tessdata:
            config += f" --tessdata-dir {self._tessdata}"
        try:
            osd = self._pt.image_to_osd(image, config=config, output_type=self._pt.Output.DICT)
        except self._pt.TesseractError:
            return None
        return Orientation(
            rotate=int(osd["rotate"]) % 360,
            confidence=float(osd["orientation_conf"]),
            script=osd.get("script"),
            script_confidence=float(osd.get("script_conf", 0.0)),
        )


@lru_cache
def get_engine() -> OcrEngine:
    """The engine of this worker process, created once and reused for every page."""
    settings = get_worker_settings()
    if settings.engine == "pytesseract":
        return PytesseractEngine(settings.tessdata_dir)
    return TesserocrEngine(settings.tessdata_dir or tesseract.tessdata_dir())
