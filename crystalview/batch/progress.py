"""Progress of a batch run on stderr: files done, rate and time left, across all workers."""

from __future__ import annotations

import time
from collections.abc import Callable

from crystalview.core.progress import Progress


def duration_text(seconds: float) -> str:
    """``75`` → ``"1:15"``, ``3725`` → ``"1:02:05"``."""
    seconds = max(0, round(seconds))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def rate_text(done: int, total: int, elapsed_s: float) -> str:
    """``"12.5 files/s, 0:40 left"`` (or ``"starting"`` before the first file is done)."""
    if done <= 0 or elapsed_s <= 0:
        return "starting"
    rate = done / elapsed_s
    left = (total - done) / rate if rate > 0 else 0.0
    return f"{rate:.1f} files/s, {duration_text(left)} left"


class BatchProgress:
    """Counts finished files and reports `Progress` with the rate since the run started.

    ``report`` receives the events (the CLI's terminal bar on stderr, or a window's signal).
    """

    def __init__(self, total: int, report: Callable[[Progress], None] | None, skipped: int = 0):
        self.total = total
        self.done = 0
        self.skipped = skipped
        self._started = time.monotonic()
        self._report = report

    def advance(self, files: int) -> None:
        self.done += files
        if self._report is None:
            return
        elapsed = time.monotonic() - self._started
        message = rate_text(self.done, self.total, elapsed)
        if self.skipped:
            message += f" ({self.skipped} done before)"
        self._report(Progress(self.done, self.total, message))
