"""Fixtures for running the sweeps in this process: SQLite and local storage under a temporary dir."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from maintenance.settings import get_maintenance_settings
from storage import reset_storage
from storage.records.db import reset_engine
from storage.records.migrate import migrate
from workers.settings import get_worker_settings


def forget_settings() -> None:
    get_maintenance_settings.cache_clear()
    get_worker_settings.cache_clear()
    reset_storage()
    reset_engine()


@pytest.fixture
def local_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Default settings (local storage, SQLite, result cache on) with the data dir in tmp_path."""
    monkeypatch.setenv("OCR_DATA_DIR", str(tmp_path))
    for name in ("OCR_DATABASE_URL", "OCR_STORAGE", "OCR_RESULT_CACHE"):
        monkeypatch.delenv(name, raising=False)
    forget_settings()
    migrate()
    yield tmp_path
    forget_settings()
