"""What became of the ground-truth words a reading misses, on files with unordered ground truth (receipts).

Each missed word (caseless, normalised as bench/scoring.py does) is put in the first class it fits:

- punctuation: a word of the reading is the same once punctuation is dropped from both (`DATE:` read `Date`);
- one character, two characters: a word of the reading is that many edits away (`TD01167104`, `TDO1167104`);
- glued: a longer word of the reading contains it (`TOTAL` in `TOTAL9.00`; words of three letters or more);
- split: the reading has it once its spaces are removed (`27,JALAN` read `27, JALAN`);
- absent: nothing like it was read (a dropped column, a faded or covered line).

    .venv/bin/python -m bench.word_errors                  # the corpus's receipts: plain tesseract, defaults
    .venv/bin/python -m bench.word_errors --only sroie_0
"""

from __future__ import annotations

import argparse
import re
from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from rapidfuzz.distance import Levenshtein

from bench.accuracy import DEFAULT_CORPUS, Sample, load_samples, media_type, pipeline_options, plain_text
from bench.scoring import normalise

CLASSES = ("punctuation", "one character", "two characters", "glued", "split", "absent")
_PUNCTUATION = re.compile(r"[^\w]")


def classify(ground_truth: str, text: str) -> Counter[str]:
    """The missed ground-truth words of one reading, counted by class (the first that fits, in CLASSES order)."""
    normal = normalise(text).lower()
    truth, read = Counter(normalise(ground_truth).lower().split()), Counter(normal.split())
    unspaced = normal.replace(" ", "")
    bare = {_PUNCTUATION.sub("", w) for w in read}
    found: Counter[str] = Counter()
    for word, count in (truth - read).items():
        stripped = _PUNCTUATION.sub("", word)
        distance = min((Levenshtein.distance(word, w) for w in read), default=len(word))
        if stripped and stripped in bare:
            kind = "punctuation"
        elif distance == 1:
            kind = "one character"
        elif distance == 2 and len(word) > 3:
            kind = "two characters"
        elif len(word) >= 3 and any(word in w for w in read if len(w) > len(word)):
            kind = "glued"
        elif len(word) >= 3 and word in unspaced:
            kind = "split"
        else:
            kind = "absent"
        found[kind] += count
    return found


def _pipeline_text(sample: Sample) -> str:
    from workers.ocr.engines import get_engine
    from workers.ocr.pages import count_pages, load_page
    from workers.ocr.preprocess import recognize_page

    kind = media_type(sample.path)
    texts = []
    for n in range(1, count_pages(sample.path, kind, 60_000_000) + 1):
        page = load_page(sample.path, kind, n, dpi=None, render_dpi=300, max_pixels=60_000_000)
        texts.append(recognize_page(get_engine(), n, page, pipeline_options(sample.lang, {})).text)
    return "\n".join(texts)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.word_errors", description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    parser.add_argument("--only", action="append", default=[], help="keep files whose name contains this")
    parser.add_argument("--jobs", type=int, default=2)
    args = parser.parse_args(argv)
    samples = [s for s in load_samples(args.corpus, args.only) if s.unordered]
    total = sum(len(normalise(s.ground_truth).split()) for s in samples)
    columns = {}
    with ProcessPoolExecutor(max_workers=max(1, args.jobs)) as pool:
        for label, read in (("plain tesseract", plain_text), ("defaults", _pipeline_text)):
            counts: Counter[str] = Counter()
            for sample, text in zip(samples, pool.map(read, samples), strict=True):
                counts += classify(sample.ground_truth, text)
            columns[label] = counts
    print(f"{len(samples)} files, {total} ground-truth words; shares of them missed, by what became of them\n")
    print("| missed word | " + " | ".join(columns) + " |")
    print("|---|" + "---:|" * len(columns))
    for kind in (*CLASSES, None):
        cells = [f"{(sum(c.values()) if kind is None else c[kind]) / total:.1%}" for c in columns.values()]
        print(f"| {kind or '**missed in all**'} | " + " | ".join(cells) + " |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
