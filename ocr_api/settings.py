"""Settings of the API package, from OCR_-prefixed environment variables."""

from functools import lru_cache

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class ApiSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="OCR_", extra="ignore")

    host: str = Field("127.0.0.1", description="Address the API listens on.")
    port: int = Field(8000, description="Port the API listens on.")
    max_upload_mb: int = Field(50, description="Largest accepted upload in MiB; larger ones get 413.")
    max_pixels_per_page: int = Field(60_000_000, description="Images with more pixels per page are refused.")
    default_lang: str = Field("eng", description="Language when an upload names none.")
    list_page_size: int = Field(50, description="Default number of jobs per page of GET /v1/jobs.")
    root_path: str = Field("", description="Path prefix when served behind a reverse proxy.")
    upload_concurrency: int = Field(
        4, ge=1, description="Uploads checked and stored at once by one API process; more wait their turn."
    )
    access_log: bool = Field(False, description="Log one line per request (uvicorn's access log).")
    opentelemetry: bool = Field(False, description="FastAPI's native OpenTelemetry spans, metrics and logs.")

    @property
    def max_upload_bytes(self) -> int:
        return self.max_upload_mb * 1024 * 1024


@lru_cache
def get_api_settings() -> ApiSettings:
    return ApiSettings()
