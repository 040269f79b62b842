"""A terminal progress bar on stderr for the core's progress generators.

stdout stays clean for ``--json`` and CSV output; the bar redraws in place only when stderr is a
terminal, and prints occasional plain lines otherwise (CI logs, pipes).
"""

from __future__ import annotations

import sys
import time
from typing import TextIO

from crystalview.core.progress import Progress


class TerminalProgress:
    """Callable that renders `Progress` events on a text stream (stderr by default)."""

    def __init__(self, label: str = "", stream: TextIO | None = None, min_interval_s: float = 0.1):
        self.label = label
        self.stream = stream if stream is not None else sys.stderr
        self.min_interval_s = min_interval_s
        self._last_draw = 0.0
        self._interactive = bool(getattr(self.stream, "isatty", lambda: False)())
        self._drew = False

    def __call__(self, event: Progress) -> None:
        now = time.monotonic()
        finished = event.total > 0 and event.done >= event.total
        interval = self.min_interval_s if self._interactive else 5.0
        if not finished and now - self._last_draw < interval:
            return
        self._last_draw = now
        if event.total > 0:
            width = 30
            filled = int(width * event.fraction)
            bar = "#" * filled + "-" * (width - filled)
            text = f"{self.label} [{bar}] {event.done}/{event.total} {event.message}"
        else:
            text = f"{self.label} {event.done} {event.message}"
        if self._interactive:
            self.stream.write("\r" + text[:160].ljust(160))
        else:
            self.stream.write(text + "\n")
        self.stream.flush()
        self._drew = True

    def close(self) -> None:
        """End the line the bar was drawn on."""
        if self._drew and self._interactive:
            self.stream.write("\n")
            self.stream.flush()
