"""Settings of the API package, from OCR_-prefixed environment variables."""

from functools import lru_cache
from typing import Literal

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

    auth: Literal["required", "off"] | None = Field(
        None,
        description="API keys on /v1: `required` or `off`; default `off` when the API listens on loopback, "
        "`required` otherwise (docs/security.md).",
    )
    rate_limit_per_minute: int = Field(
        6000, ge=0, description="Requests per minute per API key (0: unlimited); `keys create --rate-per-minute`."
    )
    max_jobs_in_flight: int = Field(
        1000, ge=0, description="Queued and running jobs per API key (0: unlimited); `keys create --max-in-flight`."
    )
    key_cache_s: float = Field(
        5.0, ge=0, description="Seconds an API process keeps a looked-up key; a revocation takes this long."
    )
    idempotency_hours: int = Field(24, ge=1, description="Hours an Idempotency-Key of POST /v1/jobs is remembered.")
    ready_requires_workers: bool = Field(
        True, description="`/readyz` answers 503 naming `workers` while no worker consumes the job queue."
    )
    max_header_kb: int = Field(
        64, ge=1, description="Largest request head (request line and headers) in KiB; larger: 400, connection closed."
    )
    keep_alive_s: int = Field(5, ge=1, description="Seconds an idle keep-alive connection stays open.")
    header_timeout_s: float = Field(
        10.0, gt=0, description="Seconds a connection may take to send its request head; then it is closed."
    )
    body_timeout_s: float = Field(
        30.0, gt=0, description="Seconds a request body may stall (no bytes arriving) before a 408."
    )
    max_connections: int = Field(
        1000, ge=1, description="Open connections and requests per API process; beyond it new requests get 503."
    )
    max_uploads_per_key: int = Field(
        16, ge=1, description="Uploads in progress at once per API key and API process (keys required); beyond it 429."
    )
    max_batch_files: int = Field(
        100, ge=1, description="Files one POST /v1/batches may hold (each counts as an upload for the limits)."
    )
    max_batch_mb: int = Field(500, ge=1, description="Largest POST /v1/batches request body in MiB (all its files).")
    max_streams_per_key: int = Field(
        20, ge=1, description="Open /text and /events streams per API key and API process; beyond it 429."
    )
    cors_origins: str = Field(
        "", description="Comma-separated origins allowed to call the API from a browser (CORS); empty: none."
    )
    allowed_hosts: str = Field(
        "", description="With keys off: comma-separated Host names answered besides loopback ones; `*`: any."
    )
    url_source: bool = Field(
        False,
        description="Document Intelligence API: fetch an analyze request's `urlSource` (public addresses only).",
    )
    url_source_allow_private: bool = Field(
        False, description="Let `urlSource` reach loopback, private and link-local addresses (closed LANs, tests)."
    )
    url_source_timeout_s: float = Field(
        30.0, gt=0, description="Time limit of fetching one `urlSource`, connect to last byte."
    )

    @property
    def effective_auth(self) -> Literal["required", "off"]:
        if self.auth is not None:
            return self.auth
        return "off" if is_loopback(self.host) else "required"

    @property
    def cors_origin_list(self) -> list[str]:
        return [o.strip() for o in self.cors_origins.split(",") if o.strip()]

    @property
    def allowed_host_list(self) -> list[str]:
        return [h.strip() for h in self.allowed_hosts.split(",") if h.strip()]

    @property
    def max_header_bytes(self) -> int:
        return self.max_header_kb * 1024

    @property
    def max_upload_bytes(self) -> int:
        return self.max_upload_mb * 1024 * 1024

    @property
    def max_batch_bytes(self) -> int:
        return self.max_batch_mb * 1024 * 1024


def is_loopback(host: str) -> bool:
    import ipaddress

    if host.strip("[]").lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


@lru_cache
def get_api_settings() -> ApiSettings:
    return ApiSettings()
