"""Several readings of one image combined word by word (a page read unsurely after every other step).

Readings of the same image made differently (segmented and as one block, with the background divided out or
not, with a second model) miss and misread different words: the right-hand column of prices one drops,
another keeps; a `3.20` one reads `3,20`, two others read right. Their words are put in clusters by where
they lie (boxes overlapping by `OVERLAP`, between different readings). Where `MIN_VOTES` readings see a
cluster, it is written as the words of the reading that gives its most confidence-weighted text (the sum of the
confidences of the readings that read it so), where that reading is at least `MIN_CONFIDENCE` confident of
them; else as the kept reading's own words there, or not at all: a speck one reading reads as a letter, or noise
two read unsurely, is not added, and nothing the kept reading read is dropped (a photo's half-right words are
worth more to its text than a gap). The words follow the kept reading's own order, lines and blocks (each
beside the kept word it overlaps, or the nearest one on its row); words on none of its rows make lines and
blocks of their own, placed by where they lie (workers/ocr/layout.py).

ROVER (Fiscus, 1997) combines speech recognisers the same way; OCR-D's multi-engine workflows do it for
OCR. Pure: recognitions in, a recognition out; the pipeline decides whether it is kept (workers/ocr/
candidates.py, `Tuning.vote_replaces`).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from workers.ocr import layout, tsv
from workers.ocr.engines.base import Recognition

OVERLAP = 0.3  # intersection over union of two words' boxes for them to be one word
MIN_VOTES = 2  # readings that must see a word for it to be kept
MIN_CONFIDENCE = 50.0  # ... and its chosen reading's confidence in it (as for coverage: a confident word)


@dataclass(frozen=True)
class _Word:
    reading: int
    text: str
    box: tsv.Box
    conf: float


def _iou(a: tsv.Box, b: tsv.Box) -> float:
    x0, y0, x1, y1 = max(a[0], b[0]), max(a[1], b[1]), min(a[2], b[2]), min(a[3], b[3])
    if x1 <= x0 or y1 <= y0:
        return 0.0
    inter = (x1 - x0) * (y1 - y0)
    area = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / area if area > 0 else 0.0


def _word_rows(recognition: Recognition) -> Iterator[tsv.Row]:
    """A recognition's words in its order: those with text and a box of some size."""
    for row in tsv.rows(recognition.tsv):
        if row.level == tsv.WORD and row.text.strip() and row.box[2] > row.box[0] and row.box[3] > row.box[1]:
            yield row


def _words(recognitions: Sequence[Recognition]) -> list[_Word]:
    return [
        _Word(i, row.text.strip(), row.box, max(row.conf, 0.0))
        for i, recognition in enumerate(recognitions)
        for row in _word_rows(recognition)
    ]


def clusters(words: list[_Word], overlap: float = OVERLAP) -> list[list[_Word]]:
    """Words of different readings whose boxes overlap, joined (transitively)."""
    parent = list(range(len(words)))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    order = sorted(range(len(words)), key=lambda i: words[i].box[1])
    for n, i in enumerate(order):  # a sweep down the page: only words whose rows overlap are compared
        a = words[i]
        for j in order[n + 1 :]:
            b = words[j]
            if b.box[1] >= a.box[3]:
                break
            if a.reading != b.reading and _iou(a.box, b.box) > overlap:
                parent[root(i)] = root(j)
    groups: dict[int, list[_Word]] = defaultdict(list)
    for i, word in enumerate(words):
        groups[root(i)].append(word)
    return list(groups.values())


def chosen(cluster: list[_Word], min_votes: int = MIN_VOTES, kept: int | None = None) -> list[_Word]:
    """The words a cluster is written as: where `min_votes` readings see it, those of the reading that gives its
    most confidence-weighted text, if that reading is confident of them; else the kept reading's own words
    there (none where it has none). The vote corrects and adds; it never drops what the kept reading read."""
    own = [w for w in cluster if w.reading == kept]
    readings = {w.reading for w in cluster}
    if len(readings) < min_votes:
        return own
    weight: dict[str, float] = defaultdict(float)
    for word in cluster:
        weight[word.text] += word.conf
    text = max(weight, key=lambda t: (weight[t], t))

    def support(reading: int) -> float:
        return sum(w.conf for w in cluster if w.reading == reading and w.text == text)

    best = max(sorted(readings), key=support)
    words = [w for w in cluster if w.reading == best]
    return words if sum(w.conf for w in words) / len(words) >= MIN_CONFIDENCE else own


