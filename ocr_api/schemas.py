"""Response bodies, as published in the OpenAPI document."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field


class ErrorInfo(BaseModel):
    code: str = Field(examples=["unsupported_media_type"])
    message: str
    details: Any | None = None


class ErrorResponse(BaseModel):
    error: ErrorInfo


class JobLinks(BaseModel):
    self: str
    results: dict[str, str]
    text: str
    events: str


class JobOut(BaseModel):
    id: str
    status: str = Field(description="queued, running, succeeded, failed or cancelled")
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    pages_total: int | None
    pages_done: int
    error: ErrorInfo | None
    filename: str | None
    media_type: str
    size: int
    lang: str
    psm: int | None
    dpi: int | None
    formats: list[str]
    options: dict[str, Any]
    engine: dict[str, Any] | None = Field(description="tesseract version, models with checksums, options")
    links: JobLinks


class JobList(BaseModel):
    jobs: list[JobOut]
    next_cursor: str | None = Field(description="Pass as ?cursor= for the next, older page; null at the end.")


class Languages(BaseModel):
    languages: list[str]
    default: str


class Readiness(BaseModel):
    status: str
    checks: dict[str, str]
