"""The vote (workers/ocr/vote.py): words several readings agree on, laid out in the kept reading's blocks."""

from __future__ import annotations

from workers.ocr import layout, tsv
from workers.ocr.engines.base import Recognition
from workers.ocr.vote import combine

SIZE = (400, 200)


def reading(*lines: list[tuple[str, int, float]], row_height: int = 20) -> Recognition:
    """A recognition of one block: each line a list of (text, x, confidence), words 40 px wide, lines 30 px apart."""
    block = [
        [(text, (x, 10 + 30 * n, x + 40, 10 + 30 * n + row_height), conf) for text, x, conf in line]
        for n, line in enumerate(lines)
    ]
    return layout.compose([block], SIZE, 300)


def words(recognition: Recognition) -> list[str]:
    return [row.text for row in tsv.rows(recognition.tsv) if row.level == tsv.WORD]


def test_a_word_two_readings_see_is_kept_though_the_kept_reading_dropped_it() -> None:
    kept = reading([("TOTAL", 10, 90)])  # the price at the right dropped
    block = reading([("TOTAL", 10, 85), ("9.00", 300, 80)])
    other = reading([("TOTAL", 12, 88), ("9.00", 302, 75)])
    assert words(combine([kept, block, other], kept, SIZE, 300)) == ["TOTAL", "9.00"]


def test_a_word_only_one_reading_sees_is_left_out() -> None:
    kept = reading([("TOTAL", 10, 90)])
    speck = reading([("TOTAL", 10, 90), ("~", 200, 95)])  # a speck read as a letter, confidently
    assert words(combine([kept, speck, reading([("TOTAL", 10, 80)])], kept, SIZE, 300)) == ["TOTAL"]
    # the kept reading's own words stay, confident or not, where no other reading sees them: the vote corrects
    # and adds, it never drops what the kept reading read
    unsure = reading([("TOTAL", 10, 90), ("~", 200, 40)])
    assert words(combine([unsure, reading([("TOTAL", 10, 80)])], unsure, SIZE, 300)) == ["TOTAL", "~"]


def test_the_text_most_readings_agree_on_wins_over_one_confident_misreading() -> None:
    misread = reading([("3,20", 10, 92)])
    right = [reading([("3.20", 11, 70)]), reading([("3.20", 9, 65)])]
    combined = combine([misread, *right], misread, SIZE, 300)
    assert words(combined) == ["3.20"]
    confidences = [row.conf for row in tsv.rows(combined.tsv) if row.level == tsv.WORD]
    assert confidences == [70]  # the word as its most supporting reading gave it, box and confidence


def test_a_glued_word_against_two_split_ones_is_one_cluster() -> None:
    glued = reading([("TOTAL9.00", 10, 60)])
    split = [reading([("TOTAL", 10, 80), ("9.00", 50, 80)]), reading([("TOTAL", 10, 82), ("9.00", 50, 78)])]
    combined = combine([glued, *split], glued, SIZE, 300)
    assert words(combined) == ["TOTAL", "9.00"]


def test_the_kept_readings_blocks_keep_their_order_and_new_lines_go_where_they_lie() -> None:
    # two columns read as two blocks, the right one first (as a page's reading order may say)
    right_column = [[("right", (300, 10, 340, 30), 90.0)], [("col", (300, 40, 340, 60), 90.0)]]
    left_column = [[("left", (10, 10, 50, 30), 90.0)], [("col", (10, 40, 50, 60), 90.0)]]
    kept = layout.compose([right_column, left_column], SIZE, 300)
    # a line below both that the kept reading dropped, seen by the two others
    extra = [*right_column, *left_column, [("footer", (10, 150, 60, 170), 80.0)]]
    others = [layout.compose([extra], SIZE, 300), layout.compose([extra], SIZE, 300)]
    combined = combine([kept, *others], kept, SIZE, 300)
    assert combined.text.split() == ["right", "col", "left", "col", "footer"]
    assert "\n\nfooter" in combined.text  # a block of its own


def test_nothing_read_gives_an_empty_reading() -> None:
    empty = layout.compose([], SIZE, 300)
    combined = combine([empty, empty], empty, SIZE, 300)
    assert combined.text == "" and words(combined) == []


def test_noise_several_readings_read_unsurely_is_not_added() -> None:
    kept = reading([("TOTAL", 10, 90)])
    others = [reading([("TOTAL", 10, 85), ("TET", 300, 30)]), reading([("TOTAL", 10, 85), ("TET", 300, 35)])]
    assert words(combine([kept, *others], kept, SIZE, 300)) == ["TOTAL"]  # agreeing on it, and unsure of it


def test_an_unsure_majority_does_not_overwrite_the_kept_word() -> None:
    kept = reading([("lately", 10, 28)])
    others = [reading([("latcly", 10, 40)]), reading([("latcly", 12, 45)])]
    assert words(combine([kept, *others], kept, SIZE, 300)) == ["lately"]
