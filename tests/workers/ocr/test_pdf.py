"""The searchable PDF's parts: images embedded as they are, the text layer where the words are (on pages read
turned, deskewed and enlarged), grafting onto a PDF's own pages, redo_ocr, and PDF/A-2b as validated by
pikepdf.pdfa (an allowlist validator built from veraPDF's rules)."""

from __future__ import annotations

import io
import json
from pathlib import Path

import jsonschema
import pikepdf
import pytest
from lxml import etree
from pikepdf import pdfa
from PIL import Image

from bench import pdfcheck
from bench.scoring import normalise
from tests.pdf_inputs import born_digital_pdf
from tests.support import REPO, corpus_file
from tests.workers.ocr.support import page_options
from workers.ocr import pages, textlayer
from workers.ocr.engines import get_engine
from workers.ocr.outputs import alto, hocr, txt
from workers.ocr.outputs import json as json_output
from workers.ocr.outputs.page import PageOutput
from workers.ocr.pdf import graft, images, searchable_pdf
from workers.ocr.preprocess import recognize_page

SCHEMA = json.loads((REPO / "docs" / "result.schema.json").read_text())
META = {
    "job_id": "j",
    "filename": "f",
    "engine": {"tesseract_version": "5.3.0", "models": [], "options": {"lang": "eng"}},
}
MAX_PIXELS = 60_000_000
XHTML = "{http://www.w3.org/1999/xhtml}"


def _read(path: Path, media_type: str) -> list[PageOutput]:
    count = pages.count_pages(path, media_type, MAX_PIXELS)
    outputs = []
    for n in range(1, count + 1):
        page = pages.load_page(path, media_type, n, dpi=None, render_dpi=300, max_pixels=MAX_PIXELS)
        outputs.append(recognize_page(get_engine(), n, page, page_options()))
    return outputs


def _searchable(tmp: Path, path: Path, media_type: str, outputs: list[PageOutput], **options: bool) -> Path:
    target = tmp / f"{path.stem}.searchable.pdf"
    with target.open("wb") as out:
        searchable_pdf(path, media_type, outputs, out, title=path.name, creator="test",
                       redo=options.get("redo", False), archive=options.get("archive", True), dpi=None,
                       default_dpi=300, max_pixels=MAX_PIXELS)  # fmt: skip
    return target


def _assert_layer_matches(pdf: Path, outputs: list[PageOutput]) -> None:
    """pdftotext (in the layer's order) gives result.txt's words exactly; the words lie on the page's ink."""
    assert normalise("\f".join(pdfcheck.pdftotext(pdf, raw=True))) == normalise(txt.build(outputs))
    share, words = pdfcheck.words_on_ink(pdf)
    assert words >= 0.9 * sum(len(o.text.split()) for o in outputs)
    assert share >= 0.85, share


@pytest.mark.parametrize(
    ("name", "media_type", "steps"),
    [
        ("tess_phototest-rotated-L.png", "image/png", "turn90"),  # read turned
        ("ocrmypdf_skew.pdf", "application/pdf", "deskew"),  # read deskewed
        ("small-text.png", "image/png", "scale"),  # read enlarged (made below: small text)
    ],
)
def test_the_text_layer_lies_on_the_words_the_user_sees(tmp_path: Path, name: str, media_type: str, steps: str) -> None:
    path = corpus_file(name) if name != "small-text.png" else _small_text(tmp_path / name)
    outputs = _read(path, media_type)
    assert any(step.startswith(steps) for step in outputs[0].info["steps"]), outputs[0].info["steps"]
    pdf = _searchable(tmp_path, path, media_type, outputs)
    _assert_layer_matches(pdf, outputs)
    assert pdfa.validate_written(pdf, "2b").passed
    # The user's page is what the PDF shows: turned upright (by /Rotate) at most, never re-rendered.
    with pikepdf.open(pdf) as document:
        assert document.pages[0].rotation == outputs[0].rotation


def _small_text(path: Path) -> Path:
    from bench.synthetic import font_paths, render_lines

    render_lines(["Hello small world"], font_paths()[0], text_height=12, margin=0.1).convert("L").save(path)
    return path


