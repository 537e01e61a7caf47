"""Settings of the storage package, read from OCR_-prefixed environment variables."""

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class StorageSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="OCR_", extra="ignore")

    data_dir: Path = Field(Path("./data"), description="Root for local files, the SQLite database and spools.")
    storage: Literal["local", "s3"] = Field("local", description="Where uploads and results are kept.")
    database_url: str | None = Field(
        None,
        description="SQLAlchemy URL of the job database; default sqlite:///<data_dir>/jobs.sqlite3. "
        "Use postgresql+psycopg://user@host/db for several machines.",
    )
    auto_migrate: bool = Field(
        True,
        description="Apply the job database's migrations (under a lock) when `serve` or `api` starts; "
        "false where a one-shot `ocr-service migrate` runs first.",
    )
    retention_hours: int = Field(
        168,
        ge=0,
        description="A job's input and results are deleted this many hours after it ends (the record stays); an "
        "upload's retain_hours may ask for less.",
    )
    s3_bucket: str | None = Field(None, description="Bucket for OCR_STORAGE=s3.")
    s3_prefix: str = Field("", description="Key prefix inside the bucket, e.g. 'ocr/'.")
    s3_endpoint_url: str | None = Field(None, description="Endpoint for MinIO and other S3-compatible stores.")
    s3_region: str | None = Field(None, description="Region; default from the AWS credential chain.")
    s3_presigned_downloads: bool = Field(False, description="Answer result downloads with a presigned redirect.")
    s3_presign_expiry_s: int = Field(900, description="Lifetime of presigned download URLs in seconds.")
    s3_connect_timeout_s: float = Field(5.0, description="boto3 connect timeout.")
    s3_read_timeout_s: float = Field(60.0, description="boto3 read timeout.")
    s3_max_attempts: int = Field(5, description="boto3 standard-retry attempts.")
    s3_multipart_threshold_mb: int = Field(16, description="Objects above this size are uploaded in parts.")

    @property
    def files_dir(self) -> Path:
        return self.data_dir / "files"

    @property
    def effective_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'jobs.sqlite3').resolve()}"


@lru_cache
def get_storage_settings() -> StorageSettings:
    return StorageSettings()
