"""The job's result files, assembled from its pages' outputs by the finalize step (workers/steps.py): every
text format, and the searchable PDF made from the input itself (workers/ocr/pdf/)."""

from __future__ import annotations

import tempfile
from typing import Any

from ocr_client.options import MEDIA_TYPES

from storage import get_storage
from storage.objects.keys import result_key
from storage.records.job_reads import JobRecord
from workers import selection
from workers.job_options import job_switches, text_pages_mode
from workers.ocr import outputs
from workers.ocr.errors import InputError
from workers.ocr.outputs.page import PageOutput
from workers.ocr.pdf import Lossy, searchable_pdf
from workers.settings import get_worker_settings


def write_results(job: JobRecord, page_numbers: list[int], page_outputs: list[PageOutput]) -> list[str]:
    """Every requested format of the job (and its text), from its pages' outputs; the keys written."""
    storage = get_storage()
    job_id = job.id
    wanted = set(job.format_list) | {"txt"}
    info = dict(job.engine_info or {})
    meta = {"job_id": job.id, "filename": job.filename, "engine": info}
    version = str(info.get("tesseract_version", ""))
    for fmt in sorted(wanted):
        if fmt == "pdf":
            _write_pdf(job, page_outputs, creator=f"ocr-service, tesseract {version}")
            continue
        document = outputs.build_document(fmt, page_outputs, meta)
        storage.put_bytes(result_key(job_id, fmt), document.encode("utf-8"), MEDIA_TYPES[fmt])
    return [result_key(job_id, fmt) for fmt in sorted(wanted)]


def _write_pdf(job: JobRecord, page_outputs: list[PageOutput], *, creator: str) -> None:
    """result.pdf: the input itself with each OCR'd page's text layer grafted on (workers/ocr/pdf/), PDF/A
    unless the job asked for a plain PDF, its images re-encoded only where the job asked for that, spooled
    through a temporary file. The input is a local path: with S3 storage, a temporary file the object is
    streamed into (storage.objects.s3.S3Storage.local_path), never held in memory."""
    storage = get_storage()
    settings = get_worker_settings()
    switches = job_switches(job.options)
    with storage.local_path(job.input_key) as path, tempfile.TemporaryFile() as spool:
        try:
            searchable_pdf(
                path,
                job.media_type,
                page_outputs,
                spool,
                title=job.filename,
                creator=creator,
                redo=text_pages_mode(switches) == "redo",
                archive=switches["pdfa"],
                dpi=job.dpi,
                default_dpi=settings.default_dpi,
                max_pixels=settings.max_pixels_per_page,
                document_pages=selection.document_pages(job.options, [p.page for p in page_outputs]),
                lossy=pdf_lossy(job.options),
            )
        except (ValueError, OSError) as exc:
            raise InputError("pdf_failed", f"the searchable PDF cannot be made: {exc}") from exc
        spool.seek(0)
        storage.save_stream(result_key(job.id, "pdf"), spool, MEDIA_TYPES["pdf"])


def pdf_lossy(options: dict[str, Any] | None) -> Lossy | None:
    """The lossy optimisation of the searchable PDF's images the job asked for (its options pdf_jpeg_quality
    and pdf_image_dpi), or None: every image kept as it is."""

    def number(name: str) -> int | None:
        value = (options or {}).get(name)
        return value if isinstance(value, int) and not isinstance(value, bool) else None

    lossy = Lossy(jpeg_quality=number("pdf_jpeg_quality"), max_dpi=number("pdf_image_dpi"))
    return lossy if lossy else None