def test_outputs_describe_the_page_as_given_with_polygons_where_read_turned() -> None:
    """Read turned by 90 degrees: every box is on the page as given (480 x 640 here, not the turned 640 x 480),
    each word has the polygon it covers, starting where its text starts; hOCR, ALTO and JSON agree."""
    page = _read(corpus_file("tess_phototest-rotated-L.png"), "image/png")[0]
    assert (page.width, page.height, page.rotation) == (480, 640, 90)
    document = json.loads(json_output.build([page], META))
    jsonschema.validate(document, SCHEMA)
    words = [w for b in document["pages"][0]["blocks"] for line in b["lines"] for w in line["words"]]
    assert words and all("polygon" in w for w in words)
    for word in words:
        x0, y0, x1, y1 = word["bbox"]
        assert 0 <= x0 < x1 <= 480 and 0 <= y0 < y1 <= 640
        xs, ys = word["polygon"][0::2], word["polygon"][1::2]
        assert (min(xs), min(ys), max(xs), max(ys)) == pytest.approx((x0, y0, x1, y1), abs=1)
        # Turned 90 degrees counter-clockwise on the page: the text starts at the bottom and runs upwards.
        assert ys[0] > ys[1] and xs[0] == pytest.approx(xs[1], abs=1)
    root = etree.fromstring(hocr.build([page], "5.3.0").encode())
    page_div = root.find(f".//{XHTML}div[@class='ocr_page']")
    assert "bbox 0 0 480 640" in page_div.get("title")
    spans = root.findall(f".//{XHTML}span[@class='ocrx_word']")
    assert len(spans) == len(words) and all("poly " in s.get("title") for s in spans)
    lines = [e for e in root.iter() if e.get("class") in ("ocr_line", "ocr_header", "ocr_textfloat")]
    assert lines and all("textangle 90" in line.get("title") for line in lines)
    alto_root = etree.fromstring(alto.build([page], META).encode())
    assert len(alto_root.findall(".//{*}String/{*}Shape/{*}Polygon")) == len(words)


def test_an_upright_reading_has_no_polygons() -> None:
    page = _read(corpus_file("tess_phototest.tif"), "image/tiff")[0]
    assert page.quads is None
    document = json.loads(json_output.build([page], META))
    assert "polygon" not in json.dumps(document)


# -- images embedded as they are ---------------------------------------------------------------------
def _document_images(data: bytes) -> tuple[list[int], list[list[pdfcheck.EmbeddedImage]]]:
    with pikepdf.open(io.BytesIO(data)) as pdf:
        rotations = [page.rotation for page in pdf.pages]
    return rotations, _images_of(data)


def _images_of(data: bytes) -> list[list[pdfcheck.EmbeddedImage]]:
    import tempfile

    with tempfile.NamedTemporaryFile(suffix=".pdf") as file:
        file.write(data)
        file.flush()
        return pdfcheck.page_images(Path(file.name))


def test_a_jpeg_photo_is_embedded_with_its_own_bytes_and_shown_upright() -> None:
    """EXIF orientation 6: the stored pixels are kept as they are (the JPEG's own bytes, DCTDecode), the
    page is turned by /Rotate."""
    path = corpus_file("photo_Histoire_Geo_IMG_20210329_122524.jpg")
    rotations, found = _document_images(images.image_document(path, dpi=None, default_dpi=300, max_pixels=MAX_PIXELS))
    assert rotations == [90]
    (image,) = found[0]
    assert image.filters == ("/DCTDecode",) and image.raw == path.read_bytes()
    with Image.open(path) as stored:
        assert (image.width, image.height) == stored.size  # not turned


def test_a_bilevel_tiff_keeps_its_ccitt_data_and_gray_images_stay_lossless(tmp_path: Path) -> None:
    _, found = _document_images(images.image_document(corpus_file("tess_phototest.tif"), dpi=None, default_dpi=300,
                                                      max_pixels=MAX_PIXELS))  # fmt: skip
    (bilevel,) = found[0]
    assert bilevel.filters == ("/CCITTFaxDecode",) and bilevel.bits == 1
    gray = Image.linear_gradient("L").resize((300, 200))
    gray.save(tmp_path / "gray.png")
    _, found = _document_images(images.image_document(tmp_path / "gray.png", dpi=None, default_dpi=300,
                                                      max_pixels=MAX_PIXELS))  # fmt: skip
    (flate,) = found[0]
    assert flate.filters == ("/FlateDecode",)
    with pikepdf.open(io.BytesIO(images.image_document(tmp_path / "gray.png", dpi=None, default_dpi=300,
                                                       max_pixels=MAX_PIXELS))) as pdf:  # fmt: skip
        decoded = pikepdf.PdfImage(next(iter(pdf.pages[0].images.values()))).as_pil_image()
    assert list(decoded.getdata()) == list(gray.getdata())


