"""What the pipeline keeps of one page: its recognized text, hOCR and TSV, size and how it was read.

Boxes are in pixels of the page's own grid (workers/ocr/onpage.py), `width` x `height` at `dpi`."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass
class PageOutput:
    page: int
    width: int
    height: int
    dpi: int | None
    text: str
    hocr_page: str
    tsv: str
    confidence: float
    rotation: int = 0
    info: dict[str, Any] = field(default_factory=dict)
    # One entry a TSV row (in the order tsv.rows() reads them): the corners [x1, y1, ... x4, y4] the row's
    # text covers on the page, clockwise from its top-left as it reads, where that is not its own upright
    # box (a deskewed, turned or flattened reading: workers/ocr/onpage.py); None when every row is upright.
    quads: list[list[int] | None] | None = None

    def to_json(self) -> str:
        return json.dumps(asdict(self), ensure_ascii=False)

    @classmethod
    def from_json(cls, raw: bytes | str) -> PageOutput:
        return cls(**json.loads(raw))
