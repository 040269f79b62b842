"""Logging set-up: stderr for the terminal, a rotating file in the user's log folder.

Machine-readable output (``--json``, CSV) owns stdout, so every log line and every warning —
ours and our libraries' — goes to stderr or the log file, never stdout.
"""

from __future__ import annotations

import logging
import logging.handlers
import sys

from crystalview.paths import log_dir

_configured = False
LOG_FILE_NAME = "crystalview.log"


def setup_logging(verbose: bool = False) -> None:
    """Route logs and Python warnings to stderr and the log file; safe to call twice."""
    global _configured
    root = logging.getLogger()
    if _configured:
        if verbose:
            _stderr_handler().setLevel(logging.DEBUG)
        return
    root.setLevel(logging.DEBUG)
    stderr = logging.StreamHandler(sys.stderr)
    stderr.set_name("crystalview-stderr")
    stderr.setLevel(logging.DEBUG if verbose else logging.WARNING)
    stderr.setFormatter(logging.Formatter("%(levelname)s: %(message)s"))
    root.addHandler(stderr)
    try:
        folder = log_dir()
        folder.mkdir(parents=True, exist_ok=True)
        file_handler = logging.handlers.RotatingFileHandler(
            folder / LOG_FILE_NAME, maxBytes=2_000_000, backupCount=3, encoding="utf-8"
        )
        file_handler.setLevel(logging.INFO)
        file_handler.setFormatter(
            logging.Formatter("%(asctime)s %(levelname)s %(name)s [%(threadName)s] %(message)s")
        )
        root.addHandler(file_handler)
    except OSError as error:  # read-only home: keep going with stderr only
        logging.getLogger(__name__).warning("cannot write the log file: %s", error)
    # Python's default filters stay in force (ResourceWarning from lazily read TIFFs is noise to
    # a user); the warnings that are shown go through logging, so never to stdout.
    logging.captureWarnings(True)
    # Noisy libraries log at INFO about things a user cannot act on.
    for name in ("rsciio", "hyperspy", "PIL", "matplotlib", "h5py"):
        logging.getLogger(name).setLevel(logging.WARNING)
    _configured = True


def _stderr_handler() -> logging.Handler:
    for handler in logging.getLogger().handlers:
        if handler.get_name() == "crystalview-stderr":
            return handler
    return logging.NullHandler()


def log_file_path():
    """Where the log file is written, for the "copy diagnostics" action."""
    return log_dir() / LOG_FILE_NAME
