"""Job records: one row per job, one per page, and an append-only event log for progress streams."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, cast

from sqlalchemy import JSON, Boolean, DateTime, ForeignKey, Index, Integer, String, Table, Text, TypeDecorator, text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on every backend (SQLite drops the zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is not None and value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return value

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is not None and value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return value


def utcnow() -> datetime:
    return datetime.now(UTC)


class Base(DeclarativeBase):
    pass


class JobStatus:
    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"
    FINISHED = (SUCCEEDED, FAILED, CANCELLED)
    LIVE = (QUEUED, RUNNING)


class Job(Base):
    __tablename__ = "ocr_jobs"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    # The id of the API key that made the job (ocr_api_keys.id); None when it was made with OCR_AUTH=off
    owner: Mapped[str | None] = mapped_column(String(64), index=True)
    status: Mapped[str] = mapped_column(String(16), default=JobStatus.QUEUED, index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    pages_total: Mapped[int | None] = mapped_column(Integer)
    pages_done: Mapped[int] = mapped_column(Integer, default=0)
    error_code: Mapped[str | None] = mapped_column(String(64))
    error_message: Mapped[str | None] = mapped_column(Text)
    filename: Mapped[str | None] = mapped_column(String(255))
    media_type: Mapped[str] = mapped_column(String(64))
    input_key: Mapped[str] = mapped_column(String(512))
    input_size: Mapped[int] = mapped_column(Integer)
    input_sha256: Mapped[str] = mapped_column(String(64))
    lang: Mapped[str] = mapped_column(String(128), default="eng")
    psm: Mapped[int | None] = mapped_column(Integer)
    dpi: Mapped[int | None] = mapped_column(Integer)
    formats: Mapped[str] = mapped_column(String(64), default="txt")
    options: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    engine_info: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    # sha256 of the input and of everything that changes the output (workers/cache.py)
    cache_key: Mapped[str | None] = mapped_column(String(64), index=True)
    # When the recovery sweep last sent this job's work again (maintenance/recovery.py)
    enqueued_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Redeliveries of the job's first step (opening the document, counting its pages) after its worker died
    prepare_attempts: Mapped[int] = mapped_column(Integer, server_default="0")
    # Webhook: where the job's status JSON is POSTed when it ends (ocr_webhook_deliveries records each try)
    callback_url: Mapped[str | None] = mapped_column(Text)
    # Retention: hours the files are kept after the job ends (None: OCR_RETENTION_HOURS); when they are due to
    # go (set once the job has ended) and when they went (the row stays, without files, for listing)
    retain_hours: Mapped[int | None] = mapped_column(Integer)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)
    expired_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # When the webhook sweep last sent this ended job's webhook again (maintenance/webhook_resend.py)
    webhook_resent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The batch the job belongs to (ocr_batches.id), if any: uploaded together, or grouped afterwards
    batch_id: Mapped[str | None] = mapped_column(String(36), index=True)

    __table_args__ = (
        Index("ix_ocr_jobs_created", "created_at", "id"),
        # The webhook sweep's scan: ended jobs with a callback, by end time (a small share of all jobs)
        Index(
            "ix_ocr_jobs_callback_finished",
            "finished_at",
            postgresql_where=text("callback_url IS NOT NULL"),
            sqlite_where=text("callback_url IS NOT NULL"),
        ),
    )

    @property
    def format_list(self) -> list[str]:
        return [f for f in self.formats.split(",") if f]


class Batch(Base):
    """Jobs grouped to be followed and downloaded together (POST /v1/batches); each job names its batch."""

    __tablename__ = "ocr_batches"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    # The API key that made it (ocr_api_keys.id); None when made with OCR_AUTH=off
    owner: Mapped[str | None] = mapped_column(String(64), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class PageStatus:
    PENDING = "pending"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


class Page(Base):
    __tablename__ = "ocr_pages"

    job_id: Mapped[str] = mapped_column(String(36), ForeignKey("ocr_jobs.id", ondelete="CASCADE"), primary_key=True)
    page_no: Mapped[int] = mapped_column(Integer, primary_key=True)
    status: Mapped[str] = mapped_column(String(16), default=PageStatus.PENDING)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    error_message: Mapped[str | None] = mapped_column(Text)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    info: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    # The Celery task running the page's latest attempt (cancel kills it) and when it began (the sweep)
    task_id: Mapped[str | None] = mapped_column(String(64))
    claimed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class JobEvent(Base):
    """Status changes and per-page progress, numbered so a reconnecting client resumes without gaps."""

    __tablename__ = "ocr_job_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    job_id: Mapped[str] = mapped_column(String(36), ForeignKey("ocr_jobs.id", ondelete="CASCADE"))
    type: Mapped[str] = mapped_column(String(32))
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    # events_after: a job's events after an id, in id order (storage/records/migrations/versions/0002_event_index.py)
    __table_args__ = (Index("ix_ocr_job_events_job_id_id", "job_id", "id"),)


class ApiKey(Base):
    """An API key: only its sha256 is stored; the key itself is shown once, by `ocr-service keys create`."""

    __tablename__ = "ocr_api_keys"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(16))  # the key's first characters, to recognize it in a list
    admin: Mapped[bool] = mapped_column(Boolean, server_default="0")
    # Per-key overrides of OCR_RATE_LIMIT_PER_MINUTE and OCR_MAX_JOBS_IN_FLIGHT (None: the setting)
    rate_per_minute: Mapped[int | None] = mapped_column(Integer)
    max_in_flight: Mapped[int | None] = mapped_column(Integer)
    webhook_secret: Mapped[str] = mapped_column(String(128))  # signs this key's webhooks (HMAC-SHA256)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class IdempotencyRecord(Base):
    """One Idempotency-Key of one API key: the upload it was first used for and the answer it got."""

    __tablename__ = "ocr_idempotency_keys"

    owner: Mapped[str] = mapped_column(String(64), primary_key=True)  # "" when auth is off
    key: Mapped[str] = mapped_column(String(255), primary_key=True)
    fingerprint: Mapped[str] = mapped_column(String(64))  # sha256 of the upload's bytes and options
    job_id: Mapped[str | None] = mapped_column(String(36))  # None while the first request is in flight
    response: Mapped[dict[str, Any] | None] = mapped_column(JSON)  # the first request's answer body
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)


class WebhookDelivery(Base):
    """One attempt to POST a job's status to its callback_url."""

    __tablename__ = "ocr_webhook_deliveries"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    job_id: Mapped[str] = mapped_column(String(36), ForeignKey("ocr_jobs.id", ondelete="CASCADE"))
    attempt: Mapped[int] = mapped_column(Integer)
    url: Mapped[str] = mapped_column(Text)
    status_code: Mapped[int | None] = mapped_column(Integer)  # None: no answer (refused, timed out)
    error: Mapped[str | None] = mapped_column(Text)
    duration_ms: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # None: delivered or given up

    # One row per attempt number: inserting it claims the attempt, so two deliveries of the same task message
    # cannot both POST it (storage/records/deliveries.py). It also serves the per-job listing.
    __table_args__ = (
        Index("ux_ocr_webhook_deliveries_job_attempt", "job_id", "attempt", unique=True),
        # The webhook sweep's scans (maintenance/webhook_resend.py): attempts with a next one due, and attempts with
        # no outcome yet, by time; both a small share of all attempts
        Index(
            "ix_ocr_webhook_deliveries_next",
            "next_attempt_at",
            postgresql_where=text("next_attempt_at IS NOT NULL"),
            sqlite_where=text("next_attempt_at IS NOT NULL"),
        ),
        Index(
            "ix_ocr_webhook_deliveries_open",
            "created_at",
            postgresql_where=text("duration_ms IS NULL"),
            sqlite_where=text("duration_ms IS NULL"),
        ),
    )


# The tables as SQLAlchemy Core sees them, for the repositories' Core statements (one handle each, typed).
JOBS = cast(Table, Job.__table__)
BATCHES = cast(Table, Batch.__table__)
PAGES = cast(Table, Page.__table__)
EVENTS = cast(Table, JobEvent.__table__)
API_KEYS = cast(Table, ApiKey.__table__)
IDEMPOTENCY_KEYS = cast(Table, IdempotencyRecord.__table__)
DELIVERIES = cast(Table, WebhookDelivery.__table__)
