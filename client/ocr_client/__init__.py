"""A client for the OCR service's HTTP API, and the `ocr-client` batch command built on it.

It imports nothing from the server packages, so scripts can use it on machines without Tesseract
(`pip install ./client`):

    from ocr_client import Client

    with Client("http://127.0.0.1:8000") as ocr:
        job = ocr.wait(ocr.submit("scan.png", formats=["txt", "pdf"]).id)
        print(ocr.result(job.id, "txt").decode())
"""

from ocr_client._version import __version__
from ocr_client.client import AsyncClient, Client
from ocr_client.errors import ApiError, JobFailed, OcrClientError, ServerUnreachable
from ocr_client.models import Event, Job
from ocr_client.options import JobOptions
from ocr_client.retry import RetryPolicy

__all__ = [
    "ApiError",
    "AsyncClient",
    "Client",
    "Event",
    "Job",
    "JobFailed",
    "JobOptions",
    "OcrClientError",
    "RetryPolicy",
    "ServerUnreachable",
    "__version__",
]
