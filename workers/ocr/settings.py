"""Settings of the OCR pipeline, from the same OCR_ environment variables as the rest of the service.

Only what the pipeline itself reads: which engine, where the tesseract program and its models are, and how long
one tesseract run may take. The Celery edge's settings (queue, limits per job, retries) are in workers/settings.py.
"""

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class OcrSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="OCR_", extra="ignore")

    engine: Literal["tesserocr", "pytesseract"] = Field(
        "tesserocr", description="OCR engine: tesserocr keeps the model loaded in-process; pytesseract runs the CLI."
    )
    tesseract_cmd: str = Field("tesseract", description="The tesseract program (pytesseract engine, languages).")
    tessdata_dir: Path | None = Field(
        None,
        description="Directory of *.traineddata; default: the service's own (`ocr-service models install`), "
        "else tesseract's own.",
    )
    # The same variable as workers/settings.py's hard limit of a page task: one tesseract run (pytesseract) is
    # bounded by it too, so a hung program is stopped even where no Celery time limit applies (benchmarks).
    page_time_limit_s: int = Field(300, description="Hard time limit for one page; the soft limit is 30 s less.")

    @field_validator("tessdata_dir", mode="before")
    @classmethod
    def _empty_is_unset(cls, value: object) -> object:
        return None if value == "" else value


@lru_cache
def get_ocr_settings() -> OcrSettings:
    return OcrSettings()
