"""Unexpected exceptions in Qt slots reach the user as a message, never a dead window.

PySide6 hands an exception raised in a slot to ``sys.excepthook``; the default hook only prints
it. Ours logs it with its traceback and shows the window's non-blocking error box, so the user
learns that something failed and where the details are, and the app keeps running.
"""

from __future__ import annotations

import logging
import sys
import traceback
from types import TracebackType

log = logging.getLogger(__name__)


def install_exception_hook(window) -> None:
    """Route uncaught exceptions on the GUI thread to the log and ``window.show_job_error``."""
    previous = sys.excepthook

    def hook(kind: type[BaseException], error: BaseException, trace: TracebackType | None) -> None:
        if issubclass(kind, KeyboardInterrupt):
            previous(kind, error, trace)
            return
        details = "".join(traceback.format_exception(kind, error, trace))
        log.error("unexpected error in the window:\n%s", details)
        try:
            window.show_job_error("An action", error, details)
        except RuntimeError:  # the window is already gone (shutting down)
            previous(kind, error, trace)

    sys.excepthook = hook
