"""Ruled tables and form boxes: found by their lines, read with each cell kept apart, rows in order.

Tesseract's page layout reads a ruled table column by column, takes grid lines for letters and glues the
text of neighbouring cells ("13A" for "13 A"); the boxes of a form break its layout the same way. Here the
ruling lines are found with OpenCV morphology (an opening with a long thin kernel keeps only straight runs
of ink longer than any letter: the field's standard way, and what img2table does for bordered tables), and
the cells are the regions the lines enclose (connected components of the page without its lines: merged
cells, and text that runs over an interrupted line, stay one cell).

The cells are then read in one pass: each table row's cells are laid side by side on a white strip, a wide
gap between them, the rows one under the other (`montage`), and the engine reads that as one uniform block.
Every word found is moved back by the offset of the cell it lies in, so the reading's word boxes are in the
coordinates of the image the cells were cut from (the chain of that image maps them onto the page).

Detection is cheap (morphology on a copy of at most `WORK_SIZE` px) and runs on every page with the `tables`
switch on; the montage is read only when it finds a grid of enough cells (`find_cells`).
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
from PIL import Image

from workers.ocr import imageops, layout, tsv
from workers.ocr.candidates import Reading
from workers.ocr.engines.base import OcrEngine, Recognition, RecognizeOptions

WORK_SIZE = 1600  # detection works on a copy whose longer side is at most this
# A ruling line is a straight run of ink at least this many text heights long (letters never are), and at
# least MIN_RULE_PX long on the working copy.
RULE_TEXT_HEIGHTS = 3.0
MIN_RULE_PX = 25
# Ink is what is darker than its neighbourhood's background by this much: light grid lines count.
INK_CONTRAST = 25
# A table is at least this many cells holding ink; a cell at least this high (in text heights) and
# narrower than the whole page.
MIN_CELLS = 4
MIN_CELL_TEXT_HEIGHTS = 0.8
MAX_CELL_AREA_FRACTION = 0.5
INSET_TEXT_HEIGHTS = 0.12  # ink this close to a line is the line's (thick lines, anti-aliasing)
MONTAGE_GAP_TEXT_HEIGHTS = 2.0  # white between two cells of a row in the montage, and between rows
MONTAGE_PSM = 6
# Words of the page's reading outside every cell are kept when at least this confident (the grid's empty
# margins read as letters are not).
OUTSIDE_MIN_CONFIDENCE = 50.0
# A word of the page's reading lies on the grid's lines when this share of its box (less a margin of
# WORD_INSET of its size on each side, where a tight cell's line may touch it) is line.
WORD_INSET = 0.15
WORD_ON_RULES = 0.2


@dataclass(frozen=True)
class Cell:
    """A region enclosed by ruling lines, in the source image's pixels (x0, y0, x1, y1), and its ink box."""

    box: tsv.Box
    ink: tsv.Box


@dataclass(frozen=True)
class Grid:
    """What detection found: the cells with ink, grouped in rows (top to bottom, each left to right), the
    ruling lines' mask (source size) and the text height (px) it measured."""

    rows: list[list[Cell]]
    rules: np.ndarray
    text_height: float

    @property
    def cells(self) -> list[Cell]:
        return [cell for row in self.rows for cell in row]

    @property
    def area(self) -> tsv.Box:
        return tsv.union([cell.box for cell in self.cells])


def ink_of(gray: np.ndarray) -> np.ndarray:
    """Pixels darker than their neighbourhood's background (a local maximum) by INK_CONTRAST: text and lines,
    light grid lines of a screenshot included."""
    background = cv2.dilate(gray, cv2.getStructuringElement(cv2.MORPH_RECT, (15, 15)))
    return np.asarray(gray.astype(np.int16) < background.astype(np.int16) - INK_CONTRAST)


