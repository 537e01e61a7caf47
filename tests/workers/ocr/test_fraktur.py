"""The Fraktur model's ch ligature (workers/ocr/fraktur.py)."""

from __future__ import annotations

from workers.ocr import fraktur, layout


def test_the_ch_ligature_read_as_a_bracket_is_written_ch_in_every_output() -> None:
    words = [("noc<", (0, 0, 40, 20), 80.0), ("mögli<h", (50, 0, 120, 20), 70.0), ("Hausre<t", (130, 0, 200, 20), 75.0)]
    read = layout.compose([[words]], (220, 40), 300)
    assert "&lt;" in read.hocr_page
    mended = fraktur.mend_ligatures(read)
    assert mended.text.split() == ["noch", "möglich", "Hausrecht"]
    assert [row.split("\t")[-1] for row in mended.tsv.splitlines() if row.startswith("5\t")] == mended.text.split()
    assert "&lt;" not in mended.hocr_page and ">möglich</span>" in mended.hocr_page
    assert mended.mean_confidence == read.mean_confidence


def test_a_bracket_between_words_and_readings_without_one_are_left_alone() -> None:
    read = layout.compose(
        [[[("a", (0, 0, 9, 9), 90.0), ("<", (10, 0, 19, 9), 90.0), ("b", (20, 0, 29, 9), 90.0)]]], (40, 20), None
    )
    assert fraktur.mend_ligatures(read).text == read.text
    plain = layout.compose([[[("noch", (0, 0, 40, 20), 90.0)]]], (60, 40), None)
    assert fraktur.mend_ligatures(plain) is plain
    assert fraktur.reads_fraktur("deu+frk") and not fraktur.reads_fraktur("deu")


def test_the_page_readers_engine_mends_only_the_fraktur_models_readings() -> None:
    from PIL import Image

    from tests.workers.ocr.fakes import ScriptedEngine
    from workers.ocr.engines import RecognizeOptions

    engine = fraktur.LigatureMending(ScriptedEngine([("noc<", 80.0)], [("noc<", 80.0)]))
    image = Image.new("L", (40, 20), 255)
    assert engine.recognize(image, RecognizeOptions(lang="deu+frk")).text == "noch"
    assert engine.recognize(image, RecognizeOptions(lang="deu")).text == "noc<"
    assert engine.name == "scripted" and engine.detect_orientation(image, None) is None
