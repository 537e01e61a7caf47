"""Settings of the workers package (and of the queue the API sends to), from OCR_ environment variables."""

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class WorkerSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="OCR_", extra="ignore")

    broker_url: str = Field(
        "redis://127.0.0.1:6379/0",
        description="Celery broker: redis://host:port/db, redis+socket:///path, or amqp://user:pass@host:5672//.",
    )
    queue_name: str = Field("ocr", description="Celery queue the API sends to and workers consume.")
    engine: Literal["tesserocr", "pytesseract"] = Field(
        "tesserocr", description="OCR engine: tesserocr keeps the model loaded in-process; pytesseract runs the CLI."
    )
    tesseract_cmd: str = Field("tesseract", description="The tesseract program (pytesseract engine, languages).")
    tessdata_dir: Path | None = Field(None, description="Directory of *.traineddata; default: tesseract's own.")
    worker_concurrency: int | None = Field(None, description="Worker processes; default one per CPU core.")
    prefetch_multiplier: int = Field(
        1,
        ge=1,
        description="Messages each worker process reserves ahead; 1 keeps a long job from waiting behind others.",
    )
    max_tasks_per_child: int = Field(500, description="Recycle a worker process after this many tasks.")
    max_memory_per_child_mb: int = Field(1024, description="Recycle a worker process above this resident size.")
    page_time_limit_s: int = Field(300, description="Hard time limit for one page; the soft limit is 30 s less.")
    page_max_attempts: int = Field(3, description="Tries per page before the job fails with that page's reason.")
    max_pages: int = Field(500, description="Documents with more pages fail with a clear error.")
    max_pixels_per_page: int = Field(60_000_000, description="Pages above this pixel count are refused.")
    default_dpi: int = Field(300, description="Rendering resolution for PDF pages.")
    recovery_interval_s: int = Field(
        60, description="How often the API looks for jobs that stopped moving (lost messages); 0 turns it off."
    )
    recovery_after_s: int | None = Field(
        None,
        description="A queued or running job in which no page started or finished for this long is sent again "
        "(or failed once its pages used their attempts); default OCR_PAGE_TIME_LIMIT_S + 60.",
    )
    result_cache: bool = Field(
        True, description="Reuse the results of an earlier job with the same input bytes, options and models."
    )

    @property
    def effective_recovery_after_s(self) -> int:
        # Longer than a page may run (the hard time limit), so a page still working is never sent twice.
        return self.recovery_after_s or self.page_time_limit_s + 60


@lru_cache
def get_worker_settings() -> WorkerSettings:
    return WorkerSettings()
