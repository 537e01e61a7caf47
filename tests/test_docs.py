"""Docs that match the code: every setting is documented in docs/configuration.md, and the README's commands
exist."""

from __future__ import annotations

from maintenance.settings import MaintenanceSettings
from ocr_api.settings import ApiSettings
from ocr_telemetry.settings import TelemetrySettings
from storage.settings import StorageSettings
from tests.support import REPO
from workers.ocr.settings import OcrSettings
from workers.settings import WorkerSettings

README = (REPO / "README.md").read_text()
CONFIGURATION = (REPO / "docs" / "configuration.md").read_text()


def test_every_setting_is_in_the_configuration_table() -> None:
    assert "docs/configuration.md" in README, "the README links the configuration table"
    for cls in (ApiSettings, StorageSettings, WorkerSettings, OcrSettings, TelemetrySettings, MaintenanceSettings):
        for name in cls.model_fields:
            assert f"| `OCR_{name.upper()}` |" in CONFIGURATION, f"OCR_{name.upper()} is not documented"


def test_readme_commands_exist() -> None:
    assert "scripts/install.sh && .venv/bin/ocr-service serve" in README
    assert "scripts/test.sh" in README
    assert (REPO / "scripts" / "install.sh").exists() and (REPO / "scripts" / "test.sh").exists()
    assert "scripts/test.sh" in (REPO / ".ci" / "run").read_text()
    for doc in (
        "docs/api.md",
        "docs/configuration.md",
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


def test_every_path_the_docs_name_exists() -> None:
    """Module moves leave no stale map behind: each repository path in the README and docs/ is there."""
    import re

    pattern = re.compile(
        r"(?<![\w./-])((?:ocr_api|workers|storage|webhooks|maintenance|client|ocr_telemetry|bench|tests|scripts|deploy)"
        r"/[\w./-]*\w)"
    )
    missing = set()
    for doc in [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]:
        for path in pattern.findall(doc.read_text(encoding="utf-8")):
            if not (REPO / path).exists():
                missing.add(f"{doc.name}: {path}")
    assert not missing, sorted(missing)
