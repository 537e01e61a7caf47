"""Route dependencies: lookups that return the object or raise a typed error."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from functools import lru_cache
from typing import Annotated

from fastapi import Depends, Path

from ocr_api import service
from storage.job_reads import JobRecord

JOB_ID = Path(description="Job id as returned by POST /v1/jobs", max_length=64)
# Job lookups take a fraction of a millisecond. A few threads of their own keep them within the database pool
# (more concurrent lookups than pooled connections would open and close a connection each time) and cost
# half of a trip through AnyIO's general thread pool, which stays for uploads and downloads.
READ_THREADS = 4


@lru_cache
def _read_executor() -> ThreadPoolExecutor:
    return ThreadPoolExecutor(READ_THREADS, thread_name_prefix="job-reads")


async def valid_job(job_id: Annotated[str, JOB_ID]) -> JobRecord:
    # async, with the query in a thread: one thread hop per request, the event loop never waits on the database.
    return await asyncio.get_running_loop().run_in_executor(_read_executor(), service.get_job, job_id)


ValidJob = Annotated[JobRecord, Depends(valid_job)]
