"""Tesseract kept loaded in-process through the tesserocr binding."""

from __future__ import annotations

from collections import OrderedDict
from pathlib import Path
from typing import Any

from PIL import Image

from workers.ocr import tesseract
from workers.ocr.engines.base import Orientation, Recognition, RecognizeOptions
from workers.ocr.errors import EngineUnavailable, OcrFailed


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
