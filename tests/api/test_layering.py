"""The API process enqueues by task name: it never loads the OCR engine, the page pipeline, numpy, or the
webhook sender (its upload check imports webhooks.urls only)."""

from __future__ import annotations

import subprocess
import sys

from tests.support import REPO


def test_api_does_not_import_the_ocr_pipeline() -> None:
    probe = (
        "import sys\n"
        "from ocr_api.app import create_app\n"
        "create_app().openapi()\n"
        "heavy = ('tesserocr', 'pytesseract', 'numpy', 'pypdfium2', 'workers.ocr.engines', 'workers.steps',"
        " 'workers.tasks', 'workers.ocr.preprocess', 'workers.ocr.candidates', 'workers.ocr.imageops',"
        " 'workers.ocr.pages', 'workers.ocr.textlayer', 'workers.ocr.pdf', 'pikepdf', 'img2pdf', 'webhooks.delivery',"
        " 'webhooks.signing')\n"
        "print(sorted(m for m in sys.modules if m.startswith(heavy)))\n"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=REPO, check=True)
    assert out.stdout.strip() == "[]", out.stdout
