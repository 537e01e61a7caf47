"""One `tesseract` process per page through pytesseract, all outputs from that one run."""

from __future__ import annotations

import re
import tempfile
from pathlib import Path

from PIL import Image

from workers.ocr import tesseract, tsv
from workers.ocr.engines.base import Orientation, Recognition, RecognizeOptions
from workers.ocr.errors import OcrFailed
from workers.ocr.settings import get_ocr_settings

_BODY_RE = re.compile(r"<body>\s*(.*?)\s*</body>", re.S)


class PytesseractEngine:
    """One `tesseract` process per page through pytesseract, all outputs from that one run."""

    name = "pytesseract"

    def __init__(self, tessdata: Path | None, timeout_s: float | None = None) -> None:
        """`timeout_s` bounds one tesseract run (default: OCR_PAGE_TIME_LIMIT_S)."""
        import pytesseract

        self._pt = pytesseract
        self._pt.pytesseract.tesseract_cmd = tesseract.tesseract_cmd()
        self._tessdata = tessdata
        self._timeout_s = timeout_s if timeout_s is not None else get_ocr_settings().page_time_limit_s

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
                    timeout=self._timeout_s,
                )
            except self._pt.TesseractError as exc:
                raise OcrFailed(f"tesseract failed: {exc.message}") from exc
            except RuntimeError as exc:  # pytesseract's timeout
                raise OcrFailed(f"tesseract timed out: {exc}") from exc
            text = (base.with_suffix(".txt")).read_text(encoding="utf-8")
            hocr_doc = (base.with_suffix(".hocr")).read_text(encoding="utf-8")
            tsv_lines = (base.with_suffix(".tsv")).read_text(encoding="utf-8").splitlines()
        match = _BODY_RE.search(hocr_doc)
        rows = "\n".join(line for line in tsv_lines[1:] if line)
        return Recognition(
            text=text,
            hocr_page=match.group(1) if match else "",
            tsv=rows,
            mean_confidence=tsv.mean_word_confidence(rows),
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
