"""The job pipeline: prepare (count pages), recognize one page, finalize (assemble the result files).

Each step reloads the job from the database, does nothing when its work is already done, and writes
results under server-generated keys, so a step that runs twice does no harm.
"""

from __future__ import annotations

import logging
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from storage import ObjectNotFound, get_storage
from storage import jobs as repo
from storage.db import session_scope
from storage.job_reads import JobRecord, read_job
from storage.keys import job_prefix, page_key, page_pdf_key, result_key
from storage.models import JobStatus, PageStatus
from workers import cache, faults, formats, pages, pdfout, tesseract
from workers.engine import get_engine
from workers.errors import InputError
from workers.job_end import job_ended
from workers.preprocess import PageOptions, alternate_lang, read_page, switches
from workers.settings import get_worker_settings

log = logging.getLogger(__name__)


def engine_info(job: JobRecord) -> dict[str, Any]:
    """The engine, its version and every model a page of this job may be read with (the job's languages,
    and the alternate models auto_model may choose), each with its sha256, so results can be reproduced."""
    engine = get_engine()
    options = {"lang": job.lang, "psm": job.psm, "dpi": job.dpi, "formats": job.format_list, **(job.options or {})}
    models = tesseract.model_info(job.lang)
    alternate = alternate_lang(job.lang, tesseract.installed_models()) if switches(options)["auto_model"] else None
    if alternate:
        models += [m for m in tesseract.model_info(alternate) if m not in models]
    return {
        "engine": engine.name,
        "tesseract_version": engine.version(),
        "models": models,
        "options": options,
    }


def prepare_job(job_id: str, redelivered: bool = False) -> list[int]:
    """Reuse an identical earlier job's results (workers/cache.py), or count the pages, create their rows
    and return the page numbers still to do.

    `redelivered`: the broker sent this message again because the worker running it died. A queued job's
    redeliveries are counted, and a document that keeps killing its worker while it is opened is given up
    after OCR_PAGE_MAX_ATTEMPTS of them, as a page would be."""
    settings = get_worker_settings()
    job = read_job(job_id)
    if job is None or job.status in JobStatus.FINISHED:
        return []
    if redelivered and job.status == JobStatus.QUEUED:
        with session_scope() as session:
            attempts = repo.note_prepare_redelivery(session, job_id)
        if attempts >= settings.page_max_attempts:
            raise InputError(
                "open_failed", f"gave up opening the document after {attempts} attempts (the worker was lost each time)"
            )
    if job.status == JobStatus.RUNNING:  # redelivered, or sent again by the recovery sweep: resend what is not done
        with session_scope() as session:
            pending = repo.pending_pages(session, job_id)
        if not pending:  # every page done, but the job was never finalized (that step was lost)
            finalize_job(job_id)
        return pending
    info = engine_info(job)
    key = cache.cache_key(job.input_sha256, info)
    if settings.result_cache:
        with session_scope() as session:
            source = cache.find_cached_job(session, key, job_id)
        if source is not None and cache.complete_from_cache(get_storage(), job, source, key):
            return []
    with get_storage().local_path(job.input_key) as path:
        faults.before_count(job.filename)
        total = pages.count_pages(path, job.media_type, settings.max_pixels_per_page)
    if total > settings.max_pages:
        raise InputError("too_many_pages", f"the document has {total} pages; OCR_MAX_PAGES={settings.max_pages}")
    if total == 0:
        raise InputError("no_pages", "the document has no pages")
    with session_scope() as session:
        started = repo.start_job(session, job_id, total, info, key)
        # None: another delivery of this message started the job; what it has not finished is still to do.
        return repo.pending_pages(session, job_id) if started is None else started


@dataclass(frozen=True)
class PageDone:
    last: bool  # this call completed the job's last page: the job is ready to finalize
    output: formats.PageOutput | None = None  # the page's outputs when this call recognized it
    job: JobRecord | None = None  # the job as this call read it


def process_page(job_id: str, page_no: int, task_id: str | None = None) -> PageDone:
    """Recognize one page and store its outputs; `task_id`, the task doing it, is what a cancel kills."""
    settings = get_worker_settings()
    storage = get_storage()
    job = read_job(job_id)
    if job is None or job.status != JobStatus.RUNNING:
        return PageDone(last=False)
    with session_scope() as session:
        claim = repo.claim_page(session, job_id, page_no, task_id)
        if claim is None:
            # Redelivered after the page was stored: finalize again in case that message was lost.
            return PageDone(last=not repo.pending_pages(session, job_id))
        if claim.attempts > settings.page_max_attempts:
            # Each delivery counts; a page that keeps killing its worker must not loop forever.
            last = f"; last error: {claim.last_error}" if claim.last_error else " (the worker was lost each time)"
            raise InputError("page_failed", f"gave up after {claim.attempts - 1} attempts{last}")
    options = PageOptions(lang=job.lang, psm=job.psm, dpi=job.dpi, extra=dict(job.options or {}))
    try:
        faults.before_recognize(job.filename)
        with storage.local_path(job.input_key) as path:
            output, page_pdf = _recognize(path, job.media_type, page_no, options, with_pdf="pdf" in job.format_list)
    except Exception as exc:
        # Kept on the page row: if the page is finally given up, the job's error says why.
        note_page_error(job_id, page_no, f"{type(exc).__name__}: {exc}")
        raise
    written = [page_key(job_id, page_no)] + ([page_pdf_key(job_id, page_no)] if page_pdf is not None else [])
    if page_pdf is not None:
        storage.put_bytes(page_pdf_key(job_id, page_no), page_pdf, formats.MEDIA_TYPES["pdf"])
    storage.put_bytes(page_key(job_id, page_no), output.to_json().encode(), "application/json")
    with session_scope() as session:
        outcome = repo.finish_page(session, job_id, page_no, {"confidence": round(output.confidence, 2), **output.info})
    if not outcome.live:
        # Cancelled or deleted while this page ran: what it wrote must not outlive the job's own clean-up.
        discard(job_id, written)
        return PageDone(last=False)
    return PageDone(last=outcome.newly_done and outcome.all_done, output=output, job=job)


