"""Transforms map points of a prepared image back onto the page: checked against the image operations
themselves (a dot drawn on the page is found again where the transform says)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from PIL import Image, ImageDraw

from tests.support import corpus_file
from workers.ocr import imageops
from workers.ocr.geometry import Box, Chain, Projective, Remap

SIZE = (300, 200)
DOT = (70.0, 40.0)  # where the dot is drawn on the page


def _page() -> Image.Image:
    image = Image.new("L", SIZE, 255)
    x, y = DOT
    ImageDraw.Draw(image).ellipse((x - 4, y - 4, x + 4, y + 4), fill=0)
    return image


def _dot_centre(image: Image.Image) -> tuple[float, float]:
    """The centroid of the dark pixels, in continuous coordinates (a pixel's centre is at i + 0.5)."""
    dark = np.asarray(image.convert("L")) < 128
    ys, xs = np.nonzero(dark)
    return float(xs.mean()) + 0.5, float(ys.mean()) + 0.5


def _assert_maps_back(chain: Chain, prepared: Image.Image, tolerance: float = 1.0) -> None:
    found = chain.to_page([_dot_centre(prepared)])[0]
    assert found == pytest.approx(_dot_centre(_page()), abs=tolerance)


@pytest.mark.parametrize("degrees", [0, 90, 180, 270])
def test_a_quarter_turn_maps_back(degrees: int) -> None:
    page = _page()
    turned = imageops.turn_clockwise(page, degrees)
    _assert_maps_back(Chain().then(Projective.quarter_turn(degrees, page.size)), turned, 0.01)


@pytest.mark.parametrize("angle", [-7.5, -1.2, 3.0, 9.0])
def test_a_deskew_rotation_maps_back(angle: float) -> None:
    page = _page()
    rotated = imageops.rotate_degrees(page, angle)
    _assert_maps_back(Chain().then(Projective.rotation(angle, page.size)), rotated)


def test_scale_border_turn_and_rotation_compose() -> None:
    page = _page()
    chain = Chain()
    scaled = imageops.rescale(page, 2.5)
    chain = chain.then(Projective.resize(page.size, scaled.size))
    bordered = imageops.add_border(scaled, 16)
    chain = chain.then(Projective.offset(16, 16))
    turned = imageops.turn_clockwise(bordered, 90)
    chain = chain.then(Projective.quarter_turn(90, bordered.size))
    rotated = imageops.rotate_degrees(turned, 4.0)
    chain = chain.then(Projective.rotation(4.0, turned.size))
    assert len(chain.steps) == 1  # projectives multiply into one
    _assert_maps_back(chain, rotated, 1.5)


def test_a_box_maps_to_the_quad_it_covers_and_its_bounding_box() -> None:
    chain = Chain().then(Projective.scale(2.0)).then(Projective.offset(10, 20))
    assert chain.quad((10, 20, 30, 40)) == ((0.0, 0.0), (10.0, 0.0), (10.0, 10.0), (0.0, 10.0))
    assert chain.box((10, 20, 30, 40)) == (0.0, 0.0, 10.0, 10.0)
    assert Chain().is_identity and not chain.is_identity


def test_a_perspective_maps_back_through_its_inverse() -> None:
    matrix = np.array([[1.1, 0.05, 3.0], [0.02, 0.95, -4.0], [0.0004, 0.0002, 1.0]])
    step = Projective.of(matrix)
    source = np.array([[10.0, 20.0], [250.0, 180.0]])
    assert step.to_source(step.to_prepared(source)) == pytest.approx(source)


def test_a_remap_maps_back_by_its_sampled_source_coordinates() -> None:
    """A prepared image sampled from the source shifted by (5, -3) and stretched 2x sideways: the maps say
    where each prepared pixel came from, at every 4th pixel."""
    rows, cols, step = 20, 30, 4
    ys, xs = np.mgrid[0:rows, 0:cols].astype(np.float64) * step
    remap = Remap(map_x=xs / 2 + 5, map_y=ys - 3, step=step)
    prepared = np.array([[40.5, 20.5], [80.5, 60.5]])
    expected = np.array([[(40.0 / 2 + 5) + 0.5, 20.0 - 3 + 0.5], [(80.0 / 2 + 5) + 0.5, 60.0 - 3 + 0.5]])
    assert Chain().then(remap).to_page(prepared) == pytest.approx(expected)


# -- the pipeline records the chain of its kept reading ------------------------------------------------
def _ink_share_of_boxes(page: Image.Image, boxes: list[tuple[float, float, float, float]]) -> float:
    """The share of boxes that hold ink of the page (at least 3 % dark pixels)."""
    dark = np.asarray(page.convert("L")) < 128
    hits = 0
    for x0, y0, x1, y1 in boxes:
        window = dark[max(0, int(y0)) : int(np.ceil(y1)), max(0, int(x0)) : int(np.ceil(x1))]
        hits += window.size > 0 and window.mean() >= 0.03
    return hits / len(boxes)


def _read_and_map(loaded: Image.Image, dpi: int | None) -> tuple[Any, list[Box], list[Box]]:
    from tests.workers.ocr.support import page_options
    from workers.ocr import pages, tesseract, tsv
    from workers.ocr.engines.tesserocr import TesserocrEngine
    from workers.ocr.preprocess import read_page

    page = pages.PageImage(image=loaded, dpi=dpi)
    reading = read_page(TesserocrEngine(tesseract.tessdata_dir()), 1, page, page_options())
    words = [row.box for row in tsv.rows(reading.output.tsv) if row.level == tsv.WORD and row.text.strip()]
    return reading, words, [reading.chain.box(box) for box in words]


@pytest.mark.parametrize("skew", [4.0, -3.0])
def test_a_deskewed_readings_word_boxes_map_back_onto_the_pages_ink(skew: float) -> None:
    from bench.synthetic import font_paths, render_lines

    lines = ["The quick brown fox jumps over", "the lazy dog near the river bank", "while seven wizards quietly"]
    upright = render_lines(lines * 3, font_paths()[0], text_height=30).convert("L")
    loaded = imageops.rotate_degrees(upright, -skew)
    reading, words, mapped = _read_and_map(loaded, 300)
    assert reading.output.info["deskew_angle"] == pytest.approx(skew, abs=0.3)
    assert len(words) >= 15
    assert _ink_share_of_boxes(loaded, mapped) >= 0.95


@pytest.mark.parametrize(
    ("name", "turn"), [("tess_phototest-rotated-L.png", 90), ("tess_phototest-rotated-180.png", 180)]
)
def test_a_turned_readings_word_boxes_map_back_onto_the_pages_ink(name: str, turn: int) -> None:
    """Read turned upright: unmapped, the boxes refer to the turned image and mostly miss the page's ink."""
    from workers.ocr import pages

    loaded = pages.load_page(corpus_file(name), "image/png", 1, dpi=None, render_dpi=300, max_pixels=60_000_000)
    reading, words, mapped = _read_and_map(loaded.image, loaded.dpi)
    assert reading.output.rotation == turn
    assert len(words) >= 15
    assert _ink_share_of_boxes(loaded.image, mapped) >= 0.95
    assert _ink_share_of_boxes(loaded.image, words) < 0.8


def test_an_enlarged_and_bordered_words_box_maps_back_onto_its_ink() -> None:
    from bench.synthetic import font_paths, render_lines

    small = render_lines(["Hello"], font_paths()[0], text_height=12, margin=0.1).convert("L")
    reading, words, mapped = _read_and_map(small, None)
    assert any(step.startswith("scale") for step in reading.output.info["steps"])
    assert words and _ink_share_of_boxes(small, mapped) == 1.0
    assert all(x1 <= small.width + 1 and y1 <= small.height + 1 for _, _, x1, y1 in mapped)
