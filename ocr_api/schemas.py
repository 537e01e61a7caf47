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
    deliveries: str = Field(description="The webhook's delivery attempts (GET)")


class JobOut(BaseModel):
    id: str
    status: str = Field(description="queued, running, succeeded, failed or cancelled")
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    expires_at: datetime | None = Field(description="When the job's input and results are deleted (once it ended)")
    expired_at: datetime | None = Field(description="When they were deleted; downloads answer 410 from then on")
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
    options: dict[str, Any] = Field(description="The switches the upload set; the others took their defaults")
    engine: dict[str, Any] | None = Field(description="tesseract version, models with checksums, options")
    links: JobLinks


class Delivery(BaseModel):
    attempt: int
    url: str
    status_code: int | None = Field(description="The receiver's HTTP status; null when it did not answer")
    error: str | None
    duration_ms: int | None = Field(description="null while the attempt is in progress")
    created_at: datetime
    next_attempt_at: datetime | None = Field(description="When the next attempt is due; null: delivered or given up")


class DeliveryList(BaseModel):
    deliveries: list[Delivery]


class JobList(BaseModel):
    jobs: list[JobOut]
    next_cursor: str | None = Field(description="Pass as ?cursor= for the next, older page; null at the end.")


class Languages(BaseModel):
    languages: list[str]
    default: str


class Readiness(BaseModel):
    status: str
    checks: dict[str, str]


class BatchLinks(BaseModel):
    self: str
    results: str = Field(description="GET: every result in one zip archive (once every job has ended)")
    cancel: str = Field(description="POST: cancel the batch's queued and running jobs")


class BatchOut(BaseModel):
    id: str
    status: str = Field(description="queued (no job started), running (some job queued or running) or finished")
    created_at: datetime
    files: int = Field(description="Jobs in the batch")
    counts: dict[str, int] = Field(description="Jobs per status: queued, running, succeeded, failed, cancelled")
    jobs: list[JobOut] = Field(description="The batch's jobs, in the order of their files")
    links: BatchLinks


class BatchOfJobs(BaseModel):
    jobs: list[str] = Field(min_length=1, description="Ids of jobs of yours, in no batch yet")
