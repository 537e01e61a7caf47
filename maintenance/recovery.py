"""The recovery sweep: jobs that stopped moving are sent again, or failed once their pages used their attempts.

A message can be lost in several ways the queue itself does not repair: a broker restarted empty (or without
its append-only file), a worker SIGKILLed with pages it had taken (Redis gives unacknowledged messages back only
after its visibility timeout, an hour), the API dying between recording a job and publishing it. In each case
the job's records stay `queued` or `running` while nothing happens. Every OCR_RECOVERY_INTERVAL_S the API
looks for jobs in which no page has started or finished for OCR_RECOVERY_AFTER_S (longer than a page may run),
and sends each one's prepare task again: it starts a queued job, and resends the unfinished pages of a running
one (or finalizes it). Every step is idempotent, so a job that was merely slow loses nothing by it.

Only the API process imports this module (no OCR engine): it uses the queue by task name and the job records;
maintenance/runner.py runs it.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import timedelta

from maintenance.settings import get_maintenance_settings
from storage.records import jobs as repo
from storage.records.db import session_scope
from storage.records.models import utcnow
from workers import queue
from workers.job_end import job_ended
from workers.settings import get_worker_settings

log = logging.getLogger(__name__)


def stale_after_s() -> int:
    """OCR_RECOVERY_AFTER_S, by default longer than a page may run (the hard time limit), so that a page still
    working is never sent twice."""
    return get_maintenance_settings().recovery_after_s or get_worker_settings().page_time_limit_s + 60


@dataclass
class SweepReport:
    resent: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    skipped: str | None = None  # why this run did nothing


def sweep() -> SweepReport:
    """One pass; safe to run in several processes at once."""
    report = SweepReport()
    try:
        backlog = queue.queue_depth()
    except queue.QueueUnavailable as exc:
        report.skipped = f"broker unreachable: {exc}"
        return report
    if backlog:
        # A stale job may just be waiting its turn behind these messages; sending it again now would only
        # make a duplicate. Lost messages are found once the queue has drained.
        report.skipped = f"{backlog} messages waiting in the queue"
        return report
    cutoff = utcnow() - timedelta(seconds=stale_after_s())
    with session_scope() as session:
        stuck = repo.claim_stuck_jobs(session, cutoff, get_worker_settings().page_max_attempts)
        for job in stuck:
            if job.exhausted:
                page_no, attempts, last_error = job.exhausted[0]
                why = f"; last error: {last_error}" if last_error else " (the worker was lost each time)"
                message = f"page {page_no}: gave up after {attempts} attempts{why}"
                repo.fail_job(session, job.id, "page_failed", message, page_no)
                report.failed.append(job.id)
            else:
                report.resent.append(job.id)
    for job_id in report.failed:
        job_ended(job_id)
    for job_id in report.resent:
        try:
            queue.enqueue_job(job_id)
        except queue.QueueUnavailable as exc:  # marked as sent: the next sweep after the deadline tries again
            log.warning("recovery sweep could not resend job %s: %s", job_id, exc)
    if report.resent or report.failed:
        log.warning("recovery sweep: sent %s again, failed %s", report.resent, report.failed)
    return report
