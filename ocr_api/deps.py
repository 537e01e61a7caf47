"""Route dependencies: lookups that return the object or raise a typed error."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Path

from ocr_api import service
from storage.models import Job

JOB_ID = Path(description="Job id as returned by POST /v1/jobs", max_length=64)


def valid_job(job_id: Annotated[str, JOB_ID]) -> Job:
    return service.get_job(job_id)


ValidJob = Annotated[Job, Depends(valid_job)]
