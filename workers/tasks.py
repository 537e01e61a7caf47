"""Celery tasks: thin, take ids (never bytes), safe to run twice, bounded retries with backoff."""

from __future__ import annotations

import logging
from typing import Any

from celery import Task
from celery.exceptions import SoftTimeLimitExceeded

from storage.errors import ObjectNotFound, StorageUnavailable
from webhooks import delivery
from workers import metrics, steps
from workers.celery_app import app
from workers.job_end import DELIVER_WEBHOOK
from workers.ocr.errors import EngineUnavailable, InputError
from workers.settings import get_worker_settings

log = logging.getLogger(__name__)
# Job-level failures: retrying cannot help, the job fails at once with the reason.
FINAL = (InputError, ObjectNotFound, StorageUnavailable, EngineUnavailable, SoftTimeLimitExceeded)


class JobTask(Task):
    """Turns errors into job failures: input errors at once, anything else after the last retry."""

    abstract = True
    # Anything else (a transient storage or database error, a crash inside the engine) is retried with
    # backoff; ocr_page additionally gives up after OCR_PAGE_MAX_ATTEMPTS deliveries of the same page.
    autoretry_for = (Exception,)
    dont_autoretry_for = FINAL
    retry_backoff = 2
    retry_backoff_max = 60
    retry_jitter = True
    max_retries = 4

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        job_id, page_no = args[0], (args[1] if len(args) > 1 else None)

        def fail(code: str, message: str) -> None:
            steps.fail_job(job_id, code, message, page_no)
            if page_no is not None:  # failed here for good, not by Celery after retries: count it as such
                metrics.page_failed()

        try:
            return super().__call__(*args, **kwargs)
        except InputError as exc:
            fail(exc.code, (f"page {page_no}: " if page_no else "") + exc.message)
        except ObjectNotFound as exc:
            fail("input_missing", f"a stored file of this job is gone: {exc.key}")
        except (StorageUnavailable, EngineUnavailable) as exc:
            # Permanent until an operator acts: fail with the reason instead of retrying for an hour.
            fail("storage_unavailable" if isinstance(exc, StorageUnavailable) else "engine_unavailable", str(exc))
        except SoftTimeLimitExceeded:
            limit = get_worker_settings().page_time_limit_s
            where = f"page {page_no}" if page_no else "the document"
            fail("timeout", f"{where} took longer than OCR_PAGE_TIME_LIMIT_S={limit}s")
        return None

    def on_failure(self, exc: BaseException, task_id: str, args: Any, kwargs: Any, einfo: Any) -> None:
        job_id, page_no = args[0], (args[1] if len(args) > 1 else None)
        where = f"page {page_no}: " if page_no else ""
        log.error("job %s %sfailed after retries: %r", job_id, where, exc)
        steps.fail_job(job_id, "ocr_failed", f"{where}{type(exc).__name__}: {exc}", page_no)


@app.task(name="ocr.prepare_job", base=JobTask, bind=True)
def prepare_job(self: Task, job_id: str) -> None:
    redelivered = bool((self.request.delivery_info or {}).get("redelivered"))
    prepared = steps.prepare(job_id, redelivered=redelivered, task_id=self.request.id)
    if len(prepared.pages) == 1:
        # One page left (most jobs are one image): do it here rather than send another message, with the job
        # as prepare left it (not read again) and the page claimed as the job started. Called directly,
        # ocr_page keeps its own error handling; a retryable error retries this task, which is safe because
        # every step is idempotent.
        ocr_page(job_id, prepared.pages[0], task_id=self.request.id, prepared=prepared)
        return
    for page_no in prepared.pages:
        ocr_page.delay(job_id, page_no)


@app.task(name="ocr.ocr_page", base=JobTask, bind=True)
def ocr_page(
    self: Task, job_id: str, page_no: int, task_id: str | None = None, prepared: steps.Prepared | None = None
) -> None:
    # task_id: the message being run, which a cancel revokes; prepare_job's when it runs the page inline,
    # passing what it prepared (never sent in a message: the messages carry ids only).
    job, claim = (prepared.job, prepared.claim) if prepared is not None else (None, None)
    done = steps.process_page(job_id, page_no, task_id or self.request.id, job=job, claim=claim)
    metrics.page_done(done)
    if done.last:
        # The last page assembles the results itself, with its own output still in memory: one task less
        # per job (a single line's job is mostly overhead). finalize_job is idempotent, so a retry of this
        # task finalizes again safely.
        steps.finalize_job(job_id, done)


@app.task(name="ocr.finalize_job", base=JobTask, bind=True)
def finalize_job(self: Task, job_id: str) -> None:
    steps.finalize_job(job_id)


@app.task(
    name=DELIVER_WEBHOOK,
    bind=True,
    autoretry_for=(Exception,),  # the database or broker was unreachable: the attempt is tried again
    retry_backoff=5,
    retry_backoff_max=300,
    retry_jitter=True,
    max_retries=10,
)
def deliver_webhook(self: Task, job_id: str) -> None:
    """The job's next webhook attempt (webhooks/delivery.py); sends itself again for the one after, if any."""
    wait = delivery.deliver(job_id)
    if wait is not None:
        self.apply_async(args=[job_id], countdown=max(wait, 0.0))
