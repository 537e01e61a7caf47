"""One `ocr-service serve` for the client's tests (the ocr_client library, `ocr-client`, the client installed
alone): started once as a subprocess exactly as a user starts it, with its private broker."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.support import serve_env, serve_process


@dataclass(frozen=True)
class Served:
    url: str
    data_dir: Path

    def client(self) -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=30)

    def job_count(self) -> int:
        """Jobs the service holds (the tests' way to see that nothing was uploaded twice)."""
        count, cursor = 0, None
        with self.client() as client:
            while True:
                page = client.get("/v1/jobs", params={"limit": 500, **({"cursor": cursor} if cursor else {})}).json()
                count += len(page["jobs"])
                if not (cursor := page["next_cursor"]):
                    return count


@pytest.fixture(scope="session")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    root = tmp_path_factory.mktemp("serve")
    with serve_process(root, serve_env()) as url:
        yield Served(url, root / "data")
