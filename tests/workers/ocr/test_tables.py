"""Ruled tables (workers/ocr/tables.py), the recognition composed of their cells (layout.py), a form's
checkboxes (forms.py), and the background flattening of faded print (binarize.py), with the real engine on
images made here (and one corpus receipt)."""

from __future__ import annotations

import json
import random

import jsonschema
import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFont

from bench.scoring import word_bag_error
from bench.synthetic import FONT_DIRS
from bench.synthetic_docs import render_table
from tests.workers.ocr.support import page_options
from tests.workers.ocr.test_outputs import META, SCHEMA
from workers.ocr import binarize, forms, layout, tables, tsv
from workers.ocr.engines import OcrEngine, get_engine
from workers.ocr.outputs import json as json_output
from workers.ocr.pages import PageImage
from workers.ocr.preprocess import recognize_page


@pytest.fixture(scope="module")
def engine() -> OcrEngine:
    return get_engine()


def _font(size: int) -> ImageFont.FreeTypeFont:
    path = next(d / "DejaVuSans.ttf" for d in FONT_DIRS if (d / "DejaVuSans.ttf").exists())
    return ImageFont.truetype(str(path), size)


def _table(seed: int = 3, **kwargs: object) -> tuple[Image.Image, list[str]]:
    options = {"merged": False, "line_gray": 0, "line_width": 2, **kwargs}
    return render_table(random.Random(seed), _font(22), **options)  # type: ignore[arg-type]


def test_a_ruled_grid_is_found_cell_by_cell() -> None:
    image, rows = _table()
    grid = tables.find_cells(image)
    assert grid is not None
    body = [row.split() for row in rows[1:]]  # the title above the table is no cell
    assert [len(r) for r in grid.rows] == [len(r) for r in body]
    assert 15 < grid.text_height < 30


@pytest.mark.parametrize("gray", [0, 205])
def test_light_and_dark_grids_are_found(gray: int) -> None:
    image, rows = _table(seed=5, line_gray=gray, line_width=1)
    grid = tables.find_cells(image)
    assert grid is not None and len(grid.rows) == len(rows) - 1


def test_a_page_of_text_or_an_underline_is_no_table() -> None:
    image = Image.new("L", (900, 400), 255)
    draw = ImageDraw.Draw(image)
    for i in range(6):
        draw.text((40, 30 + 50 * i), "A line of plain text with no table in it at all", font=_font(24), fill=0)
    draw.line([(40, 350), (800, 350)], fill=0, width=2)  # a rule under the text, no cells
    assert tables.find_cells(image) is None


def test_cells_are_read_apart_and_their_words_land_on_the_page(engine: OcrEngine) -> None:
    image, rows = _table(seed=9)
    grid = tables.find_cells(image)
    assert grid is not None
    recognition = tables.read_cells(engine, image, grid, "eng", None)
    lines = [line.split() for line in recognition.text.splitlines() if line]
    assert len(lines) == len(rows) - 1 and word_bag_error("\n".join(rows[1:]), recognition.text) < 0.1
    for line, row in zip(lines, rows[1:], strict=True):  # one line a row, in order, cells apart
        assert len(line) == len(row.split()) and line[0] == row.split()[0], (line, row)
    ink = np.asarray(image) < 128
    for row in tsv.rows(recognition.tsv):
        if row.level == tsv.WORD:
            x0, y0, x1, y1 = row.box
            assert ink[y0:y1, x0:x1].any(), row  # the box is on the word's ink, in the page's pixels
            assert any(c.box[0] <= x0 and x1 <= c.box[2] and c.box[1] <= y0 and y1 <= c.box[3] for c in grid.cells)


def test_a_merged_cell_stays_one_cell() -> None:
    image, rows = _table(seed=4, merged=True)
    grid = tables.find_cells(image)
    assert grid is not None
    header = grid.rows[0]
    assert len(header) == len(rows[1].split()) - 1  # the last two header words share one cell


def test_composed_recognition_round_trips_through_tsv() -> None:
    words = [[("13", (10, 10, 30, 30), 90.0), ("A", (80, 10, 95, 30), 88.0)], [("Total", (10, 50, 70, 70), 95.0)]]
    recognition = layout.compose([words], (200, 100), 300)
    assert recognition.text == "13 A\nTotal\n"
    assert [b for b, _ in layout.blocks_of(recognition.tsv)] == [(10, 10, 95, 70)]
    assert "scan_res 300 300" in recognition.hocr_page and "x_wconf 88" in recognition.hocr_page


