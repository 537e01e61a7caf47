"""Settings of logs and metrics, from OCR_-prefixed environment variables."""

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class TelemetrySettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="OCR_", extra="ignore")

    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field("INFO", description="Lowest level logged.")
    log_format: Literal["auto", "json", "console"] = Field(
        "auto", description="json: one JSON object per line; console: readable lines; auto: console on a terminal."
    )
    metrics_dir: Path | None = Field(
        None,
        description="Directory where every process of this machine (API processes, worker pool) writes its "
        "Prometheus metrics, read by GET /metrics and the worker's metrics port; default <data_dir>/metrics.",
    )
    worker_metrics_port: int = Field(
        0, ge=0, le=65535, description="Port on which a worker pool's parent serves /metrics; 0: off."
    )
    data_dir: Path = Field(Path("./data"), description="Root for local files, the SQLite database and spools.")

    @property
    def effective_metrics_dir(self) -> Path:
        return (self.metrics_dir or self.data_dir / "metrics").resolve()


@lru_cache
def get_telemetry_settings() -> TelemetrySettings:
    return TelemetrySettings()
