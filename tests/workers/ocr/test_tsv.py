"""Tesseract's TSV, parsed in one place: rows, words, their confidence and boxes."""

from __future__ import annotations

from workers.ocr import tsv
from workers.ocr.candidates import word_quality

PAGE = "\n".join(
    [
        "1\t1\t0\t0\t0\t0\t0\t0\t640\t480\t-1\t",
        "2\t1\t1\t0\t0\t0\t10\t20\t300\t40\t-1\t",
        "4\t1\t1\t1\t1\t0\t10\t20\t300\t40\t-1\t",
        "5\t1\t1\t1\t1\t1\t10\t20\t100\t40\t91.5\tHello",
        "5\t1\t1\t1\t1\t2\t120\t20\t190\t40\t80\tworld!",
        "5\t1\t1\t1\t1\t3\t320\t20\t10\t40\t30\t ",
        "5\t1\t1\t1\t1\t4\t340\t20\t10\t40\t20\t--",
    ]
)


def test_rows_carry_their_level_place_box_and_confidence() -> None:
    rows = list(tsv.rows(tsv.TSV_HEADER + "\n" + PAGE))  # the header is skipped
    assert [r.level for r in rows] == [1, 2, 4, 5, 5, 5, 5]
    hello = rows[3]
    assert (hello.text, hello.conf, hello.box, hello.line_key) == ("Hello", 91.5, (10, 20, 110, 60), (1, 1, 1))


def test_words_and_their_mean_confidence_skip_empty_words() -> None:
    assert list(tsv.words(PAGE)) == [("Hello", 91.5), ("world!", 80.0), ("--", 20.0)]
    assert tsv.mean_word_confidence(PAGE) == (91.5 + 80 + 20) / 3
    assert tsv.mean_word_confidence("") == 0.0
    # the pipeline's judge weighs by characters and counts only words with a letter or digit
    assert word_quality(PAGE) == ((91.5 * 5 + 80 * 6) / 11, 11)


def test_boxes_union_and_rows_round_trip() -> None:
    assert tsv.union([(10, 20, 110, 60), (120, 15, 310, 50)]) == (10, 15, 310, 60)
    row = tsv.format_row(5, 2, 3, (10, 20, 110, 60), 100, "word")
    parsed = next(tsv.rows(row))
    assert (parsed.level, parsed.line, parsed.box, parsed.conf, parsed.text) == (5, 2, (10, 20, 110, 60), 100, "word")
    assert [r.split("\t")[1] for r in tsv.renumber_page(PAGE, 7)] == ["7"] * 7
