"""Inputs that kill or hang the worker process (made so on purpose, workers/faults.py) fail their own job with
the page and the reason, and the pool lives on to do the next job."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support import Stack, base_env, corpus_file


@pytest.fixture(scope="module")
def faulty(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    data_dir = tmp_path_factory.mktemp("poison-stack")
    env = base_env(data_dir, OCR_TEST_FAULTS="1", OCR_PAGE_TIME_LIMIT_S="40", OCR_RESULT_CACHE="false")
    stack = Stack("poison", env, data_dir).start(workers=1)
    yield stack
    stack.stop()


def marked(tmp_path: Path, marker: str) -> Path:
    path = tmp_path / f"scan{marker}.tif"
    shutil.copy(corpus_file("tess_HelloGoogle.tif"), path)
    return path


def assert_pool_still_works(stack: Stack) -> None:
    assert stack.procs[0].poll() is None, "the worker's main process is alive"
    done = stack.run(corpus_file("tess_HelloGoogle.tif"))
    assert done["status"] == "succeeded", done


def test_an_input_that_kills_its_worker_fails_after_the_attempts(faulty: Stack, tmp_path: Path) -> None:
    done = faulty.run(marked(tmp_path, "__crash__"))
    assert done["status"] == "failed", done
    assert done["error"] == {
        "code": "page_failed",
        "message": "page 1: gave up after 3 attempts (the worker was lost each time)",
        "details": None,
    }
    assert faulty.log("worker.log").count("WorkerLostError") >= 3, "killed three times, once per attempt"
    assert_pool_still_works(faulty)


def test_a_document_that_kills_its_worker_while_opened_fails_after_the_attempts(faulty: Stack, tmp_path: Path) -> None:
    done = faulty.run(marked(tmp_path, "__crash_open__"))
    assert done["status"] == "failed", done
    assert done["error"] == {
        "code": "open_failed",
        "message": "gave up opening the document after 3 attempts (the worker was lost each time)",
        "details": None,
    }
    assert_pool_still_works(faulty)


def test_a_page_that_hangs_fails_with_timeout(faulty: Stack, tmp_path: Path) -> None:
    done = faulty.run(marked(tmp_path, "__hang__"), timeout=90)
    assert done["status"] == "failed", done
    assert done["error"]["code"] == "timeout"
    assert done["error"]["message"] == "page 1 took longer than OCR_PAGE_TIME_LIMIT_S=40s"
    assert_pool_still_works(faulty)
