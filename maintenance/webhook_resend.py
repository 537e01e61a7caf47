"""The webhook sweep: webhooks whose task message was lost are sent again.

A job's webhook travels as task messages (the task in workers/tasks.py, calling webhooks/delivery.py): the first
is sent when the job ends (workers/job_end.py), each retry by the task itself with a countdown. A message can be
lost: the broker restarted empty while a retry waited in it, or could not be reached when the job ended or when
a retry was due. Every OCR_WEBHOOK_SWEEP_INTERVAL_S the API looks for ended jobs with a callback_url whose latest
attempt failed and is overdue by OCR_WEBHOOK_SWEEP_AFTER_S (or never recorded an outcome), or that have no
attempt at all that long after they ended, still within OCR_WEBHOOK_RETRY_FOR_S, and sends each one's delivery
task again.

The task is idempotent: inserting an attempt's row claims it, so a resend racing a late original makes at most
one POST per attempt. Each resend is recorded on the job (webhook_resent_at) by a conditional UPDATE, so API
processes sweeping at once send a job once, and a job is not sent again sooner than OCR_WEBHOOK_SWEEP_AFTER_S
after its last resend. Only the API process imports this module (no OCR engine, no task code); the runner
(maintenance/runner.py) runs it.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from kombu.exceptions import OperationalError

from maintenance.settings import get_maintenance_settings
from storage.records import deliveries
from storage.records.db import session_scope
from storage.records.models import utcnow
from workers.job_end import send_webhook
from workers.settings import get_worker_settings

log = logging.getLogger(__name__)
BATCH = 500  # jobs sent again per sweep


def overdue_after_s() -> float:
    """OCR_WEBHOOK_SWEEP_AFTER_S, by default well past any wait a live message may still be holding (twice the
    longest backoff), so that a resend rarely duplicates one."""
    return get_maintenance_settings().webhook_sweep_after_s or 2 * get_worker_settings().webhook_retry_max_s


@dataclass
class WebhookSweepReport:
    resent: list[str] = field(default_factory=list)  # jobs whose delivery task was sent again
    unsent: list[str] = field(default_factory=list)  # ... that could not be sent (broker down): next sweep


def sweep() -> WebhookSweepReport:
    """One pass; safe to run in several processes at once."""
    settings = get_worker_settings()
    report = WebhookSweepReport()
    with session_scope() as session:
        lost = deliveries.claim_lost_webhooks(
            session,
            utcnow(),
            after_s=overdue_after_s(),
            stale_s=settings.webhook_attempt_stale_s,
            window_s=settings.webhook_retry_for_s,
            limit=BATCH,
        )
    for webhook in lost:
        try:
            send_webhook(webhook.job_id)
        except (OperationalError, OSError) as exc:
            log.warning("webhook sweep could not resend the webhook of job %s: %s", webhook.job_id, exc)
            with session_scope() as session:
                deliveries.unmark_resent(session, webhook.job_id)
            report.unsent.append(webhook.job_id)
            continue
        report.resent.append(webhook.job_id)
    if lost:
        log.warning(
            "webhook sweep: sent the webhooks of %d jobs again (lost messages): %s",
            len(report.resent),
            ", ".join(
                f"{w.job_id} (after attempt {w.last_attempt})" if w.last_attempt else f"{w.job_id} (no attempt)"
                for w in lost
                if w.job_id in report.resent
            ),
        )
    return report
