"""Output builders on real page outputs: the engine runs in-process on corpus scans, once per module."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from lxml import etree
from PIL import Image

from bench.scoring import cer
from tests.support import REPO, corpus_file
from tests.workers.ocr.support import page_options
from workers.ocr import outputs, pages, textlayer
from workers.ocr.engines import get_engine
from workers.ocr.outputs import alto, hocr, tsv, txt
from workers.ocr.outputs import json as json_output
from workers.ocr.outputs.page import PageOutput
from workers.ocr.outputs.structure import page_structure
from workers.ocr.preprocess import recognize_page

ALTO = "{http://www.loc.gov/standards/alto/ns-v4#}"
XHTML = "{http://www.w3.org/1999/xhtml}"
SCHEMA = json.loads((REPO / "docs" / "result.schema.json").read_text())
META = {
    "job_id": "job-1",
    "filename": "scan.tif",
    "engine": {
        "engine": "tesserocr",
        "tesseract_version": "5.3.0",
        "models": [{"name": "eng", "sha256": "0" * 64}],
        "options": {"lang": "eng", "psm": None, "dpi": None, "formats": ["json"]},
    },
}


def _recognize(name: str, page_no: int = 1) -> tuple[Image.Image, PageOutput]:
    page = pages.load_page(corpus_file(name), "image/tiff", page_no, dpi=None, render_dpi=300, max_pixels=60_000_000)
    return page.image, recognize_page(get_engine(), page_no, page, page_options())


@pytest.fixture(scope="module")
def photo() -> tuple[Image.Image, PageOutput]:
    """tess_phototest.tif: a bilevel page of two paragraphs, 640 x 480 at 200 dpi."""
    return _recognize("tess_phototest.tif")


@pytest.fixture(scope="module")
def two_pages(photo: tuple[Image.Image, PageOutput]) -> list[PageOutput]:
    second = _recognize("paperless_multi-page-images.tiff", 2)[1]
    return [photo[1], replace(second, page=2)]


def _all_words(page: PageOutput) -> list[dict[str, Any]]:
    return [w for b in page_structure(page)["blocks"] for ln in b["lines"] for w in ln["words"]]


def _words(page: PageOutput) -> list[str]:
    return [w["text"] for w in _all_words(page)]


def test_text_pages_end_in_one_newline_and_are_separated_by_form_feeds(two_pages: list[PageOutput]) -> None:
    text = txt.build(two_pages)
    first, second = text.split("\f")
    assert first.endswith("dog jumped over the lazy fox.\n") and not first.endswith("\n\n")
    assert second == "This is a multi page document. Page 2.\n"
    # The pytesseract engine's text ends in the CLI's own page separator: it must not double up.
    assert txt.page_text(replace(two_pages[1], text="Page.\n\n\f")) == "Page.\n"


def test_hocr_is_xhtml_with_one_page_element_per_page_and_unique_ids(two_pages: list[PageOutput]) -> None:
    root = etree.fromstring(hocr.build(two_pages, "5.3.0").encode())
    page_divs = root.findall(f".//{XHTML}div[@class='ocr_page']")
    assert [d.get("id") for d in page_divs] == ["page_1", "page_2"]
    assert "ppageno 1" in page_divs[1].get("title")
    ids = [e.get("id") for e in root.iter() if e.get("id")]
    assert len(ids) == len(set(ids))
    words = root.findall(f".//{XHTML}span[@class='ocrx_word']")
    assert len(words) == sum(len(_words(p)) for p in two_pages)
    assert root.find(f".//{XHTML}meta[@name='ocr-system']").get("content") == "tesseract 5.3.0"


def test_tsv_has_one_header_and_the_page_numbers(two_pages: list[PageOutput]) -> None:
    rows = tsv.build(two_pages).splitlines()
    assert rows[0].startswith("level\tpage_num\tblock_num") and sum(r.startswith("level") for r in rows) == 1
    assert {r.split("\t")[1] for r in rows[1:]} == {"1", "2"}


def test_alto_v4_has_the_required_elements_and_every_word(two_pages: list[PageOutput]) -> None:
    root = etree.fromstring(alto.build(two_pages, META).encode())
    assert root.tag == f"{ALTO}alto"
    assert root.findtext(f"{ALTO}Description/{ALTO}MeasurementUnit") == "pixel"
    software = root.find(f"{ALTO}Description/{ALTO}OCRProcessing/{ALTO}ocrProcessingStep/{ALTO}processingSoftware")
    assert software.findtext(f"{ALTO}softwareName") == "tesseract"
    assert software.findtext(f"{ALTO}softwareVersion") == "5.3.0"
    assert root.findtext(f".//{ALTO}sourceImageInformation/{ALTO}fileName") == "scan.tif"
    alto_pages = root.findall(f"{ALTO}Layout/{ALTO}Page")
    assert [p.get("PHYSICAL_IMG_NR") for p in alto_pages] == ["1", "2"]
    assert alto_pages[0].get("WIDTH") == "640" and alto_pages[0].get("HEIGHT") == "480"
    for alto_page, page in zip(alto_pages, two_pages, strict=True):
        strings = alto_page.findall(f"{ALTO}PrintSpace/{ALTO}TextBlock/{ALTO}TextLine/{ALTO}String")
        assert [s.get("CONTENT") for s in strings] == _words(page)
        for string in strings:
            assert all(int(string.get(a)) >= 0 for a in ("HPOS", "VPOS", "WIDTH", "HEIGHT"))
            assert 0 <= float(string.get("WC")) <= 1
    first_line = root.find(f".//{ALTO}TextLine")
    children = [etree.QName(c).localname for c in first_line]
    assert children[:3] == ["String", "SP", "String"] and children[-1] == "String"
    ids = [e.get("ID") for e in root.iter() if e.get("ID")]
    assert len(ids) == len(set(ids))


def test_json_matches_the_published_schema_and_carries_the_engine(two_pages: list[PageOutput]) -> None:
    document = json.loads(json_output.build(two_pages, META))
    jsonschema.validate(document, SCHEMA)
    assert document["engine"]["tesseract_version"] == "5.3.0"
    page = document["pages"][0]
    assert (page["width"], page["height"], page["dpi"], page["rotation"], page["source"]) == (640, 480, 200, 0, "ocr")
    line = page["blocks"][0]["lines"][0]
    assert line["text"] == "This is a lot of 12 point text to test the"
    x0, y0, x1, y1 = line["words"][0]["bbox"]
    assert 0 <= x0 < x1 <= 640 and 0 <= y0 < y1 <= 480


def test_text_layer_of_a_pdf_page_round_trips(tmp_path: Path, photo: tuple[Image.Image, PageOutput]) -> None:
    """The searchable PDF goes in again with skip_text: its own text layer gives the same words and boxes."""
    from workers.ocr.pdf import searchable_pdf

    _, page = photo
    path = tmp_path / "searchable.pdf"
    with path.open("wb") as target:
        searchable_pdf(corpus_file("tess_phototest.tif"), "image/tiff", [page], target, title=None, creator="test",
                       redo=False, archive=True, dpi=None, default_dpi=300, max_pixels=60_000_000)  # fmt: skip
    layer = textlayer.read_text_layer(path, 1, 200)
    assert layer is not None and (layer.width, layer.height) == (640, 480)
    reused = textlayer.page_output(1, layer)
    assert _words(reused) == _words(page)
    assert cer(page.text, reused.text) == 0
    for ocr_word, reused_word in zip(_all_words(page), _all_words(reused), strict=True):
        ocr_box, reused_box = ocr_word["bbox"], reused_word["bbox"]
        assert abs(ocr_box[0] - reused_box[0]) <= 3 and abs(ocr_box[2] - reused_box[2]) <= 3  # same columns
    document = json.loads(json_output.build([reused], META))
    jsonschema.validate(document, SCHEMA)
    assert document["pages"][0]["source"] == "text_layer" and document["pages"][0]["confidence"] == 100
    etree.fromstring(hocr.build([reused], "5.3.0").encode())
    etree.fromstring(alto.build([reused], META).encode())


def test_an_image_only_pdf_page_has_no_text_layer() -> None:
    assert textlayer.read_text_layer(corpus_file("paperless_multi-page-images.pdf"), 1, 300) is None


# -- the format registry and the wire contract -------------------------------------------------------
def test_the_pipelines_formats_are_the_wire_contracts() -> None:
    from ocr_client import options

    assert outputs.FORMATS == options.FORMATS
    assert set(outputs.DOCUMENTS) == set(options.FORMATS) - {"pdf"}
    assert set(options.MEDIA_TYPES) == set(outputs.FORMATS)
    assert txt.PAGE_SEPARATOR == options.PAGE_SEPARATOR


def test_each_document_is_built_by_its_formats_module(two_pages: list[PageOutput]) -> None:
    built = {fmt: outputs.build_document(fmt, two_pages, META) for fmt in outputs.DOCUMENTS}
    assert built == {
        "txt": txt.build(two_pages),
        "hocr": hocr.build(two_pages, META["engine"]["tesseract_version"]),
        "alto": alto.build(two_pages, META),
        "tsv": tsv.build(two_pages),
        "json": json_output.build(two_pages, META),
    }


def test_a_page_in_the_document_text_is_what_the_text_stream_serves() -> None:
    pages_ = [PageOutput(n, 10, 10, None, f"page {n}\n\n\f", "", "", 90.0) for n in (1, 2, 3)]
    assert "".join(txt.page_in_document(p.text, p.page) for p in pages_) == txt.build(pages_)
