"""Children that die with their parent: Linux's parent-death signal, set from the child itself.

`serve` starts redis-server and the Celery worker with `die_with_parent(SIGTERM)` as their preexec_fn, and
every Celery pool process asks for SIGKILL when its pool parent goes (workers/celery_app.py), so a SIGKILLed
`serve` or worker leaves nothing running. Elsewhere than Linux this is a no-op.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import signal
from collections.abc import Callable

PR_SET_PDEATHSIG = 1


def set_parent_death_signal(signum: int) -> bool:
    """Ask the kernel to send `signum` to this process when the thread that started it exits."""
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        return libc.prctl(PR_SET_PDEATHSIG, signum, 0, 0, 0) == 0
    except (OSError, AttributeError):
        return False


def die_with_parent(signum: int = signal.SIGTERM) -> Callable[[], None]:
    """A preexec_fn for subprocess.Popen: the child gets `signum` when this process dies."""
    parent = os.getpid()

    def preexec() -> None:
        set_parent_death_signal(signum)
        if os.getppid() != parent:  # the parent died before the request took effect
            os.kill(os.getpid(), signum)

    return preexec