def test_flattened_background_whitens_uneven_paper_and_keeps_faded_ink() -> None:
    xs = np.linspace(120, 250, 400, dtype=np.float32)
    paper = np.tile(xs, (200, 1))  # light falling off to the left
    paper[90:110, 20:380] -= 60  # faded ink, a bar across the whole slip
    flat = np.asarray(binarize.flatten_background(Image.fromarray(paper.astype(np.uint8))))
    assert flat[:50].mean() > 240  # paper white on both sides
    assert flat[95:105, 30:60].mean() < 120 and flat[95:105, 340:370].mean() < 120  # ink dark on both sides


def test_a_grid_whose_lines_run_through_the_read_words_is_no_table(engine: OcrEngine) -> None:
    """A receipt photographed on a blue ground (corpus sroie_211.jpg): its bold print, dotted rules and the
    paper's edges make "lines" that enclose scraps of letters. Text lies in a table's cells, never on its
    lines, so that grid is refused (its cells read apart lost a third of the receipt's words); a real
    table's grid is not."""
    from tests.support import corpus_file
    from workers.ocr.candidates import DEFAULT_TUNING, Reading, Variant
    from workers.ocr.engines import RecognizeOptions
    from workers.ocr.geometry import Chain

    def reading_of(image: Image.Image) -> Reading:
        recognition = engine.recognize(image, RecognizeOptions(lang="eng", psm=3))
        return Reading(Variant(), image, recognition, 3, "eng", Chain())

    receipt = reading_of(Image.open(corpus_file("sroie_211.jpg")).convert("RGB"))
    grid = tables.find_cells(receipt.image)
    assert grid is not None  # the detector alone takes it for a table ...
    assert tables.words_on_rules(grid, receipt.recognition.tsv) > DEFAULT_TUNING.table_words_on_rules
    assert tables.table_reading(engine, receipt, None, DEFAULT_TUNING.table_words_on_rules) is None
    assert tables.table_reading(engine, receipt, None, 1.0) is not None  # ... and only the check refuses it
    table = reading_of(_table(seed=9)[0])
    table_grid = tables.find_cells(table.image)
    assert table_grid is not None
    assert tables.words_on_rules(table_grid, table.recognition.tsv) <= DEFAULT_TUNING.table_words_on_rules / 2
    assert tables.table_reading(engine, table, None, DEFAULT_TUNING.table_words_on_rules) is not None


def _checkbox_form() -> tuple[Image.Image, list[tuple[str, bool]]]:
    """A line of options, each after its checkbox (the second crossed, the fourth filled), and a line of words
    whose letters are closed shapes (O, D, 0, 8, B), which are no checkboxes."""
    font = _font(24)
    image = Image.new("L", (900, 220), 255)
    draw = ImageDraw.Draw(image)
    options = [("Post", False), ("Email", True), ("Phone", False), ("Other", True)]
    for k, (label, checked) in enumerate(options):
        x, side = 40 + k * 210, 22
        draw.rectangle((x, 40, x + side, 40 + side), outline=0, width=2)
        if checked and k == 1:
            draw.line([(x + 4, 44), (x + side - 4, 36 + side)], fill=0, width=2)
            draw.line([(x + side - 4, 44), (x + 4, 36 + side)], fill=0, width=2)
        elif checked:
            draw.rectangle((x + 6, 46, x + side - 6, 34 + side), fill=0)
        draw.text((x + side + 12, 38), label, font=font, fill=0)
    draw.text((40, 130), "DOOR 0800 BOX 88 ODD BOB", font=font, fill=0)
    return image, options


def test_checkboxes_are_found_with_their_marks_and_letters_are_not() -> None:
    image, options = _checkbox_form()
    found = forms.find_checkboxes(image)
    assert len(found) == len(options), found
    assert [box.checked for box in sorted(found, key=lambda b: b.box[0])] == [c for _, c in options]
    assert all(box.box[3] < 100 for box in found)  # none in the line of closed letters


def test_a_form_s_checkboxes_are_not_read_as_letters(engine: OcrEngine) -> None:
    image, options = _checkbox_form()
    output = recognize_page(engine, 1, PageImage(image, None), page_options())
    first = output.text.split("\n")[0].split()
    assert first == [label for label, _ in options], output.text
    assert output.info["checkboxes"] == {"found": 4, "checked": 2}
    assert "checkboxes4" in output.info["steps"]
    document = json.loads(json_output.build([output], META))  # result.json says so, as its schema allows
    jsonschema.validate(document, SCHEMA)
    assert document["pages"][0]["preprocessing"]["checkboxes"] == {"found": 4, "checked": 2}
    plain = recognize_page(engine, 1, PageImage(image, None), page_options(tables=False))
    assert plain.text.split("\n")[0].split() != first  # the boxes read as letters: what the step is for