def text_height(ink: np.ndarray) -> float:
    """The median height of the ink's connected components of letter size (px): the text's height."""
    count, _, stats, _ = cv2.connectedComponentsWithStats(ink.astype(np.uint8), connectivity=8)
    heights = stats[1:, cv2.CC_STAT_HEIGHT]
    widths = stats[1:, cv2.CC_STAT_WIDTH]
    letters = heights[(heights >= 4) & (widths <= 3 * heights) & (heights <= ink.shape[0] // 10)]
    return float(np.median(letters)) if count > 1 and len(letters) >= 5 else 0.0


def rule_mask(ink: np.ndarray, height: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The ink that belongs to horizontal or vertical ruling lines (straight runs longer than letters)."""
    length = max(MIN_RULE_PX, round(RULE_TEXT_HEIGHTS * height))
    binary = ink.astype(np.uint8)
    horizontal = cv2.morphologyEx(binary, cv2.MORPH_OPEN, cv2.getStructuringElement(cv2.MORPH_RECT, (length, 1)))
    vertical = cv2.morphologyEx(binary, cv2.MORPH_OPEN, cv2.getStructuringElement(cv2.MORPH_RECT, (1, length)))
    return (horizontal > 0) | (vertical > 0), horizontal, vertical


def closed(horizontal: np.ndarray, vertical: np.ndarray, height: float) -> np.ndarray:
    """The ruling lines with small breaks along each closed (scanning, anti-aliasing), so that the cells
    they bound are closed regions."""
    reach = max(3, round(height / 2))
    horizontal = cv2.dilate(horizontal, cv2.getStructuringElement(cv2.MORPH_RECT, (reach, 3)))
    vertical = cv2.dilate(vertical, cv2.getStructuringElement(cv2.MORPH_RECT, (3, reach)))
    return np.asarray((horizontal > 0) | (vertical > 0))


def _rows(cells: list[Cell]) -> list[list[Cell]]:
    """Cells grouped in rows: a cell joins the row whose cells' vertical span overlaps its middle."""
    rows: list[list[Cell]] = []
    for cell in sorted(cells, key=lambda c: (c.box[1], c.box[0])):
        middle = (cell.box[1] + cell.box[3]) / 2
        for row in rows:
            top, bottom = row[0].box[1], max(c.box[3] for c in row)
            if top <= middle < bottom:
                row.append(cell)
                break
        else:
            rows.append([cell])
    return [sorted(row, key=lambda c: c.box[0]) for row in rows]


@dataclass(frozen=True)
class WorkInk:
    """A page's gray copy of at most WORK_SIZE px (a whole-factor box reduction), its ink and text height
    there: what the table and checkbox detectors share (workers/ocr/forms.py), made once per image."""

    gray: np.ndarray
    ink: np.ndarray
    height: float  # text height in work pixels; 0 where there is too little text to tell
    factor: int  # page pixels per work pixel
    size: tuple[int, int]  # the page's width and height


def work_ink(image: Image.Image) -> WorkInk:
    gray = imageops.grayscale(image)
    factor = max(1, -(-max(gray.size) // WORK_SIZE))
    small = np.asarray(gray.reduce(factor) if factor > 1 else gray, dtype=np.uint8)
    ink = ink_of(small)
    return WorkInk(small, ink, text_height(ink), factor, image.size)


def find_cells(image: Image.Image, work: WorkInk | None = None) -> Grid | None:
    """The page's ruled cells that hold ink, or None when there is no grid of at least MIN_CELLS of them.
    `work`: the image's work_ink, when already made."""
    work = work or work_ink(image)
    ink, height, factor = work.ink, work.height, work.factor
    if height == 0:
        return None
    lines, horizontal, vertical = rule_mask(ink, height)
    if not horizontal.any() or not vertical.any():
        return None
    rules = closed(horizontal, vertical, height)
    count, labels, stats, _ = cv2.connectedComponentsWithStats((~rules).astype(np.uint8), connectivity=4)
    # A cell's text: its ink away from its edges, where the remains of thick or anti-aliased lines lie.
    inset = max(2, round(INSET_TEXT_HEIGHTS * height))
    text = ink & ~cv2.dilate(lines.astype(np.uint8), np.ones((2 * inset + 1, 2 * inset + 1), np.uint8)).astype(bool)
    cells = []
    rows_, cols_ = rules.shape
    for label in range(1, count):
        x, y, w, h, area = (int(v) for v in stats[label])
        if x == 0 or y == 0 or x + w >= cols_ or y + h >= rows_:  # the page around the table
            continue
        if h < MIN_CELL_TEXT_HEIGHTS * height or area > MAX_CELL_AREA_FRACTION * rules.size:
            continue
        inside = text[y : y + h, x : x + w] & (labels[y : y + h, x : x + w] == label)
        ys, xs = np.nonzero(inside)
        if len(ys) < 4:
            continue
        box = (x * factor, y * factor, (x + w) * factor, (y + h) * factor)
        left, top, right, bottom = x + int(xs.min()), y + int(ys.min()), x + int(xs.max()) + 1, y + int(ys.max()) + 1
        cells.append(Cell(box, (left * factor, top * factor, right * factor, bottom * factor)))
    if len(cells) < MIN_CELLS:
        return None
    # Whitened before reading: the lines themselves, one pixel wider (anti-aliased edges), not the closing.
    lines = cv2.dilate(lines.astype(np.uint8), np.ones((3, 3), np.uint8))
    full_rules = cv2.resize(lines, work.size, interpolation=cv2.INTER_NEAREST)
    return Grid(_rows(cells), full_rules.astype(bool), height * factor)


@dataclass(frozen=True)
class Placed:
    """A cell's ink as pasted on the montage: where it came from and where it went (top-left corners)."""

    source: tsv.Box
    at: tuple[int, int]

    def contains(self, x: float, y: float) -> bool:
        left, top = self.at
        return left <= x < left + self.source[2] - self.source[0] and top <= y < top + self.source[3] - self.source[1]


def montage(image: Image.Image, grid: Grid) -> tuple[Image.Image, list[Placed]]:
    """Each row's cells (their ink, lines whitened) side by side with a wide gap, rows one under another."""
    gray = np.asarray(imageops.grayscale(image), dtype=np.uint8).copy()
    gray[grid.rules] = imageops.WHITE
    gap = max(8, round(MONTAGE_GAP_TEXT_HEIGHTS * grid.text_height))
    placed: list[Placed] = []
    y = gap
    width = 0
    for row in grid.rows:
        x = gap
        row_height = 0
        for cell in row:
            x0, y0, x1, y1 = cell.ink
            pad = 0
            source = (
                max(cell.box[0], x0 - pad),
                max(cell.box[1], y0 - pad),
                min(cell.box[2], x1 + pad),
                min(cell.box[3], y1 + pad),
            )
            placed.append(Placed(source, (x, y)))
            x += source[2] - source[0] + gap
            row_height = max(row_height, source[3] - source[1])
        width = max(width, x)
        y += row_height + gap
    canvas = np.full((max(y, 1), max(width, 1)), imageops.WHITE, dtype=np.uint8)
    for piece in placed:
        x0, y0, x1, y1 = piece.source
        left, top = piece.at
        canvas[top : top + y1 - y0, left : left + x1 - x0] = gray[y0:y1, x0:x1]
    return Image.fromarray(canvas), placed


def _moved(row: tsv.Row, placed: list[Placed]) -> tsv.Box | None:
    """A montage box moved back to the source image by the offset of the cell its middle lies in."""
    x0, y0, x1, y1 = row.box
    middle = ((x0 + x1) / 2, (y0 + y1) / 2)
    for piece in placed:
        if piece.contains(*middle):
            dx, dy = piece.source[0] - piece.at[0], piece.source[1] - piece.at[1]
            return (x0 + dx, y0 + dy, x1 + dx, y1 + dy)
    return None


def read_cells(engine: OcrEngine, image: Image.Image, grid: Grid, lang: str, dpi: int | None) -> Recognition:
    """The table's cells read in one pass of the montage; the words' boxes moved back to `image`'s pixels,
    each montage line (a table row) a line, the whole table one block."""
    sheet, placed = montage(image, grid)
    read = engine.recognize(sheet, RecognizeOptions(lang=lang, psm=MONTAGE_PSM, dpi=dpi))
    lines: dict[tuple[int, int, int], list[tuple[str, tsv.Box, float]]] = {}
    for row in tsv.rows(read.tsv):
        if row.level != tsv.WORD or not row.text.strip():
            continue
        box = _moved(row, placed)
        if box is not None:
            lines.setdefault(row.line_key, []).append((row.text, box, row.conf))
    return layout.compose([list(lines.values())], image.size, dpi)


def _inside(box: tsv.Box, cells: list[Cell]) -> bool:
    """Whether a word of the page's reading overlaps a cell (the montage read it; one glued over a line too)."""
    return any(box[0] < c.box[2] and c.box[0] < box[2] and box[1] < c.box[3] and c.box[1] < box[3] for c in cells)


def read_table(
    engine: OcrEngine, image: Image.Image, grid: Grid, page: Recognition, lang: str, dpi: int | None
) -> Recognition:
    """The page's reading with its ruled cells read apart: the montage's rows as one block, and the words of
    `page` (a reading of the same image) that lie outside every cell as they were, in the page reading's
    order (columns of a page stay columns); the table's block stands where the page reading first met a
    cell, or, where it met none, before the first block below the table's top."""
    table = [block for _, block in layout.blocks_of(read_cells(engine, image, grid, lang, dpi).tsv)]
    blocks: list[layout.Block] = []
    at: int | None = None
    for box, block in layout.blocks_of(page.tsv):
        met = any(_inside(w[1], grid.cells) for line in block for w in line)
        kept = [[w for w in line if w[2] >= OUTSIDE_MIN_CONFIDENCE and not _inside(w[1], grid.cells)] for line in block]
        kept = [line for line in kept if line]
        if at is None and (met or box[1] >= grid.area[1]):
            at = len(blocks) + (1 if met and kept and tsv.union([w[1] for w in kept[0]])[1] < grid.area[1] else 0)
        if kept:
            blocks.append(kept)
    at = len(blocks) if at is None else min(at, len(blocks))
    return layout.compose([*blocks[:at], *table, *blocks[at:]], image.size, dpi)


def words_on_rules(grid: Grid, page_tsv: str) -> float:
    """The share of a reading's confident words (of the same image) that lie on the grid's lines. Text is
    inside a table's cells, never on its lines: where many words lie on "lines", the lines are text (bold
    print, a dark or uneven ground, dotted leaders of a receipt), not a grid."""
    on, words = 0, 0
    for row in tsv.rows(page_tsv):
        if row.level != tsv.WORD or not row.text.strip() or row.conf < OUTSIDE_MIN_CONFIDENCE:
            continue
        x0, y0, x1, y1 = row.box
        dx, dy = round((x1 - x0) * WORD_INSET), round((y1 - y0) * WORD_INSET)
        inner = grid.rules[max(0, y0 + dy) : max(0, y1 - dy), max(0, x0 + dx) : max(0, x1 - dx)]
        words += 1
        on += int(inner.size > 0 and float(inner.mean()) > WORD_ON_RULES)
    return on / words if words else 0.0


def table_reading(
    engine: OcrEngine, kept: Reading, dpi: int | None, max_words_on_rules: float = 1.0, work: WorkInk | None = None
) -> tuple[Reading, int] | None:
    """The kept reading's image read with its ruled cells apart, and how many cells, or None without a grid
    (or with one whose lines run through more than `max_words_on_rules` of the kept reading's words).
    `work`: the image's work_ink, when already made."""
    grid = find_cells(kept.image, work)
    if grid is None or words_on_rules(grid, kept.recognition.tsv) > max_words_on_rules:
        return None
    recognition = read_table(engine, kept.image, grid, kept.recognition, kept.lang, dpi)
    reading = Reading(kept.variant, kept.image, recognition, kept.psm, kept.lang, kept.chain, kept.text)
    return reading, len(grid.cells)
