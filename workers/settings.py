"""Settings of the workers package (and of the queue the API sends to, and of webhook delivery), from OCR_
environment variables. The OCR pipeline's own (engine, tesseract program, models) are workers/ocr/settings.py's,
the periodic sweeps' maintenance/settings.py's."""

from functools import lru_cache
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
    result_cache: bool = Field(
        True, description="Reuse the results of an earlier job with the same input bytes, options and models."
    )
    result_cache_scope: Literal["tenant", "global"] = Field(
        "tenant",
        description="Whose earlier jobs the result cache reuses: the same API key's only (tenant; jobs made without "
        "a key are one tenant), or every key's (global: a tenant can then tell that another uploaded the same bytes).",
    )
    webhook_secret: str | None = Field(
        None,
        description="Signs the webhooks of jobs made without an API key (OCR_AUTH=off); without it such uploads "
        "cannot give a callback_url. Jobs made with a key are signed with that key's own secret.",
    )
    webhook_allow_private: bool = Field(
        False, description="Let callback_url reach loopback, private and link-local addresses (tests, closed LANs)."
    )
    webhook_timeout_s: float = Field(10.0, gt=0, description="Time limit of one webhook POST (connect and answer).")
    webhook_retry_first_s: float = Field(
        30.0, gt=0, description="Wait before the second webhook attempt; each later wait doubles (with jitter)."
    )
    webhook_retry_max_s: float = Field(
        900.0, gt=0, description="Longest wait between webhook attempts (below RabbitMQ's 30 min consumer timeout)."
    )
    webhook_retry_for_s: float = Field(
        86400.0, ge=0, description="No webhook attempt is made later than this after the first one (a day)."
    )
    public_url: str | None = Field(
        None,
        description="Base URL clients reach the API at (https://ocr.example.com); webhook bodies' links start with "
        "it. Default: their links are paths (/v1/jobs/...).",
    )

    @property
    def webhook_attempt_stale_s(self) -> float:
        """A webhook attempt with no outcome this long after it began lost its worker mid-POST (a POST's time
        limit and a minute's margin): the delivery task and the webhook sweep both take it over then."""
        return self.webhook_timeout_s + 60


@lru_cache
def get_worker_settings() -> WorkerSettings:
    return WorkerSettings()
