"""Tesseract's TSV, parsed here once: its rows, the word boxes and their union.

Each row has 12 columns (TSV_HEADER); `level` says what it describes: 1 page, 2 block, 3 paragraph, 4 line,
5 word. The pipeline keeps a page's TSV without its header line (PageOutput.tsv). Pure: no imports beyond the
standard library, so the API may import it.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

TSV_HEADER = "level\tpage_num\tblock_num\tpar_num\tline_num\tword_num\tleft\ttop\twidth\theight\tconf\ttext"
COLUMNS = 12
WORD = 5
LINE = 4
BLOCK = 2

Box = tuple[int, int, int, int]  # x0, y0, x1, y1 in pixels, origin top left


def union(boxes: Sequence[Box]) -> Box:
    """The smallest box around all of `boxes` (at least one)."""
    return (min(b[0] for b in boxes), min(b[1] for b in boxes), max(b[2] for b in boxes), max(b[3] for b in boxes))


@dataclass(frozen=True)
class Row:
    level: int
    block: int
    par: int
    line: int
    box: Box
    conf: float
    text: str

    @property
    def line_key(self) -> tuple[int, int, int]:
        return (self.block, self.par, self.line)


def split(tsv: str) -> Iterator[list[str]]:
    """The columns of each row (the header line and blank lines included, as they are)."""
    for row in tsv.splitlines():
        yield row.split("\t")


def _number(value: str) -> float | None:
    try:
        return float(value)
    except ValueError:
        return None


def rows(tsv: str) -> Iterator[Row]:
    """The rows with a numeric level and box (the header and malformed rows are skipped)."""
    for cols in split(tsv):
        if len(cols) < COLUMNS - 1 or not cols[0].isdigit():
            continue
        left, top, width, height = (int(c) for c in cols[6:10])
        text = cols[11] if len(cols) > 11 else ""
        box = (left, top, left + width, top + height)
        yield Row(int(cols[0]), int(cols[2]), int(cols[3]), int(cols[4]), box, float(cols[10]), text)


def words(tsv: str) -> Iterator[tuple[str, float]]:
    """Each word row's text (stripped) and confidence, where both are there."""
    for cols in split(tsv):
        if len(cols) < COLUMNS or cols[0] != str(WORD):
            continue
        text = cols[11].strip()
        conf = _number(cols[10])
        if text and conf is not None:
            yield text, conf


def line_count(tsv: str) -> int:
    """How many lines hold a word with text."""
    return len({row.line_key for row in rows(tsv) if row.level == WORD and row.text.strip()})


def mean_word_confidence(tsv: str) -> float:
    """The mean confidence of the words (Tesseract's MeanTextConf, for engines that do not report it)."""
    confs = [conf for _, conf in words(tsv)]
    return sum(confs) / len(confs) if confs else 0.0


def format_row(level: int, line_no: int, word_no: int, box: Box, conf: float, text: str) -> str:
    """A row of page 1, block 1, paragraph 1 (the layout a PDF page's own text layer is given)."""
    x0, y0, x1, y1 = box
    return f"{level}\t1\t1\t1\t{line_no}\t{word_no}\t{x0}\t{y0}\t{x1 - x0}\t{y1 - y0}\t{conf}\t{text}"


def renumber_page(tsv: str, page_no: int) -> Iterator[str]:
    """The rows (11 columns or more) with their page_num set to `page_no`, as a document's TSV holds them."""
    for cols in split(tsv):
        if len(cols) >= COLUMNS - 1:
            cols[1] = str(page_no)
            yield "\t".join(cols)