def test_a_mirrored_exif_orientation_is_embedded_losslessly_upright(tmp_path: Path) -> None:
    image = Image.linear_gradient("L").resize((120, 80))
    exif = Image.Exif()
    exif[0x0112] = 2  # mirrored: /Rotate cannot show it
    image.save(tmp_path / "mirrored.png", exif=exif)
    rotations, found = _document_images(images.image_document(tmp_path / "mirrored.png", dpi=None, default_dpi=300,
                                                              max_pixels=MAX_PIXELS))  # fmt: skip
    assert rotations == [0] and found[0][0].filters == ("/FlateDecode",)


# -- grafting onto a PDF's own pages ------------------------------------------------------------------
def _words_page(width: int, height: int, text: str, rotation: int = 0) -> PageOutput:
    rows = [f"1\t1\t0\t0\t0\t0\t0\t0\t{width}\t{height}\t-1\t", "2\t1\t1\t0\t0\t0\t100\t100\t400\t60\t-1\t",
            "3\t1\t1\t1\t0\t0\t100\t100\t400\t60\t-1\t", "4\t1\t1\t1\t1\t0\t100\t100\t400\t60\t-1\t"]  # fmt: skip
    for n, word in enumerate(text.split(), start=1):
        rows.append(f"5\t1\t1\t1\t1\t{n}\t{100 + 130 * (n - 1)}\t100\t110\t60\t95\t{word}")
    return PageOutput(1, width, height, 300, text + "\n", "", "\n".join(rows), 95.0, rotation)


def test_grafting_keeps_every_content_stream_image_and_font_of_the_page(tmp_path: Path) -> None:
    """The layer is added beside the page's own content, which stays byte for byte; a page read turned is
    turned by /Rotate; the result is PDF/A-2b."""
    source = corpus_file("ocrmypdf_cardinal.pdf")
    outputs = []
    with pikepdf.open(source) as pdf:
        before = [[bytes(s.read_raw_bytes()) for s in _streams(page)] for page in pdf.pages]
        for n, page in enumerate(pdf.pages, start=1):
            x0, y0, x1, y1 = (float(v) for v in page.mediabox)
            size = (round((x1 - x0) * 300 / 72), round((y1 - y0) * 300 / 72))
            outputs.append(_words_page(*size, f"page {n} words", rotation=180 if n == 3 else 0))
    result = _searchable(tmp_path, source, "application/pdf", outputs)
    with pikepdf.open(result) as pdf:
        after = [[bytes(s.read_raw_bytes()) for s in _streams(page)] for page in pdf.pages]
        assert [page.rotation for page in pdf.pages] == [0, 0, 180, 0]
    for old, new in zip(before, after, strict=True):
        assert len(new) == len(old) + 1 and new[1:] == old  # the layer's stream first, the page's own after it
    assert [i.raw for p in pdfcheck.page_images(result) for i in p] == [
        i.raw for p in pdfcheck.page_images(source) for i in p
    ]
    assert [normalise(p) for p in pdfcheck.pdftotext(result, raw=True)] == [f"page {n} words" for n in range(1, 5)]
    assert pdfcheck.rendered_difference(source, result) < 4
    report = pdfa.validate_written(result, "2b")
    assert report.passed, report.findings
    with pikepdf.open(result) as pdf:
        meta = pdf.open_metadata()
        assert (meta["pdfaid:part"], meta["pdfaid:conformance"]) == ("2", "B")
        assert meta["dc:title"] == source.name == str(pdf.docinfo.Title)
        assert pdf.Root.OutputIntents[0].S == "/GTS_PDFA1"
        assert pdf.Root.OutputIntents[0].DestOutputProfile.N == 3  # sRGB


def _streams(page: pikepdf.Page) -> list[pikepdf.Stream]:
    contents = page.obj.Contents
    return list(contents) if isinstance(contents, pikepdf.Array) else [contents]


def test_a_plain_pdf_when_asked(tmp_path: Path) -> None:
    source = corpus_file("tess_phototest.tif")
    result = _searchable(tmp_path, source, "image/tiff", [_words_page(640, 480, "a plain page")], archive=False)
    with pikepdf.open(result) as pdf:
        assert "pdfaid:part" not in pdf.open_metadata() and "/OutputIntents" not in pdf.Root
    assert normalise(pdfcheck.pdftotext(result, raw=True)[0]) == "a plain page"


