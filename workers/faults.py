"""Test-only fault injection: inputs whose file name carries a marker make the worker misbehave on purpose.

Active only when the worker's environment has OCR_TEST_FAULTS=1 (the reliability tests and bench/chaos.py set
it); otherwise `before_count` and `before_recognize` return at once and no file name means anything. Markers:

  __crash__  the pool process SIGKILLs itself, as a segfaulting engine would (a poison input)
  __crash_open__  the same while the document is opened to count its pages (a poison document)
  __hang__   the page never finishes (sleeps past any time limit)
  __slow__   the page takes OCR_TEST_SLOW_S seconds (default 60) before recognition
  __lose_webhook__  the job's webhook message is never queued when it ends (as if the broker lost it)
"""

from __future__ import annotations

import os
import signal
import time


def enabled() -> bool:
    return os.environ.get("OCR_TEST_FAULTS") == "1"


def before_count(filename: str | None) -> None:
    if filename and enabled() and "__crash_open__" in filename:
        os.kill(os.getpid(), signal.SIGKILL)


def before_recognize(filename: str | None) -> None:
    if not filename or not enabled():
        return
    if "__crash__" in filename:
        os.kill(os.getpid(), signal.SIGKILL)
    if "__hang__" in filename:
        time.sleep(24 * 3600)
    if "__slow__" in filename:
        time.sleep(float(os.environ.get("OCR_TEST_SLOW_S", "60")))


def lose_webhook(filename: str | None) -> bool:
    return bool(filename) and enabled() and "__lose_webhook__" in (filename or "")
