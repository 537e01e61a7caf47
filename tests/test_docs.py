"""Docs that match the code: every setting is documented in the README, and the README's commands exist."""

from __future__ import annotations

from maintenance.settings import MaintenanceSettings
from ocr_api.settings import ApiSettings
from ocr_telemetry.settings import TelemetrySettings
from storage.settings import StorageSettings
from tests.support import REPO
from workers.ocr.settings import OcrSettings
from workers.settings import WorkerSettings

README = (REPO / "README.md").read_text()


def test_every_setting_is_in_the_readme_configuration_table() -> None:
    for cls in (ApiSettings, StorageSettings, WorkerSettings, OcrSettings, TelemetrySettings, MaintenanceSettings):
        for name in cls.model_fields:
            assert f"| `OCR_{name.upper()}` |" in README, f"OCR_{name.upper()} is not documented"


def test_readme_commands_exist() -> None:
    assert "scripts/install.sh && .venv/bin/ocr-service serve" in README
    assert "scripts/test.sh" in README
    assert (REPO / "scripts" / "install.sh").exists() and (REPO / "scripts" / "test.sh").exists()
    assert "scripts/test.sh" in (REPO / ".ci" / "run").read_text()
    for doc in (
        "docs/clients.md",
        "docs/formats.md",
        "docs/storage.md",
        "docs/accuracy.md",
        "docs/performance.md",
        "docs/operations.md",
        "docs/reliability.md",
        "docs/security.md",
    ):
        assert doc in README
