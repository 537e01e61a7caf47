"""The job's result files, assembled from its pages' outputs by the finalize step (workers/steps.py): every
text format, and the searchable PDF made from the input itself (workers/ocr/pdf/)."""

from __future__ import annotations

import tempfile

from ocr_client.options import MEDIA_TYPES

from storage import get_storage
from storage.objects.keys import result_key
from storage.records.job_reads import JobRecord
from workers import selection
from workers.job_options import job_switches, text_pages_mode
from workers.ocr import outputs
from workers.ocr.errors import InputError
from workers.ocr.outputs.page import PageOutput
from workers.ocr.pdf import searchable_pdf
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
    unless the job asked for a plain PDF, spooled through a temporary file."""
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
            )
        except (ValueError, OSError) as exc:
            raise InputError("pdf_failed", f"the searchable PDF cannot be made: {exc}") from exc
        spool.seek(0)
        storage.save_stream(result_key(job.id, "pdf"), spool, MEDIA_TYPES["pdf"])
