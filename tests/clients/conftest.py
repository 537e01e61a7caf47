"""One `ocr-service serve` for the browser form's and the README's curl tests: started once as a subprocess
exactly as a user starts it, with its private broker. (The client's own tests, tests/client, start theirs.)"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.client.conftest import Served
from tests.support import REPO, serve_env, serve_process

__all__ = ["Served"]

TEST_OUTPUT = REPO / "test-output"


@pytest.fixture(scope="session")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    root = tmp_path_factory.mktemp("serve")
    with serve_process(root, serve_env()) as url:
        yield Served(url, root / "data")


@pytest.fixture(scope="session")
def test_output() -> Path:
    """test-output/ in the repo (gitignored): what a person may want to look at after a run."""
    TEST_OUTPUT.mkdir(exist_ok=True)
    return TEST_OUTPUT