def _lines(words: list[_Word]) -> list[layout.Line]:
    """Words on no kept row in lines (a word joins the line its box overlaps by half its height), top to bottom,
    left to right."""
    lines: list[list[_Word]] = []
    for word in sorted(words, key=lambda w: ((w.box[1] + w.box[3]) / 2, w.box[0])):
        height = word.box[3] - word.box[1]
        for line in lines:
            top, bottom = min(w.box[1] for w in line), max(w.box[3] for w in line)
            if min(bottom, word.box[3]) - max(top, word.box[1]) >= 0.5 * min(height, bottom - top):
                line.append(word)
                break
        else:
            lines.append([word])
    lines.sort(key=lambda line: min(w.box[1] for w in line))
    return [[(w.text, w.box, w.conf) for w in sorted(line, key=lambda w: w.box[0])] for line in lines]


_Kept = list[tuple[tsv.Box, tuple[int, int, int]]]  # the kept reading's words in order: box, (block, par, line)


def _anchor(word: _Word, kept: _Kept) -> tuple[int, float] | None:
    """Where a word goes in the kept reading's order: at the kept word it overlaps most, else beside the
    nearest kept word on its row (sharing half the lower one's height), before or after it by x (the pair:
    that word's index, and -1 or +1 scaled by the distance); None where it lies on no kept row. The kept
    reading's own lines are followed, slanted or bowed as they may be."""
    best: tuple[float, float, int] | None = None
    centre = (word.box[0] + word.box[2]) / 2
    for n, (box, _) in enumerate(kept):
        shared = min(box[3], word.box[3]) - max(box[1], word.box[1])
        if shared < 0.5 * min(box[3] - box[1], word.box[3] - word.box[1]):
            continue
        overlap = _iou(box, word.box)
        distance = 0.0 if overlap > 0 else min(abs(centre - box[0]), abs(centre - box[2]))
        if best is None or (-overlap, distance) < best[:2]:
            best = (-overlap, distance, n)
    if best is None:
        return None
    box = kept[best[2]][0]
    side = (centre - (box[0] + box[2]) / 2) / max(1.0, word.box[2] - word.box[0] + box[2] - box[0])
    return best[2], side


def combine(
    recognitions: Sequence[Recognition],
    kept: Recognition,
    size: tuple[int, int],
    dpi: int | None,
    *,
    min_votes: int = MIN_VOTES,
) -> Recognition:
    """One recognition of the words `recognitions` agree on, laid out in the lines and blocks of `kept` (one of
    them: its words stay where no agreement replaces them); words on none of its rows in lines of their own,
    each a block placed where it lies."""
    kept_index = next((n for n, recognition in enumerate(recognitions) if recognition is kept), None)
    words = [w for cluster in clusters(_words(recognitions)) for w in chosen(cluster, min_votes, kept_index)]
    order: _Kept = [(row.box, row.line_key) for row in _word_rows(kept)]
    placed: list[tuple[tuple[int, float], _Word]] = []
    loose: list[_Word] = []
    for word in words:
        anchor = _anchor(word, order)
        if anchor is None:
            loose.append(word)
        else:
            placed.append((anchor, word))
    placed.sort(key=lambda item: item[0])
    blocks: list[layout.Block] = []
    block_key, line_key = None, None
    for (index, _), word in placed:
        line = order[index][1]
        if line[0] != block_key:
            blocks.append([])
            block_key, line_key = line[0], None
        if line != line_key:
            blocks[-1].append([])
            line_key = line
        blocks[-1][-1].append((word.text, word.box, word.conf))
    # each loose line a block of its own, before the first block that starts below it
    for loose_line in _lines(loose):
        top = min(w[1][1] for w in loose_line)
        at = next((n for n, block in enumerate(blocks) if min(w[1][1] for w in block[0]) > top), len(blocks))
        blocks.insert(at, [loose_line])
    return layout.compose(blocks, size, dpi)
