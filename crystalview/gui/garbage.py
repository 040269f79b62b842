"""Cyclic garbage collection only on the GUI thread, and only while no job runs.

Python's automatic collector runs in whichever thread happens to allocate. A collection that
frees Qt wrappers (or blocks in their C++ destructors) while a worker thread is in the middle of
a job can deadlock the process: seen here as the GUI thread stuck "Garbage-collecting" inside a
pyqtgraph paint while a worker waited to build a model. pyqtgraph recommends the same remedy
(its ``GarbageCollector`` utility): turn automatic collection off and collect on a timer from the
GUI thread. We also skip the collection while any job is running, so the collector never runs
concurrently with a worker; reference counting still frees almost everything at once.
"""

from __future__ import annotations

import gc

from PySide6.QtCore import QObject, QTimer

from crystalview.gui.workers import running_jobs


class GuiThreadGarbageCollector(QObject):
    """Disables automatic collection; collects from a GUI-thread timer when no job runs."""

    def __init__(self, parent: QObject | None = None, interval_ms: int = 1000):
        super().__init__(parent)
        self._was_enabled = gc.isenabled()
        gc.disable()
        self._timer = QTimer(self)
        self._timer.timeout.connect(self.collect_if_idle)
        self._timer.start(interval_ms)

    def collect_if_idle(self) -> int | None:
        """Collect the generations whose thresholds were passed, as the automatic one would.

        Returns the generation collected, or None when nothing was due or a job is running.
        """
        if running_jobs():
            return None
        counts, thresholds = gc.get_count(), gc.get_threshold()
        generation = None
        for level in range(3):
            if counts[level] > thresholds[level]:
                generation = level
        if generation is not None:
            gc.collect(generation)
        return generation

    def stop(self) -> None:
        """Give collection back to Python (called when the window closes)."""
        self._timer.stop()
        if self._was_enabled:
            gc.enable()
