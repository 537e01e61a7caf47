"""The job steps: prepare (count pages), recognize one page, finalize (assemble the result files).

Each step reloads the job from the database, does nothing when its work is already done, and writes
results under server-generated keys, so a step that runs twice does no harm. The steps call the OCR pipeline
(workers/ocr/, which knows no database, storage or queue) with complete options: a job's missing switches are
filled here from the upload options' defaults (`JobOptions.switch_defaults()`).

The one-page fast path (most jobs are one image): `prepare` starts such a job with its page already claimed by
the prepare task (`claim_for`), tasks.prepare_job then runs the page inline instead of sending a message, and
`process_page` writes the job's results from the page's output in memory and marks the page done and the job
succeeded in one transaction, keeping no page JSON (`_finish_one_page_job`); the text stream reads such a
page from result.txt (ocr_api/progress.py).
"""

from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from storage import ObjectNotFound, get_storage
from storage.objects.keys import job_prefix, page_key
from storage.records import jobs as repo
from storage.records.db import session_scope
from storage.records.job_reads import JobRecord, read_job
from storage.records.models import JobStatus, PageStatus
from workers import cache, faults, selection, timings
from workers.job_end import job_ended
from workers.job_options import job_switches, text_pages_mode
from workers.ocr import pages, tesseract, textlayer
from workers.ocr.engines import get_engine
from workers.ocr.errors import InputError
from workers.ocr.outputs.page import PageOutput
from workers.ocr.page_options import alternate_lang
from workers.ocr.preprocess import PageOptions, Switches, read_page
from workers.results import write_results
from workers.settings import get_worker_settings

log = logging.getLogger(__name__)


def page_options(job: JobRecord) -> PageOptions:
    """The pipeline's options for a page of this job, complete."""
    return PageOptions(switches=Switches.of(job_switches(job.options)), lang=job.lang, psm=job.psm, dpi=job.dpi)


def engine_info(job: JobRecord) -> dict[str, Any]:
    """The engine, its version and every model a page of this job may be read with (the job's languages,
    and the alternate models auto_model may choose), each with its sha256, so results can be reproduced."""
    engine = get_engine()
    options = {"lang": job.lang, "psm": job.psm, "dpi": job.dpi, "formats": job.format_list, **(job.options or {})}
    models = tesseract.model_info(job.lang)
    auto_model = job_switches(job.options)["auto_model"]
    alternate = alternate_lang(job.lang, tesseract.installed_models()) if auto_model else None
    if alternate:
        models += [m for m in tesseract.model_info(alternate) if m not in models]
    return {
        "engine": engine.name,
        "tesseract_version": engine.version(),
        "models": models,
        "options": options,
    }


@dataclass(frozen=True)
class Prepared:
    pages: list[int]  # the page numbers still to do
    job: JobRecord | None = None  # the job as it stands after this step, when it has pages to do
    claim: repo.PageClaim | None = None  # set when the job's one page was claimed as the job started


def prepare(job_id: str, redelivered: bool = False, task_id: str | None = None) -> Prepared:
    """Reuse an identical earlier job's results (workers/cache.py), or count the pages, create their rows
    and return the page numbers still to do, with the job as it now stands.

    `redelivered`: the broker sent this message again because the worker running it died. A queued job's
    redeliveries are counted, and a document that keeps killing its worker while it is opened is given up
    after OCR_PAGE_MAX_ATTEMPTS of them, as a page would be.

    `task_id`: the task that will recognize the page itself when the job has only one. The job then starts
    with that page already claimed by it, in the one write transaction (a cancel kills that task from then on)."""
    with timings.step("prepare"):
        prepared = _prepare(job_id, redelivered, task_id)
    return prepared


def _prepare(job_id: str, redelivered: bool, task_id: str | None) -> Prepared:
    job = read_job(job_id)
    if job is None or job.status in JobStatus.FINISHED:
        return Prepared([])
    if redelivered and job.status == JobStatus.QUEUED:
        _count_redelivery(job_id)
    if job.status == JobStatus.RUNNING:  # redelivered, or sent again by the recovery sweep: resend what is not done
        return _resume(job)
    info = engine_info(job)
    key = cache.cache_key(job.input_sha256, info, cache.cache_tenant(job))
    if _completed_from_cache(job, key):
        return Prepared([])
    total = _count_pages(job)
    claim_for = task_id if total == 1 else None
    with timings.step("start"), session_scope() as session:
        started = repo.start_job(session, job_id, total, info, key, claim_for=claim_for)
        if started is None:
            # Another delivery of this message started the job; what it has not finished is still to do.
            return Prepared(repo.pending_pages(session, job_id))
    running = dataclasses.replace(job, status=JobStatus.RUNNING, pages_total=total, engine_info=info)
    claim = repo.PageClaim(attempts=1, last_error=None) if claim_for is not None and started == [1] else None
    return Prepared(started, running, claim)


