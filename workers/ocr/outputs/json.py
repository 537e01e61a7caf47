"""JSON: the document as docs/result.schema.json describes it, each page's structure from its TSV."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from workers.ocr.outputs.page import PageOutput
from workers.ocr.outputs.structure import page_structure

JSON_FORMAT_VERSION = 1


def build(pages: Sequence[PageOutput], meta: dict[str, Any]) -> str:
    """`meta` has job_id, filename and engine."""
    document = {"version": JSON_FORMAT_VERSION, **meta, "pages": [page_structure(p) for p in pages]}
    return json.dumps(document, ensure_ascii=False, indent=1)
