"""Route dependencies: lookups that return the object or raise a typed error."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Path, Request

from ocr_api.auth import CurrentCaller
from ocr_api.errors import JobNotFound
from ocr_api.lookups import JobLookups
from ocr_telemetry import context
from ocr_telemetry.timing import timed
from storage.records.job_reads import JobRecord

JOB_ID = Path(description="Job id as returned by POST /v1/jobs", max_length=64)


async def valid_job(job_id: Annotated[str, JOB_ID], request: Request, caller: CurrentCaller) -> JobRecord:
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