def _recognize(
    path: Path, media_type: str, page_no: int, options: PageOptions, *, with_pdf: bool
) -> tuple[formats.PageOutput, bytes | None]:
    """One page's outputs from one recognition pass, and its searchable one-page PDF when wanted.

    With the job option skip_text, a PDF page that already has text keeps it (and its original page).
    """
    settings = get_worker_settings()
    dpi = options.dpi or settings.default_dpi
    if media_type == pages.PDF and options.extra.get("skip_text"):
        layer = pages.read_text_layer(path, page_no, dpi)
        if layer is not None:
            output = formats.page_output_from_text_layer(
                page_no, layer.width, layer.height, layer.dpi, layer.text, layer.lines
            )
            return output, pdfout.copy_pdf_page(path, page_no) if with_pdf else None
    page_image = pages.load_page(
        path,
        media_type,
        page_no,
        dpi=options.dpi,
        render_dpi=settings.default_dpi,
        max_pixels=settings.max_pixels_per_page,
    )
    output, engine_image = read_page(get_engine(), page_no, page_image, options)
    page_pdf = pdfout.page_pdf(engine_image, output, default_dpi=settings.default_dpi) if with_pdf else None
    return output, page_pdf


def load_page_outputs(
    job_id: str, page_numbers: list[int], known: dict[int, formats.PageOutput] | None = None
) -> list[formats.PageOutput]:
    """The stored outputs of these pages; those in `known` (just recognized here) are not read back."""
    storage = get_storage()
    known = known or {}
    return [
        known[n] if n in known else formats.PageOutput.from_json(storage.read_bytes(page_key(job_id, n)))
        for n in page_numbers
    ]


def finalize_job(job_id: str, done: PageDone | None = None) -> None:
    """Assemble every requested format from the page outputs, then mark the job succeeded.

    `done`: what process_page returned when that call completed the job's last page; its page's output is
    used instead of being read back, and for a one-page job nothing needs reading at all."""
    storage = get_storage()
    job = done.job if done is not None and done.job is not None else read_job(job_id)
    if job is None or job.status != JobStatus.RUNNING:
        return
    known = {done.output.page: done.output} if done is not None and done.output is not None else {}
    if job.pages_total is not None and sorted(known) == list(range(1, job.pages_total + 1)):
        page_numbers = sorted(known)
    else:
        with session_scope() as session:
            states = repo.page_states(session, job_id)
        if any(status != PageStatus.SUCCEEDED for status in states.values()):
            return
        page_numbers = sorted(states)
    wanted = set(job.format_list) | {"txt"}
    info = dict(job.engine_info or {})
    meta = {"job_id": job.id, "filename": job.filename, "engine": info}
    try:
        outputs = load_page_outputs(job_id, page_numbers, known)
    except ObjectNotFound as exc:
        raise InputError("missing_page_output", f"a page's output is missing: {exc}") from exc
    version = str(info.get("tesseract_version", ""))
    builders = {
        "txt": lambda: formats.build_text(outputs),
        "hocr": lambda: formats.build_hocr(outputs, version),
        "alto": lambda: formats.build_alto(outputs, meta),
        "tsv": lambda: formats.build_tsv(outputs),
        "json": lambda: formats.build_json(outputs, meta),
    }
    for fmt in sorted(wanted):
        if fmt == "pdf":
            _write_pdf(job_id, page_numbers, title=job.filename, creator=f"tesseract {version}")
            continue
        storage.put_bytes(result_key(job_id, fmt), builders[fmt]().encode("utf-8"), formats.MEDIA_TYPES[fmt])
    with session_scope() as session:
        succeeded = repo.succeed_job(session, job_id)
    if not succeeded:
        discard(job_id, [result_key(job_id, fmt) for fmt in sorted(wanted)])
    else:
        job_ended(job)


def discard(job_id: str, keys: list[str]) -> None:
    """Remove what a step wrote for a job that was cancelled, failed or deleted while it ran (all of the job's
    files when the job is gone); nothing when another delivery of the step has completed the job."""
    storage = get_storage()
    job = read_job(job_id)
    if job is None:
        storage.delete_prefix(job_prefix(job_id))
    elif job.status != JobStatus.SUCCEEDED:
        for key in keys:
            storage.delete(key)


def _write_pdf(job_id: str, page_numbers: list[int], *, title: str | None, creator: str) -> None:
    """Merge the one-page PDFs the page tasks stored into result.pdf, spooled through a temporary file."""
    storage = get_storage()
    page_pdfs = (storage.read_bytes(page_pdf_key(job_id, n)) for n in page_numbers)
    with tempfile.TemporaryFile() as spool:
        try:
            pdfout.merge_pdf_pages(page_pdfs, spool, title=title, creator=creator)
        except ObjectNotFound as exc:
            raise InputError("missing_page_output", f"a page's PDF is missing: {exc}") from exc
        spool.seek(0)
        storage.save_stream(result_key(job_id, "pdf"), spool, formats.MEDIA_TYPES["pdf"])


def note_page_error(job_id: str, page_no: int, message: str) -> None:
    with session_scope() as session:
        repo.note_page_error(session, job_id, page_no, message)


def fail_job(job_id: str, code: str, message: str, page_no: int | None = None) -> None:
    with session_scope() as session:
        failed = repo.fail_job(session, job_id, code, message, page_no)
    if failed:
        job_ended(job_id)
