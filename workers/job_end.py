"""What happens after a job has ended (succeeded, failed or cancelled), called once its end is committed by
whichever step ended it: the worker's finalize, the result cache, a failure, the recovery sweep, a cancel.

Only a job with a callback_url costs anything here: its webhook delivery is queued (the task in workers/tasks.py,
which calls webhooks/delivery.py). Retention needs nothing at this point: the retention sweep (one of the
periodic sweeps of maintenance/runner.py) records when an ended job's files go, and the status JSON shows that
time from the job's end until then.
"""

from __future__ import annotations

import logging

from kombu.exceptions import OperationalError

from storage.records.job_reads import JobRecord, read_job
from workers import faults
from workers.celery_app import app

log = logging.getLogger(__name__)
DELIVER_WEBHOOK = "ocr.deliver_webhook"  # workers/tasks.py; sent by name, so the API imports no task code


def job_ended(job: JobRecord | str) -> None:
    """The job (a record read before it ended will do: callback_url never changes, or its id) has ended."""
    record = read_job(job) if isinstance(job, str) else job
    if record is None or not record.callback_url:
        return
    if faults.lose_webhook(record.filename):
        log.warning("job %s: its webhook message is dropped (test fault)", record.id)
        return
    try:
        send_webhook(record.id)
    except (OperationalError, OSError) as exc:  # the webhook sweep (maintenance/webhook_resend.py) sends it later
        log.error("job %s: could not queue its webhook: %s", record.id, exc)


def send_webhook(job_id: str) -> None:
    """Queue the job's webhook delivery; raises kombu's OperationalError or OSError when the broker is down."""
    app.send_task(DELIVER_WEBHOOK, args=[job_id], retry=True, retry_policy={"max_retries": 3})
