"""Settings of the periodic maintenance the API runs (maintenance/runner.py): one interval per sweep, and the
staleness that sends a job's work or webhook again. Read from OCR_ environment variables."""

from functools import lru_cache

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class MaintenanceSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="OCR_", extra="ignore")

    recovery_interval_s: int = Field(
        60, description="How often the API looks for jobs that stopped moving (lost messages); 0 turns it off."
    )
    recovery_after_s: int | None = Field(
        None,
        description="A queued or running job in which no page started or finished for this long is sent again "
        "(or failed once its pages used their attempts); default OCR_PAGE_TIME_LIMIT_S + 60.",
    )
    webhook_sweep_interval_s: int = Field(
        60, description="How often the API looks for webhooks whose message was lost (sent again); 0 turns it off."
    )
    webhook_sweep_after_s: float | None = Field(
        None,
        gt=0,
        description="A webhook attempt overdue by this long, or an ended job with a callback_url and no attempt this "
        "long after its end, is sent again; default 2 x OCR_WEBHOOK_RETRY_MAX_S.",
    )
    retention_interval_s: int = Field(
        60, description="How often the API deletes the files of jobs past their retention; 0 turns it off."
    )
    idempotency_purge_interval_s: int = Field(
        60, description="How often the API deletes expired Idempotency-Key records; 0 turns it off."
    )


@lru_cache
def get_maintenance_settings() -> MaintenanceSettings:
    return MaintenanceSettings()
