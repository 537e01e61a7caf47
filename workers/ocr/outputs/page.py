"""What the pipeline keeps of one page: its recognized text, hOCR and TSV, size and how it was read."""

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

    def to_json(self) -> str:
        return json.dumps(asdict(self), ensure_ascii=False)

    @classmethod
    def from_json(cls, raw: bytes | str) -> PageOutput:
        return cls(**json.loads(raw))
