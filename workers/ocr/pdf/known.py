"""The words a page already has: which of the OCR's words the text layer leaves out (the default mode, force).

A page OCR'd that already carries text (a born-digital page, or one with an earlier OCR layer) keeps that
text; our layer adds only the words it lacks, so that searching, copying and extracting find each word once.
A word of ours is the page's already when at least `COVERED` of its box lies in the box of one word of the
page's own text (visible or invisible, as PDFium reads it: workers/ocr/textlayer.py), both on the page's
pixel grid.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from workers.ocr.tsv import Box

__all__ = ["COVERED", "KnownWords"]

COVERED = 0.5  # of our word's box inside one of the page's words
_CELL = 128  # pixels: the side of the index's cells


class KnownWords:
    """The boxes of a page's own words, indexed by the grid cells they touch (a page has thousands)."""

    def __init__(self, boxes: Iterable[Box] = ()) -> None:
        self._cells: dict[tuple[int, int], list[Box]] = {}
        for box in boxes:
            if box[2] > box[0] and box[3] > box[1]:
                for cell in _cells_of(box):
                    self._cells.setdefault(cell, []).append(box)

    def __bool__(self) -> bool:
        return bool(self._cells)

    def covers(self, box: Sequence[int]) -> bool:
        """Whether the page already has the word whose box is `box` (x0, y0, x1, y1 on the page's grid)."""
        x0, y0, x1, y1 = box
        area = (x1 - x0) * (y1 - y0)
        if area <= 0 or not self._cells:
            return False
        for cell in _cells_of((x0, y0, x1, y1)):
            for k0, k1, k2, k3 in self._cells.get(cell, ()):
                overlap = max(0, min(x1, k2) - max(x0, k0)) * max(0, min(y1, k3) - max(y0, k1))
                if overlap >= COVERED * area:
                    return True
        return False


def _cells_of(box: Box) -> Iterable[tuple[int, int]]:
    for cx in range(box[0] // _CELL, (box[2] - 1) // _CELL + 1):
        for cy in range(box[1] // _CELL, (box[3] - 1) // _CELL + 1):
            yield cx, cy
