"""hOCR: the engine's own hOCR of each page, its ids and page numbers renumbered for the document."""

from __future__ import annotations

import html
import re
from collections.abc import Sequence

from workers.ocr.outputs.page import PageOutput

_HOCR_ID_RE = re.compile(r"""(id=['"][a-z_]+?_)1((?:_\d+)?['"])""")
_PPAGENO_RE = re.compile(r"ppageno \d+")


def build(pages: Sequence[PageOutput], engine_version: str) -> str:
    body = []
    for page in pages:
        fragment = _HOCR_ID_RE.sub(rf"\g<1>{page.page}\g<2>", page.hocr_page)
        body.append(_PPAGENO_RE.sub(f"ppageno {page.page - 1}", fragment))
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<!DOCTYPE html PUBLIC "-//W3C//DTD XHTML 1.0 Transitional//EN"\n'
        '    "http://www.w3.org/TR/xhtml1/DTD/xhtml1-transitional.dtd">\n'
        '<html xmlns="http://www.w3.org/1999/xhtml" xml:lang="en" lang="en">\n<head>\n'
        "  <title></title>\n"
        '  <meta http-equiv="Content-Type" content="text/html;charset=utf-8"/>\n'
        f"  <meta name='ocr-system' content='tesseract {html.escape(engine_version)}'/>\n"
        "  <meta name='ocr-capabilities' content='ocr_page ocr_carea ocr_par ocr_line ocrx_word ocrp_wconf'/>\n"
        "</head>\n<body>\n" + "\n".join(body) + "\n</body>\n</html>\n"
    )
