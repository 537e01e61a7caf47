"""What the API uses to enqueue work: task names only, so the API never imports the OCR pipeline."""

from __future__ import annotations

import contextvars
import logging
import signal
from collections.abc import Sequence
from typing import Any

from kombu.exceptions import ChannelError, OperationalError

from workers.celery_app import app

log = logging.getLogger(__name__)
PREPARE_JOB = "ocr.prepare_job"


class QueueUnavailable(Exception):
    """The broker did not accept the message."""


def enqueue_job(job_id: str) -> None:
    try:
        app.send_task(PREPARE_JOB, args=[job_id], retry=True, retry_policy={"max_retries": 2, "interval_start": 0.2})
    except (OperationalError, OSError) as exc:
        raise QueueUnavailable(f"the job queue ({broker_label()}) is not reachable: {exc}") from exc


def enqueue_jobs(jobs: Sequence[tuple[str, contextvars.Context]]) -> None:
    """Publish several jobs' messages, each with the context (request and job ids) of its upload: on Redis in
    one pipeline (kombu's `Producer.batch`), one round trip for all; elsewhere one after the other. Where the
    batch fails (a broker restarted under the pooled connection), each is sent again on its own with
    enqueue_job's retries: a message sent twice is harmless, the task finds its job started or done."""
    if len(jobs) == 1:
        job_id, context = jobs[0]
        context.run(enqueue_job, job_id)
        return
    try:
        with app.producer_or_acquire() as producer, producer.batch(max_size=len(jobs)):
            for job_id, context in jobs:
                context.run(app.send_task, PREPARE_JOB, args=[job_id], producer=producer)
    except Exception as exc:
        log.warning("publishing %d jobs at once failed (%s); sending them one by one", len(jobs), exc)
        for job_id, context in jobs:
            context.run(enqueue_job, job_id)


def queue_depth(timeout: float = 2.0) -> int:
    """Messages waiting in the job queue (not those a worker holds)."""
    from workers.settings import get_worker_settings

    try:
        with app.connection_for_read() as conn:
            conn.ensure_connection(max_retries=1, timeout=timeout)
            channel = conn.channel()
            try:
                return int(channel.queue_declare(get_worker_settings().queue_name, passive=True).message_count)
            except ChannelError:  # no such queue yet: nothing waiting
                return 0
            finally:
                channel.close()
    except (OperationalError, OSError) as exc:
        raise QueueUnavailable(f"the job queue ({broker_label()}) is not reachable: {exc}") from exc


def broker_label() -> str:
    url = str(app.conf.broker_url or "")
    return url.split("://", 1)[0] or "broker"


def check_broker(timeout: float = 2.0) -> None:
    try:
        with app.connection_for_write() as conn:
            conn.ensure_connection(max_retries=1, timeout=timeout)
    except Exception as exc:
        raise QueueUnavailable(f"{broker_label()} broker not reachable: {exc}") from exc


class NoWorkers(Exception):
    """No worker consumes the job queue: uploads would be accepted and wait."""


# On Redis, workers announce themselves: every HEARTBEAT_S each worker's main process puts its node name in a
# sorted set per queue, scored with Redis's own clock (so API and worker clocks never meet), and a worker
# counts as consuming while its last beat is under HEARTBEAT_TTL_S old. On RabbitMQ the broker counts the
# queue's consumers itself.
HEARTBEAT_S = 2.0
HEARTBEAT_TTL_S = 10
_BEAT = """
local now = tonumber(redis.call('TIME')[1])
redis.call('ZADD', KEYS[1], now, ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - tonumber(ARGV[2]))
redis.call('EXPIRE', KEYS[1], ARGV[2])
return 1
"""
_LIVE = """
local now = tonumber(redis.call('TIME')[1])
return redis.call('ZCOUNT', KEYS[1], now - tonumber(ARGV[1]), '+inf')
"""


def heartbeat_key(queue_name: str) -> str:
    return f"ocr:workers:{queue_name}"


def send_heartbeat(client: Any, queue_name: str, node: str) -> None:
    """One beat of a worker consuming `queue_name` (a Redis client of the broker)."""
    client.eval(_BEAT, 1, heartbeat_key(queue_name), node, HEARTBEAT_TTL_S)


def end_heartbeat(client: Any, queue_name: str, node: str) -> None:
    client.zrem(heartbeat_key(queue_name), node)


def count_consumers(timeout: float = 2.0) -> int:
    """Workers consuming the job queue now: on Redis those whose heartbeat is fresh, on RabbitMQ the queue's
    consumer count (a passive declare). One round trip on a connection opened for it."""
    from workers.settings import get_worker_settings

    name = get_worker_settings().queue_name
    with app.connection_for_read() as conn:
        conn.ensure_connection(max_retries=1, timeout=timeout)
        channel = conn.default_channel
        if conn.transport.driver_type == "redis":
            return int(channel.client.eval(_LIVE, 1, heartbeat_key(name), HEARTBEAT_TTL_S))
        try:
            return int(channel.queue_declare(queue=name, passive=True).consumer_count)
        except Exception as exc:
            if getattr(exc, "reply_code", None) == 404:  # not declared yet: no worker has ever consumed it
                return 0
            raise


def check_workers(timeout: float = 2.0) -> None:
    """Raises NoWorkers when no worker consumes the job queue, QueueUnavailable when the broker cannot say."""
    try:
        consumers = count_consumers(timeout)
    except (OperationalError, OSError) as exc:
        raise QueueUnavailable(f"{broker_label()} broker not reachable: {exc}") from exc
    if consumers == 0:
        raise NoWorkers("no worker consumes the job queue: uploads would wait until one starts")


def queue_depths(timeout: float = 2.0) -> dict[str, int]:
    """Messages waiting per queue: on Redis the lengths of the queue's lists (no list: none waiting), on
    RabbitMQ the count a passive declare answers."""
    name = str(app.conf.task_default_queue)
    with app.connection_for_read() as conn:
        conn.ensure_connection(max_retries=1, timeout=timeout)
        channel = conn.default_channel
        if conn.transport.driver_type == "redis":
            return {name: int(channel._size(name))}  # kombu's own count: every priority's list
        try:
            return {name: int(channel.queue_declare(queue=name, passive=True).message_count)}
        except Exception as exc:
            if getattr(exc, "reply_code", None) == 404:  # not declared yet: no worker has started, none waiting
                return {name: 0}
            raise


def stop_tasks(task_ids: list[str]) -> None:
    """Kill whatever worker process is running these tasks (a cancelled job's pages), and drop them if they have
    not started. SIGKILL: Tesseract inside the engine binding does not return to Python for a gentler signal.
    The pool replaces the process; the message is acknowledged, not redelivered. Best effort: a page that
    escapes it finds its job cancelled and writes nothing."""
    if not task_ids:
        return
    try:
        app.control.revoke(task_ids, terminate=True, signal=signal.SIGKILL.name)
    except (OperationalError, OSError) as exc:
        log.warning("could not revoke tasks %s: %s", task_ids, exc)
