"""Group commit of accepted uploads: the jobs of uploads that are ready together are recorded in one database
transaction and enqueued in one publish batch (one Redis pipeline), by one thread of the API process.

Each upload's thread stores its file first (fsynced), then hands its job here and waits: `record_and_enqueue`
returns only once the job's row is committed and its message published, and raises otherwise, so the `202`
still means what it meant, while the fixed costs of a transaction and a broker round trip are shared. Nothing
waits for company: the committer takes whatever has arrived while it was busy with the previous group, so a
lone upload goes through at once.
"""

from __future__ import annotations

import contextvars
import logging
import os
import queue as queues
import threading
import time
from dataclasses import dataclass, field

from ocr_telemetry import timing
from storage.records import jobs as repo
from storage.records.db import session_scope
from storage.records.models import Job
from workers import queue

log = logging.getLogger(__name__)
MAX_GROUP = 64  # jobs per transaction and publish batch


@dataclass
class _Pending:
    job: Job
    context: contextvars.Context  # the upload's request and job ids, for the message headers
    done: threading.Event = field(default_factory=threading.Event)
    error: BaseException | None = None


class GroupCommit:
    def __init__(self, max_group: int = MAX_GROUP) -> None:
        self.max_group = max_group
        self._pending: queues.SimpleQueue[_Pending] = queues.SimpleQueue()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def record_and_enqueue(self, job: Job) -> None:
        """Commit the job's row and publish its message, together with whatever else is ready; blocks until
        both are done. Raises what stopped them (the job's row is then gone again)."""
        pending = _Pending(job, contextvars.copy_context())
        self._ensure_thread()
        self._pending.put(pending)
        pending.done.wait()
        if pending.error is not None:
            raise pending.error

    def _ensure_thread(self) -> None:
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="group-commit", daemon=True)
                self._thread.start()

    def _run(self) -> None:
        while True:
            group = [self._pending.get()]
            while len(group) < self.max_group:
                try:
                    group.append(self._pending.get_nowait())
                except queues.Empty:
                    break
            try:
                commit_group(group)
            except BaseException as exc:
                if len(group) == 1:
                    group[0].error = exc
                else:  # one job's fault must not fail the others: each on its own, with its own outcome
                    log.warning("group commit of %d jobs failed (%s); committing them one by one", len(group), exc)
                    for pending in group:
                        try:
                            commit_group([pending])
                        except BaseException as one_exc:
                            pending.error = one_exc
            finally:
                for pending in group:
                    pending.done.set()


def commit_group(group: list[_Pending]) -> None:
    """One transaction with every job's row and first event, then one publish batch; rows whose messages
    could not be published are deleted again (no row without a message)."""
    started = time.perf_counter()
    with session_scope() as session:
        repo.add_jobs(session, [pending.job for pending in group])
    recorded = time.perf_counter()
    try:
        queue.enqueue_jobs([(p.job.id, p.context) for p in group])
    except BaseException:
        with session_scope() as session:
            for pending in group:
                repo.delete_job(session, pending.job.id)
        raise
    finally:
        # Each upload waited for the whole group: that is its share in its Server-Timing.
        for pending in group:
            timings = pending.context.get(timing.current)
            if timings is not None:
                timings.add("db", recorded - started)
                timings.add("broker", time.perf_counter() - recorded)


_committer: tuple[int, GroupCommit] | None = None
_committer_lock = threading.Lock()


def get_group_commit() -> GroupCommit:
    """This process's committer (a process started by fork gets its own)."""
    global _committer
    with _committer_lock:
        if _committer is None or _committer[0] != os.getpid():
            _committer = (os.getpid(), GroupCommit())
        return _committer[1]
