"""The OCR pipeline is pure: importing all of workers/ocr loads nothing of the queue, the database or the web."""

from __future__ import annotations

import json
import subprocess
import sys

from tests.support import REPO

FORBIDDEN = (
    "celery",
    "kombu",
    "sqlalchemy",
    "fastapi",
    "starlette",
    "httpx",
    "storage",
    "ocr_api",
    "ocr_client",
    "webhooks",
    "maintenance",
)


def test_the_pipeline_imports_nothing_of_the_queue_the_database_or_the_web() -> None:
    probe = (
        "import importlib, json, pkgutil, sys\n"
        "import workers.ocr\n"
        "names = [m.name for m in pkgutil.walk_packages(workers.ocr.__path__, 'workers.ocr.')]\n"
        "for name in names:\n"
        "    importlib.import_module(name)\n"
        "print(json.dumps({'imported': names, 'loaded': sorted(sys.modules)}))\n"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=REPO, check=True)
    result = json.loads(out.stdout)
    # every module was imported: the engines, the outputs, the searchable PDF, pages and preprocessing
    for name in ("workers.ocr.engines.tesserocr", "workers.ocr.pdf.graft", "workers.ocr.preprocess"):
        assert name in result["imported"]
    loaded = result["loaded"]
    assert [m for m in loaded if m.split(".")[0] in FORBIDDEN] == []
    assert [m for m in loaded if m.startswith("workers.") and not m.startswith("workers.ocr")] == []
