"""Accuracy smoke: the service's text is no worse than plain `tesseract` on the same corpus files."""

from __future__ import annotations

import subprocess
from concurrent.futures import ThreadPoolExecutor
from statistics import mean

import pytest

from bench.scoring import cer
from tests.support import Stack, corpus_file, ground_truth

# (file, kind): a clean page, text lines, receipts (compared case-insensitively, per the corpus README)
SMOKE = [
    ("tess_phototest.tif", "page"),
    ("pyt_test.png", "page"),
    ("tess_HelloGoogle.tif", "line"),
    ("tess_trainingtimes.tif", "line"),
    ("paperless_simple.png", "line"),
    ("sroie_000.jpg", "receipt"),
    ("sroie_150.jpg", "receipt"),
]


def plain_tesseract(name: str) -> str:
    out = subprocess.run(
        ["tesseract", str(corpus_file(name)), "stdout"],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return out.stdout


@pytest.fixture(scope="module")
def scores(redis_stack: Stack) -> dict[str, tuple[float, float]]:
    def score(item: tuple[str, str]) -> tuple[str, tuple[float, float]]:
        name, kind = item
        job = redis_stack.run(corpus_file(name))
        assert job["status"] == "succeeded", job
        truth, receipt = ground_truth(name), kind == "receipt"
        service = cer(truth, redis_stack.text(job["id"]), ignore_case=receipt)
        baseline = cer(truth, plain_tesseract(name), ignore_case=receipt)
        return name, (service, baseline)

    with ThreadPoolExecutor(4) as pool:
        return dict(pool.map(score, SMOKE))


@pytest.mark.parametrize("name", ["tess_phototest.tif", "tess_HelloGoogle.tif", "sroie_000.jpg"])
def test_no_worse_than_plain_tesseract_on_each_kind(scores: dict[str, tuple[float, float]], name: str) -> None:
    service, baseline = scores[name]
    assert service <= baseline + 1e-9, f"{name}: service CER {service:.3f} vs tesseract {baseline:.3f}"


def test_no_worse_on_average_over_the_smoke_set(scores: dict[str, tuple[float, float]]) -> None:
    service = mean(s for s, _ in scores.values())
    baseline = mean(b for _, b in scores.values())
    assert service <= baseline, f"mean CER service {service:.3f} vs tesseract {baseline:.3f}: {scores}"
    for name, (s, b) in scores.items():
        assert s <= b + 0.05, f"{name}: service CER {s:.3f} much worse than tesseract {b:.3f}"
