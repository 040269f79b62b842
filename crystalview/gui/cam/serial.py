"""Run one job at a time on the window's worker pool, keeping only the latest request waiting.

A heat-map dock owns one copy of its model; Grad-CAM and the feature browser hook into the
network's layers while they run, so two jobs must never use that copy at once. `SerialJobs`
submits a job only when the previous one has finished. A new request cancels the running job
(its result is stale: the user moved on) and replaces any request still waiting, so clicking
through twenty images computes at most two maps, not twenty.

Every way a job can end releases the queue: finished, failed, cancelled (by us, by the window's
Esc, by closing), superseded, or its worker object destroyed. Two rules keep a request from ever
being lost or stuck behind another:

- a background request (``preempt=False``: loading a model's class list) never displaces the
  user's waiting request; it waits behind it (one of each kind at most);
- a running job that was asked to stop and has not stopped within `STUCK_AFTER_S` is abandoned
  when the next request comes: its late outcome is ignored, `abandoned` tells the owner to use a
  fresh model copy, and the new request starts at once. A button never silently does nothing.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from PySide6.QtCore import QObject, Signal

from crystalview.gui.workers import JobFactory, Worker, WorkerPool

STUCK_AFTER_S = 3.0
"""A cancelled job polls its token at least once per batch (well under a second); one that has
not ended this long after being cancelled is treated as stuck."""


@dataclass
class _Request:
    factory: JobFactory
    title: str
    on_result: Callable[[object], None]
    on_error: Callable[[Exception, str], None] | None
    preempt: bool
    key: object = None


class SerialJobs(QObject):
    """A queue of length one (plus one background request) in front of a `WorkerPool`.

    Signals
    -------
    busy_changed(bool)
        True when a job starts with none running, False when the last one ended.
    progress(object)
        The running job's `Progress` events.
    ended(str)
        ``"result"``, ``"error"`` or ``"cancelled"``: a job ended and the queue has moved on (its
        own callbacks ran first; `busy` already tells whether another job started).
    abandoned()
        A stuck job was left behind; it may still hold the owner's model copy.
    """

    busy_changed = Signal(bool)
    progress = Signal(object)
    ended = Signal(str)
    abandoned = Signal()

    def __init__(self, pool: WorkerPool, parent: QObject | None = None):
        super().__init__(parent)
        self.pool = pool
        self.worker: Worker | None = None
        self._pending: list[_Request] = []
        self._cancelled_at: float | None = None
        self._outcome = "cancelled"  # until the running job reports how it ended

    @property
    def busy(self) -> bool:
        self._release_if_gone()
        return self.worker is not None or bool(self._pending)

    @property
    def pending_titles(self) -> list[str]:
        """Titles of the requests waiting, next first (for tests and tooltips)."""
        return [request.title for request in self._pending]

    def submit(
        self,
        factory: JobFactory,
        title: str,
        on_result: Callable[[object], None],
        on_error: Callable[[Exception, str], None] | None = None,
        preempt: bool = True,
        key: object = None,
    ) -> None:
        """Run ``factory`` once nothing else runs; ``preempt`` cancels the running job first.

        ``on_error`` handles failures itself; without it the window's error dialog shows them.
        ``key`` names a background request (default: its title) so that it is queued once and
        can be `discard`-ed when a later request does its work too.
        """
        was_busy = self.busy
        request = _Request(factory, title, on_result, on_error, preempt, key or title)
        if preempt:
            # the latest user request replaces a waiting one; a waiting background load stays
            self._pending = [request, *(r for r in self._pending if not r.preempt)]
        elif not any(not r.preempt and r.key == request.key for r in self._pending):
            self._pending.append(request)
        if self.worker is not None:
            if preempt:
                self._cancel_running()
            self._abandon_if_stuck()
        if self.worker is None:
            self._start_pending()
        if not was_busy and self.busy:
            self.busy_changed.emit(True)

    def cancel(self) -> None:
        """Drop the waiting requests and stop the running job."""
        self._pending = []
        if self.worker is not None:
            self._cancel_running()

    def discard(self, key: object) -> None:
        """Drop the waiting background request ``key`` (another request does its work)."""
        self._pending = [r for r in self._pending if r.preempt or r.key != key]

    # -- internals ---------------------------------------------------------------------------------

    def _cancel_running(self) -> None:
        if self._cancelled_at is None:
            self._cancelled_at = time.monotonic()
        self.worker.cancel()

    def _release_if_gone(self) -> None:
        """A worker whose end we did not hear of (already done, or deleted) frees the queue."""
        worker = self.worker
        if worker is None:
            return
        try:
            done = worker.is_done
        except RuntimeError:  # the Qt object is gone
            done = True
        if done:
            self._on_finished(worker)

    def _abandon_if_stuck(self) -> None:
        self._release_if_gone()
        if self.worker is None or self._cancelled_at is None:
            return
        if time.monotonic() - self._cancelled_at < STUCK_AFTER_S:
            return
        self.worker = None  # its finished signal, if it ever comes, is ignored (not current)
        self._cancelled_at = None
        self.abandoned.emit()

    def _start_pending(self) -> None:
        if not self._pending:
            return
        request = self._pending.pop(0)
        worker = self.pool.submit(
            request.factory, request.title, report_errors=request.on_error is None
        )
        self.worker = worker
        self._cancelled_at = None
        worker.progress.connect(self.progress)
        worker.result.connect(request.on_result)
        if request.on_error is not None:
            worker.error.connect(request.on_error)
        worker.result.connect(lambda _value, w=worker: self._on_outcome(w, "result"))
        worker.error.connect(lambda *_args, w=worker: self._on_outcome(w, "error"))
        worker.cancelled.connect(lambda w=worker: self._on_outcome(w, "cancelled"))
        worker.finished.connect(lambda w=worker: self._on_finished(w))
        worker.destroyed.connect(lambda *_args, w=worker: self._on_finished(w))

    def _on_outcome(self, worker: Worker, kind: str) -> None:
        if worker is self.worker:
            self._outcome = kind

    def _on_finished(self, worker: Worker) -> None:
        if worker is not self.worker:
            return  # an abandoned or already released job
        kind, self._outcome = self._outcome, "cancelled"
        self.worker = None
        self._cancelled_at = None
        if self._pending:
            self._start_pending()
        else:
            self.busy_changed.emit(False)
        self.ended.emit(kind)