def test_redo_ocr_replaces_an_earlier_invisible_layer_and_keeps_visible_text(tmp_path: Path) -> None:
    source = corpus_file("tess_phototest.tif")
    first = _searchable(tmp_path, source, "image/tiff", [_words_page(640, 480, "old layer")])
    with pikepdf.open(first) as pdf:  # visible text beside the invisible layer, as a born-digital page has
        font = pdf.make_indirect(pikepdf.Dictionary(Type=pikepdf.Name.Font, Subtype=pikepdf.Name.Type1,
                                                    BaseFont=pikepdf.Name.Helvetica))  # fmt: skip
        pdf.pages[0].add_resource(font, pikepdf.Name.Font, pikepdf.Name("/Fv"))
        pdf.pages[0].contents_add(b"BT /Fv 12 Tf 10 10 Td (visible) Tj ET\n")
        pdf.save(tmp_path / "with-visible.pdf")
    again = tmp_path / "again.pdf"
    with pikepdf.open(tmp_path / "with-visible.pdf") as pdf, again.open("wb") as out:
        graft.graft_pages(pdf, [_words_page(640, 480, "new layer")], redo=True)
        pdf.save(out)
    assert normalise(pdfcheck.pdftotext(again, raw=True)[0]) == "new layer visible"


def test_redo_ocr_reads_a_pdf_page_without_its_text(tmp_path: Path) -> None:
    """The page is rendered for the engine with its text objects taken out (its images stay)."""
    pdf = pikepdf.new()
    page = pdf.add_blank_page(page_size=(200, 100))
    font = pdf.make_indirect(pikepdf.Dictionary(Type=pikepdf.Name.Font, Subtype=pikepdf.Name.Type1,
                                                BaseFont=pikepdf.Name.Helvetica))  # fmt: skip
    page.add_resource(font, pikepdf.Name.Font, pikepdf.Name("/F1"))
    page.contents_add(b"BT /F1 40 Tf 10 30 Td (Text) Tj ET\n0 0 0 rg 150 10 40 80 re f\n")
    pdf.save(tmp_path / "text.pdf")

    def dark(hide_text: bool) -> list[int]:
        image = pages.load_page(tmp_path / "text.pdf", pages.PDF, 1, dpi=72, render_dpi=72, max_pixels=MAX_PIXELS,
                                hide_text=hide_text).image.convert("L")  # fmt: skip
        return [sum(1 for v in image.crop(box).getdata() if v < 128) for box in ((0, 0, 140, 100), (150, 10, 190, 90))]

    shown, hidden = dark(False), dark(True)
    assert shown[0] > 100 and hidden[0] == 0  # the text is gone ...
    assert hidden[1] == shown[1] > 1000  # ... the drawing is not


def _output_with_words(width: int, height: int, words: list[tuple[str, tuple[int, int, int, int]]]) -> PageOutput:
    """A page's outputs with these words, each a line of its own."""
    rows = [f"1\t1\t0\t0\t0\t0\t0\t0\t{width}\t{height}\t-1\t"]
    for n, (word, (x0, y0, x1, y1)) in enumerate(words, start=1):
        box = f"{x0}\t{y0}\t{x1 - x0}\t{y1 - y0}"
        rows += [f"2\t1\t{n}\t0\t0\t0\t{box}\t-1\t", f"3\t1\t{n}\t1\t0\t0\t{box}\t-1\t",
                 f"4\t1\t{n}\t1\t1\t0\t{box}\t-1\t", f"5\t1\t{n}\t1\t1\t1\t{box}\t95\t{word}"]  # fmt: skip
    return PageOutput(1, width, height, 300, " ".join(w for w, _ in words) + "\n", "", "\n".join(rows), 95.0)


def test_a_page_with_text_keeps_it_and_the_layer_adds_only_the_words_it_lacks(tmp_path: Path) -> None:
    """The default mode (force): a word of ours over a word the page has already is left out of the layer,
    the others are added; redo_ocr puts every word in (the page's invisible text is what it replaces)."""
    source = born_digital_pdf(tmp_path / "born.pdf", ["Harbour office"])
    grid = (2550, 3300)  # Letter at 300 dpi
    harbour, office = textlayer.word_boxes(source, {1: grid})[1]
    shifted = (harbour[0] + 8, harbour[1] - 5, harbour[2] + 4, harbour[3] + 6)  # OCR's box is never the same
    page = _output_with_words(*grid, [("Harbour", shifted), ("offce", office), ("stamp", (300, 2000, 520, 2060))])
    result = _searchable(tmp_path, source, "application/pdf", [page], archive=False)
    assert normalise(pdfcheck.pdftotext(result, raw=True)[0]) == "stamp Harbour office"
    again = _searchable(tmp_path, source, "application/pdf", [page], archive=False, redo=True)
    assert normalise(pdfcheck.pdftotext(again, raw=True)[0]) == "Harbour offce stamp Harbour office"
