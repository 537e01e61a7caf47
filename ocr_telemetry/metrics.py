"""Prometheus metrics across processes (prometheus-client's multiprocess mode).

The Celery prefork pool and `api --workers N` run several processes; each writes its counters and histograms
to memory-mapped files in one shared directory (OCR_METRICS_DIR, default <data_dir>/metrics), and whoever
is scraped (GET /metrics on the API, the worker pool parent's OCR_WORKER_METRICS_PORT) adds up the files.
On one machine (`serve`, or API and workers sharing the data dir) the API's /metrics therefore has the
workers' metrics too; on several machines Prometheus scrapes each worker's port as well.

`use_shared_dir` must run before the first labelled metric is used in a process (every metric here has
labels, so their values are made on first use); forked children inherit it.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from prometheus_client import CollectorRegistry, values
from prometheus_client.multiprocess import MultiProcessCollector

ENV = "PROMETHEUS_MULTIPROC_DIR"


def use_shared_dir(path: Path) -> None:
    path.mkdir(parents=True, exist_ok=True)
    if os.environ.get(ENV) == str(path):
        return
    os.environ[ENV] = str(path)
    values.ValueClass = values.MultiProcessValue()


def clear_shared_dir(path: Path) -> None:
    """Start from zero; only for the one process that owns every writer (`serve`, before it starts any)."""
    if path.exists():
        shutil.rmtree(path)
    path.mkdir(parents=True, exist_ok=True)


def shared_dir() -> str | None:
    return os.environ.get(ENV)


def collecting_registry() -> CollectorRegistry:
    """A registry that reads every process's files; without a shared dir, this process's own metrics."""
    if shared_dir() is None:
        from prometheus_client import REGISTRY

        return REGISTRY
    registry = CollectorRegistry()
    MultiProcessCollector(registry)
    return registry
