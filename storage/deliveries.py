"""Queries on webhook delivery attempts (ocr_webhook_deliveries): one row per attempt to POST a job's status."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import insert, select, update
from sqlalchemy.orm import Session

from storage.models import ApiKey, WebhookDelivery


def attempts(session: Session, job_id: str) -> list[WebhookDelivery]:
    """The job's attempts so far, first to last."""
    stmt = select(WebhookDelivery).where(WebhookDelivery.job_id == job_id).order_by(WebhookDelivery.attempt)
    return list(session.scalars(stmt))


def add_attempt(session: Session, job_id: str, attempt: int, url: str, now: datetime) -> None:
    """Record attempt number `attempt` as in progress. Raises IntegrityError (at the latest on commit) when a row
    for it exists already: another delivery of the same task message claimed it, and only that one POSTs."""
    session.execute(insert(WebhookDelivery).values(job_id=job_id, attempt=attempt, url=url, created_at=now))


def record_outcome(
    session: Session,
    job_id: str,
    attempt: int,
    *,
    status_code: int | None,
    error: str | None,
    duration_ms: int,
    next_attempt_at: datetime | None,
) -> None:
    session.execute(
        update(WebhookDelivery)
        .where(WebhookDelivery.job_id == job_id, WebhookDelivery.attempt == attempt)
        .values(
            status_code=status_code,
            error=error[:2000] if error else None,
            duration_ms=duration_ms,
            next_attempt_at=next_attempt_at,
        )
    )


def key_secret(session: Session, key_id: str) -> str | None:
    """The webhook secret of an API key (a job's owner); None when the key is gone."""
    return session.scalar(select(ApiKey.webhook_secret).where(ApiKey.id == key_id))
