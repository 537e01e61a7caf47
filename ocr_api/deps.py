"""Route dependencies: lookups that return the object or raise a typed error."""

from __future__ import annotations

import re
from typing import Annotated

from fastapi import Depends, Path, Request
from starlette.concurrency import run_in_threadpool

from ocr_api.auth import CurrentCaller
from ocr_api.batches import BatchRecord, read_batch
from ocr_api.errors import BatchNotFound, JobNotFound
from ocr_api.lookups import JobLookups
from ocr_telemetry import context
from ocr_telemetry.timing import timed
from storage.records.job_reads import JobRecord

JOB_ID = Path(description="Job id as returned by POST /v1/jobs (a UUID)")
BATCH_ID = Path(description="Batch id as returned by POST /v1/batches (a UUID)")
# Job ids are made by the server (str(uuid.uuid4())): anything else names no job, and is never sent to the
# database (a NUL is an error there on PostgreSQL, not a miss).
_JOB_ID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
_SHOWN_ID_CHARS = 64  # of an id that is no job id, in the 404's message


def is_job_id(value: str) -> bool:
    return _JOB_ID.fullmatch(value) is not None


async def valid_job(job_id: Annotated[str, JOB_ID], request: Request, caller: CurrentCaller) -> JobRecord:
    if not is_job_id(job_id):
        raise JobNotFound(f"no job with id '{job_id[:_SHOWN_ID_CHARS]}'")
    # The query runs in a thread (ocr_api/lookups.py): the event loop never waits on the database.
    lookups: JobLookups = request.app.state.job_lookups
    context.job_id.set(job_id)
    with timed("db"):
        job = await lookups.get(job_id)
    # Another key's job is answered exactly as a missing one: its id says nothing about whether it exists.
    if job is None or not caller.sees(job.owner):
        raise JobNotFound(f"no job with id '{job_id}'")
    return job


ValidJob = Annotated[JobRecord, Depends(valid_job)]


async def valid_batch(batch_id: Annotated[str, BATCH_ID], caller: CurrentCaller) -> BatchRecord:
    """The batch and its jobs, or BatchNotFound: for an id that is none, and for another key's batch alike."""
    if not is_job_id(batch_id):  # made the same way as job ids
        raise BatchNotFound(f"no batch with id '{batch_id[:_SHOWN_ID_CHARS]}'")
    with timed("db"):
        batch = await run_in_threadpool(read_batch, batch_id)
    if batch is None or not caller.sees(batch.owner):
        raise BatchNotFound(f"no batch with id '{batch_id}'")
    return batch


ValidBatch = Annotated[BatchRecord, Depends(valid_batch)]
