"""The benchmarks' and tests' measures (bench/scoring.py), as the corpus README defines them."""

from __future__ import annotations

from bench.scoring import cer, missed_words, normalise, word_bag_error


def test_historic_small_e_above_a_vowel_counts_as_its_umlaut() -> None:
    assert normalise("Ma\u0364nner ero\u0364rtert U\u0364bel") == "Männer erörtert Übel"
    assert cer("die sa\u0364mtlich Steuerfrey", "die sämtlich Steuerfrey") == 0.0
    assert cer("die sa\u0364mtlich", "die samtlich") > 0.0  # the umlaut itself still counts


def test_quotes_dashes_long_s_and_spaces_are_normalised() -> None:
    assert normalise("\u201eSchlu\u017f\u017fe\u201c \u2014  eins\n zwei") == '"Schlusse" - eins zwei'


def test_caseless_cer_and_the_two_word_measures() -> None:
    assert cer("TOTAL 9.00", "total 9.00", ignore_case=True) == 0.0
    assert cer("TOTAL 9.00", "total 9.00") > 0.0
    assert missed_words("TOTAL 9.00 CASH", "total 9.00 junk") == 1 / 3
    assert word_bag_error("TOTAL 9.00 CASH", "total 9.00 junk") == 2 / 3  # one missed, one added
