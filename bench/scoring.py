"""Character error rate as the corpus README defines it (used by the tests and the benchmarks)."""

from __future__ import annotations

import re
import unicodedata
from collections import Counter

from rapidfuzz.distance import Levenshtein

_TRANSLATE = str.maketrans(
    {
        "\u2018": "'", "\u2019": "'", "\u201a": "'", "\u201b": "'",
        "\u201c": '"', "\u201d": '"', "\u201e": '"', "\u201f": '"',
        "\u2010": "-", "\u2011": "-", "\u2012": "-", "\u2013": "-", "\u2014": "-", "\u2015": "-", "\u2212": "-",
    }
)  # fmt: skip
_WS = re.compile(r"\s+")
# Historic German print's small e above a vowel (U+0364, `aͤ` in the Fraktur ground truth) is an umlaut: the
# README counts it so (with it, plain tesseract's means are the README's: Fraktur lines 0.177, pages 0.118).
_UMLAUT = re.compile("([aouAOU])\u0364")


def normalise(text: str) -> str:
    text = _UMLAUT.sub(lambda m: unicodedata.normalize("NFC", m.group(1) + "\u0308"), text)
    text = unicodedata.normalize("NFKC", text).translate(_TRANSLATE)
    return _WS.sub(" ", text).strip()


def cer(ground_truth: str, ocr: str, *, ignore_case: bool = False) -> float:
    gt, hyp = normalise(ground_truth), normalise(ocr)
    if ignore_case:
        gt, hyp = gt.lower(), hyp.lower()
    if not gt:
        return 0.0 if not hyp else 1.0
    return Levenshtein.distance(gt, hyp) / len(gt)


def _word_bags(ground_truth: str, ocr: str, ignore_case: bool) -> tuple[Counter[str], Counter[str]]:
    gt, hyp = normalise(ground_truth), normalise(ocr)
    if ignore_case:
        gt, hyp = gt.lower(), hyp.lower()
    return Counter(gt.split()), Counter(hyp.split())


def word_bag_error(ground_truth: str, ocr: str, *, ignore_case: bool = True) -> float:
    """For ground truth whose words are all there but not in reading order (receipts): the ground-truth
    words the OCR missed plus the words it added, over the ground truth's word count, at most 1. Adding
    words costs as much as missing them, so no reading improves by guessing."""
    truth, read = _word_bags(ground_truth, ocr, ignore_case)
    if not truth:
        return 0.0 if not read else 1.0
    wrong = sum((truth - read).values()) + sum((read - truth).values())
    return min(1.0, wrong / sum(truth.values()))


def missed_words(ground_truth: str, ocr: str, *, ignore_case: bool = True) -> float:
    """The corpus README's "caseless word-bag error" of receipts: the share of the ground truth's words
    (counted with repeats, normalised as for CER, split on whitespace) that the OCR does not have. Words the
    OCR adds cost nothing here, so this measure is only reported beside `word_bag_error`, never used alone
    to choose between readings."""
    truth, read = _word_bags(ground_truth, ocr, ignore_case)
    if not truth:
        return 0.0
    return sum((truth - read).values()) / sum(truth.values())
