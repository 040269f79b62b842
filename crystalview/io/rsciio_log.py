"""rosettasciio's logging, kept off stdout (one place for every reader that uses it)."""

from __future__ import annotations


def quiet_rosettasciio() -> None:
    """Send rosettasciio's log to stderr and drop its "numba is not installed" warning.

    rosettasciio logs through its own handler on *stdout*, which would corrupt ``--json`` and
    CSV output; and it warns on import of several readers that numba is missing, which only
    slows its spectrum-image decoders, never the images we read.
    """
    import logging
    import sys

    import rsciio  # noqa: F401  (creates the "rsciio" logger and its handler)

    for handler in logging.getLogger("rsciio").handlers:
        if isinstance(handler, logging.StreamHandler) and handler.stream is sys.stdout:
            handler.setStream(sys.stderr)
    logging.getLogger("rsciio.utils._decorator").setLevel(logging.ERROR)
