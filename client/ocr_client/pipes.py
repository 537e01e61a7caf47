"""A reader of standard output that goes away (`... | head`): no error of ours, so no traceback.

Both command lines use it: `ocr-client` and the server's `ocr-service`."""

from __future__ import annotations

import os
import sys

EXIT_BROKEN_PIPE = 141  # as a shell reports a program that SIGPIPE ended: its reader (`| head`) went away


def stdout_gone() -> int:
    """Standard output's reader went away: what is left unwritten goes nowhere, so the interpreter's last flush
    does not fail again. Returns the exit status to end with."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)
    return EXIT_BROKEN_PIPE
