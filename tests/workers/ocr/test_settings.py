"""The pipeline's settings: the same OCR_ variables as before, read by the pipeline alone."""

from __future__ import annotations

from pathlib import Path

import pytest

from workers.ocr.settings import OcrSettings
from workers.settings import WorkerSettings


def test_the_pipeline_reads_its_engine_program_and_models_from_the_ocr_variables(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("OCR_ENGINE", "pytesseract")
    monkeypatch.setenv("OCR_TESSERACT_CMD", "/opt/tesseract")
    monkeypatch.setenv("OCR_TESSDATA_DIR", str(tmp_path))
    monkeypatch.setenv("OCR_PAGE_TIME_LIMIT_S", "42")
    settings = OcrSettings()
    assert (settings.engine, settings.tesseract_cmd, settings.tessdata_dir) == (
        "pytesseract",
        "/opt/tesseract",
        tmp_path,
    )
    assert settings.page_time_limit_s == WorkerSettings().page_time_limit_s == 42
    assert not {"engine", "tesseract_cmd", "tessdata_dir"} & set(WorkerSettings.model_fields)


def test_the_page_time_limit_has_one_default() -> None:
    assert (
        OcrSettings.model_fields["page_time_limit_s"].default
        == WorkerSettings.model_fields["page_time_limit_s"].default
    )
