"""Queries on webhook delivery attempts (ocr_webhook_deliveries): one row per attempt to POST a job's status."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import and_, exists, func, insert, or_, select, update
from sqlalchemy.orm import Session, aliased

from storage.records.db import rows_changed
from storage.records.models import JOBS, ApiKey, JobStatus, WebhookDelivery

_SWEEP_LOCK_KEY = 0x6F63725F7768  # "ocr_wh": the webhook sweep's PostgreSQL advisory lock


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


@dataclass(frozen=True)
class LostWebhook:
    job_id: str
    last_attempt: int | None  # None: no attempt was ever made (the first message was lost)


def claim_lost_webhooks(
    session: Session, now: datetime, after_s: float, stale_s: float, window_s: float, limit: int = 500
) -> list[LostWebhook]:
    """Ended jobs with a callback_url whose webhook nobody is going to deliver, each marked as sent again now
    (ocr_jobs.webhook_resent_at) for the caller to send: the latest attempt failed and its next attempt is
    overdue by `after_s` (or it never recorded an outcome, `stale_s` + `after_s` on), or no attempt was made at
    all `after_s` after the job ended. Only while an attempt may still be made: within `window_s` of the first
    attempt, or of the end when there is none. A job marked less than `after_s` ago is left alone, so a resend
    still queued is not sent again; the mark is a conditional UPDATE, so of two sweeps racing only one gets a
    job, and on PostgreSQL an advisory lock keeps the second from doing the work at all."""
    postgresql = session.get_bind().dialect.name == "postgresql"
    if postgresql and not session.execute(select(func.pg_try_advisory_xact_lock(_SWEEP_LOCK_KEY))).scalar():
        return []
    overdue = now - timedelta(seconds=after_s)
    window_start = now - timedelta(seconds=window_s)
    not_marked = or_(JOBS.c.webhook_resent_at.is_(None), JOBS.c.webhook_resent_at < overdue)
    # No attempt at all: ended jobs with a callback, by end time (the partial index ix_ocr_jobs_callback_finished).
    delivery = aliased(WebhookDelivery)
    no_attempt = (
        select(JOBS.c.id, JOBS.c.finished_at)
        .where(
            JOBS.c.callback_url.is_not(None),
            JOBS.c.finished_at >= window_start,
            JOBS.c.finished_at < overdue,
            JOBS.c.status.in_(JobStatus.FINISHED),
            not_marked,
            ~exists().where(delivery.job_id == JOBS.c.id),
        )
        .order_by(JOBS.c.finished_at)
        .limit(limit)
    )
    # A lost retry: the job's latest attempt is overdue (the partial indexes on next_attempt_at, and on created_at
    # of attempts with no outcome, keep this to the few attempts that failed or are under way). An attempt made
    # after `window_start` is due after it too, and comes after the first.
    latest, first, later = aliased(WebhookDelivery), aliased(WebhookDelivery), aliased(WebhookDelivery)
    lost_retry = (
        select(latest.job_id, latest.attempt)
        .join(JOBS, JOBS.c.id == latest.job_id)
        .join(first, and_(first.job_id == latest.job_id, first.attempt == 1))
        .where(
            or_(
                and_(
                    latest.next_attempt_at < overdue,
                    latest.next_attempt_at >= window_start,
                    latest.duration_ms.is_not(None),
                ),
                and_(
                    latest.duration_ms.is_(None),
                    latest.created_at < overdue - timedelta(seconds=stale_s),
                    latest.created_at >= window_start,
                ),
            ),
            ~exists().where(later.job_id == latest.job_id, later.attempt > latest.attempt),
            first.created_at >= window_start,
            not_marked,
        )
        .order_by(latest.created_at)
        .limit(limit)
    )
    found: list[tuple[str, int | None]] = [(job_id, None) for job_id, _ in session.execute(no_attempt)]
    found += [(job_id, attempt) for job_id, attempt in session.execute(lost_retry)]
    claimed = []
    for job_id, attempt in found[:limit]:
        marked = session.execute(update(JOBS).where(JOBS.c.id == job_id, not_marked).values(webhook_resent_at=now))
        if rows_changed(marked):
            claimed.append(LostWebhook(job_id, attempt))
    return claimed


def unmark_resent(session: Session, job_id: str) -> None:
    """Undo a mark whose message could not be sent: the next sweep tries again."""
    session.execute(update(JOBS).where(JOBS.c.id == job_id).values(webhook_resent_at=None))
