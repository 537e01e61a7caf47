"""The Celery application. Importing it is cheap: no OCR engine, no image libraries."""

from __future__ import annotations

import signal
from typing import Any

from celery import Celery
from celery.signals import worker_process_init

from workers.lifeline import set_parent_death_signal
from workers.settings import get_worker_settings


def create_celery() -> Celery:
    settings = get_worker_settings()
    app = Celery("ocr", broker=settings.broker_url, include=["workers.tasks"])
    app.conf.update(
        task_serializer="json",
        accept_content=["json"],
        task_ignore_result=True,  # job state lives in the database, not in a result backend
        task_acks_late=True,  # a task is acknowledged after it ran: a killed worker's task is redelivered
        task_reject_on_worker_lost=True,
        # 1 by default: with late acks, a message reserved by a busy process waits for it even when another
        # process is free, which a long PDF page would make minutes (docs/performance.md measures more).
        worker_prefetch_multiplier=settings.prefetch_multiplier,
        task_default_queue=settings.queue_name,
        task_time_limit=settings.page_time_limit_s,
        task_soft_time_limit=max(settings.page_time_limit_s - 30, 10),
        worker_max_tasks_per_child=settings.max_tasks_per_child,
        worker_max_memory_per_child=settings.max_memory_per_child_mb * 1024,
        broker_connection_retry_on_startup=True,
        broker_transport_options={"visibility_timeout": 3600},
        worker_hijack_root_logger=False,
    )
    return app


app = create_celery()


@worker_process_init.connect
def _die_with_the_pool(**_: Any) -> None:
    # A pool process whose parent was SIGKILLed would otherwise run on, orphaned, holding its page.
    set_parent_death_signal(signal.SIGKILL)


from workers import signals  # noqa: E402, F401 - logging, ids and metrics hooks (connected on import)