def _count_redelivery(job_id: str) -> None:
    """Count a queued job's redelivery; give the document up after OCR_PAGE_MAX_ATTEMPTS of them."""
    with session_scope() as session:
        attempts = repo.note_prepare_redelivery(session, job_id)
    if attempts >= get_worker_settings().page_max_attempts:
        raise InputError(
            "open_failed", f"gave up opening the document after {attempts} attempts (the worker was lost each time)"
        )


def _resume(job: JobRecord) -> Prepared:
    """A running job's pages not done yet (finalized here when all are, that step having been lost)."""
    with session_scope() as session:
        pending = repo.pending_pages(session, job.id)
    if not pending:  # every page done, but the job was never finalized (that step was lost)
        finalize_job(job.id)
    return Prepared(pending, job)


def _completed_from_cache(job: JobRecord, key: str) -> bool:
    """Whether an identical earlier job's results were copied to this job (OCR_RESULT_CACHE)."""
    if not get_worker_settings().result_cache:
        return False
    with session_scope() as session:
        source = cache.find_cached_job(session, key, job)
    return source is not None and cache.complete_from_cache(get_storage(), job, source, key)


def _count_pages(job: JobRecord) -> int:
    """The document's page count, within OCR_MAX_PAGES."""
    settings = get_worker_settings()
    with get_storage().local_path(job.input_key) as path:
        faults.before_count(job.filename)
        document_pages = pages.count_pages(path, job.media_type, settings.max_pixels_per_page)
    total = selection.job_page_count(job.options, document_pages)
    if total > settings.max_pages:
        raise InputError("too_many_pages", f"the document has {total} pages; OCR_MAX_PAGES={settings.max_pages}")
    if total == 0:
        raise InputError("no_pages", "the document has no pages")
    return total


@dataclass(frozen=True)
class PageDone:
    last: bool  # this call completed the job's last page: the job is ready to finalize
    output: PageOutput | None = None  # the page's outputs when this call recognized it
    job: JobRecord | None = None  # the job as this call read it
    finalized: bool = False  # this call also wrote the results and marked the job succeeded (a one-page job)


def process_page(
    job_id: str,
    page_no: int,
    task_id: str | None = None,
    *,
    job: JobRecord | None = None,
    claim: repo.PageClaim | None = None,
) -> PageDone:
    """Recognize one page and store its outputs; `task_id`, the task doing it, is what a cancel kills.

    `job` and `claim`: what `prepare` returned when this page is done inline right after it (the job is not
    read again, and a page claimed as the job started is not claimed twice). A one-page job is finished in
    one write transaction: its results are written first, then the page is marked done and the job
    succeeded together (a delivery that dies before that commit leaves the page to be done again)."""
    job = job or read_job(job_id)
    if job is None or job.status != JobStatus.RUNNING:
        return PageDone(last=False)
    if claim is None:  # (a page claimed as its job started is on its first delivery)
        stored = _claim_page(job_id, page_no, task_id)
        if stored is not None:
            return stored
    output = _recognize_job_page(job, page_no)
    if job.pages_total == 1 and page_no == 1:
        return _finish_one_page_job(job, output)
    written = _store_page(job_id, page_no, output, keep_json=True)
    info = {"confidence": round(output.confidence, 2), **output.info}
    with timings.step("finish"), session_scope() as session:
        outcome = repo.finish_page(session, job_id, page_no, info)
    if not outcome.live:
        # Cancelled or deleted while this page ran: what it wrote must not outlive the job's own clean-up.
        discard(job_id, written)
        return PageDone(last=False)
    return PageDone(last=outcome.newly_done and outcome.all_done, output=output, job=job)


def _finish_one_page_job(job: JobRecord, output: PageOutput) -> PageDone:
    """The end of the one-page fast path: the job's results are written from the output in memory (no page
    JSON is kept; the text stream reads result.txt instead, ocr_api/progress.py), then the page is marked
    done and the job succeeded in one transaction."""
    written = _store_page(job.id, 1, output, keep_json=False)
    with timings.step("finalize"):
        written += write_results(job, [1], [output])
    info = {"confidence": round(output.confidence, 2), **output.info}
    with timings.step("finish"), session_scope() as session:
        outcome = repo.finish_page(session, job.id, 1, info)
        succeeded = outcome.live and outcome.all_done and repo.succeed_job(session, job.id)
    if not outcome.live:
        # Cancelled or deleted while this page ran: what it wrote must not outlive the job's own clean-up.
        discard(job.id, written)
        return PageDone(last=False)
    if succeeded:
        job_ended(job)
    # Not succeeded here: another delivery finished the job first (its results are the same pages').
    return PageDone(last=False, output=output, job=job, finalized=succeeded)


