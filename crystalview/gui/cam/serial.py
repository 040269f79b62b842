"""Run one job at a time on the window's worker pool, keeping only the latest request waiting.

A heat-map dock owns one copy of its model; Grad-CAM and the feature browser hook into the
network's layers while they run, so two jobs must never use that copy at once. `SerialJobs`
submits a job only when the previous one has finished. A new request cancels the running job
(its result is stale: the user moved on) and replaces any request still waiting, so clicking
through twenty images computes at most two maps, not twenty.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from PySide6.QtCore import QObject, Signal

from crystalview.gui.workers import JobFactory, Worker, WorkerPool


@dataclass
class _Request:
    factory: JobFactory
    title: str
    on_result: Callable[[object], None]
    on_error: Callable[[Exception, str], None] | None
    preempt: bool


class SerialJobs(QObject):
    """A queue of length one in front of a `WorkerPool`.

    Signals
    -------
    busy_changed(bool)
        True when a job starts with none running, False when the last one finished.
    progress(object)
        The running job's `Progress` events.
    """

    busy_changed = Signal(bool)
    progress = Signal(object)

    def __init__(self, pool: WorkerPool, parent: QObject | None = None):
        super().__init__(parent)
        self.pool = pool
        self.worker: Worker | None = None
        self._pending: _Request | None = None

    @property
    def busy(self) -> bool:
        return self.worker is not None or self._pending is not None

    def submit(
        self,
        factory: JobFactory,
        title: str,
        on_result: Callable[[object], None],
        on_error: Callable[[Exception, str], None] | None = None,
        preempt: bool = True,
    ) -> None:
        """Run ``factory`` once nothing else runs; ``preempt`` cancels the running job first.

        ``on_error`` handles failures itself; without it the window's error dialog shows them.
        """
        was_busy = self.busy
        self._pending = _Request(factory, title, on_result, on_error, preempt)
        if self.worker is not None:
            if preempt:
                self.worker.cancel()
            return
        self._start_pending()
        if not was_busy:
            self.busy_changed.emit(True)

    def cancel(self) -> None:
        """Drop the waiting request and stop the running job."""
        self._pending = None
        if self.worker is not None:
            self.worker.cancel()

    def _start_pending(self) -> None:
        request, self._pending = self._pending, None
        if request is None:
            return
        worker = self.pool.submit(
            request.factory, request.title, report_errors=request.on_error is None
        )
        self.worker = worker
        worker.progress.connect(self.progress)
        worker.result.connect(request.on_result)
        if request.on_error is not None:
            worker.error.connect(request.on_error)
        worker.finished.connect(lambda w=worker: self._on_finished(w))

    def _on_finished(self, worker: Worker) -> None:
        if worker is not self.worker:
            return
        self.worker = None
        if self._pending is not None:
            self._start_pending()
        else:
            self.busy_changed.emit(False)