def _claim_page(job_id: str, page_no: int, task_id: str | None) -> PageDone | None:
    """Claim the page for this delivery: None when claimed, what to return when it is already stored."""
    with timings.step("claim"), session_scope() as session:
        claim = repo.claim_page(session, job_id, page_no, task_id)
        if claim is None:
            # Redelivered after the page was stored: finalize again in case that message was lost.
            return PageDone(last=not repo.pending_pages(session, job_id))
        if claim.attempts > get_worker_settings().page_max_attempts:
            # Each delivery counts; a page that keeps killing its worker must not loop forever. (Raised inside
            # the transaction: this last claim is rolled back, the page keeps the attempts it really had.)
            last = f"; last error: {claim.last_error}" if claim.last_error else " (the worker was lost each time)"
            raise InputError("page_failed", f"gave up after {claim.attempts - 1} attempts{last}")
    return None


def _recognize_job_page(job: JobRecord, page_no: int) -> PageOutput:
    """The page's outputs; an error is noted on the page's row."""
    options = page_options(job)
    switches = job_switches(job.options)
    try:
        faults.before_recognize(job.filename)
        with get_storage().local_path(job.input_key) as path:
            source = selection.document_page(job.options, page_no)
            return _recognize(path, job.media_type, (page_no, source), options, text_pages=text_pages_mode(switches))
    except Exception as exc:
        # Kept on the page row: if the page is finally given up, the job's error says why.
        note_page_error(job.id, page_no, f"{type(exc).__name__}: {exc}")
        raise


def _store_page(job_id: str, page_no: int, output: PageOutput, *, keep_json: bool) -> list[str]:
    """Store the page's outputs as JSON when `keep_json` (what finalize assembles every format from, the
    searchable PDF's text layer included); the keys written."""
    if not keep_json:
        return []
    with timings.step("store"):
        get_storage().put_bytes(page_key(job_id, page_no), output.to_json().encode(), "application/json")
    return [page_key(job_id, page_no)]


def _recognize(
    path: Path, media_type: str, pages_no: tuple[int, int], options: PageOptions, *, text_pages: str
) -> PageOutput:
    """One page's outputs from one recognition pass, its boxes on the page's own grid. `pages_no`: the job's page
    number and the document's (workers/selection.py).

    A PDF page that already has text keeps it with text_pages "skip" (its outputs are read from it); with
    "redo" it is read with its text hidden (only its images and drawings are OCR'd: its visible text is the
    page's own, its invisible text an earlier OCR layer that finalize replaces).
    """
    page_no, source = pages_no
    settings = get_worker_settings()
    dpi = options.dpi or settings.default_dpi
    if media_type == pages.PDF and text_pages == "skip":
        layer = textlayer.read_text_layer(path, source, dpi)
        if layer is not None:
            return textlayer.page_output(page_no, layer)
    with timings.step("load"):
        page_image = pages.load_page(
            path,
            media_type,
            source,
            dpi=options.dpi,
            render_dpi=settings.default_dpi,
            max_pixels=settings.max_pixels_per_page,
            hide_text=text_pages == "redo",
        )
    with timings.step("recognize"):
        reading = read_page(get_engine(), page_no, page_image, options)
    return reading.on_page(page_image)


def load_page_outputs(
    job_id: str, page_numbers: list[int], known: dict[int, PageOutput] | None = None
) -> list[PageOutput]:
    """The stored outputs of these pages; those in `known` (just recognized here) are not read back."""
    storage = get_storage()
    known = known or {}
    return [
        known[n] if n in known else PageOutput.from_json(storage.read_bytes(page_key(job_id, n))) for n in page_numbers
    ]


def finalize_job(job_id: str, done: PageDone | None = None) -> None:
    """Assemble every requested format from the page outputs, then mark the job succeeded.

    `done`: what process_page returned when that call completed the job's last page; its page's output is
    used instead of being read back, and for a one-page job nothing needs reading at all."""
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
    try:
        page_outputs = load_page_outputs(job_id, page_numbers, known)
    except ObjectNotFound as exc:
        raise InputError("missing_page_output", f"a page's output is missing: {exc}") from exc
    with timings.step("finalize"):
        written = write_results(job, page_numbers, page_outputs)
    with timings.step("finish"), session_scope() as session:
        succeeded = repo.succeed_job(session, job_id)
    if not succeeded:
        discard(job_id, written)
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


def note_page_error(job_id: str, page_no: int, message: str) -> None:
    with session_scope() as session:
        repo.note_page_error(session, job_id, page_no, message)


def fail_job(job_id: str, code: str, message: str, page_no: int | None = None) -> None:
    with session_scope() as session:
        failed = repo.fail_job(session, job_id, code, message, page_no)
    if failed:
        job_ended(job_id)
