"""Run the core's progress generators in worker threads and report back through Qt signals.

The core's long jobs are plain generators (``yield Progress``, ``return result``, poll a
`CancelToken`). A `Worker` drives one such job on a `QThreadPool` thread and turns every step
into a signal delivered on the GUI thread, so widgets are only ever touched from there.
A `WorkerPool` owns every running worker: the main window asks it to cancel and wait for all of
them on close, so no thread outlives the window and no signal reaches a deleted widget.

Usage::

    worker = pool.submit(lambda cancel: read_many(paths, cancel), title="Opening images")
    worker.progress.connect(on_progress)
    worker.result.connect(on_result)
"""

from __future__ import annotations

import inspect
import logging
import threading
import time
import traceback
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, QRunnable, QThreadPool, Signal

from crystalview.core.errors import Cancelled, CrystalViewError
from crystalview.core.progress import CancelToken, Progress

log = logging.getLogger(__name__)

JobFactory = Callable[[CancelToken], Any]
"""Called on the worker thread with the job's cancel token; returns a progress generator
(whose ``return`` value is the result) or, for short jobs, the result itself."""

# Plain progress events are coalesced to this interval so a job that yields per tile cannot
# flood the GUI thread's event queue; events carrying a partial result are never dropped.
_PROGRESS_INTERVAL_S = 0.05


class Worker(QObject):
    """One job on a pool thread. Its public signals are emitted on the thread that created it.

    The job thread emits private signals that are queued to a bound method of this object (which
    lives on the GUI thread), and that method re-emits the public ones. So every consumer,
    lambdas included, runs on the GUI thread, whatever connection type PySide picks for it.

    Signals
    -------
    progress(Progress)
        A step of the job (coalesced, but every event with a ``partial`` is delivered).
    result(object)
        The job's return value, when it finished normally.
    error(Exception, str)
        The exception and its formatted traceback, when the job failed.
    cancelled()
        The job stopped because `cancel` was called.
    finished()
        Always last, after exactly one of result / error / cancelled.
    """

    progress = Signal(object)
    result = Signal(object)
    error = Signal(object, str)
    cancelled = Signal()
    finished = Signal()

    _progress_from_job = Signal(object)
    _outcome_from_job = Signal(str, object, str)

    def __init__(self, factory: JobFactory, title: str = "", background: bool = False):
        super().__init__()
        self.title = title
        self.background = background
        self.token = CancelToken()
        self._factory = factory
        self._done = False
        self.last_progress: Progress | None = None
        self._progress_from_job.connect(self._relay_progress)
        self._outcome_from_job.connect(self._relay_outcome)

    @property
    def is_done(self) -> bool:
        """True once ``finished`` has been emitted."""
        return self._done

    def cancel(self) -> None:
        """Ask the job to stop at its next check; ``cancelled`` follows when it does."""
        self.token.cancel()

    def _relay_progress(self, event: Progress) -> None:
        if self._done or self.token.cancelled:
            return
        self.last_progress = event
        self.progress.emit(event)

    def _relay_outcome(self, kind: str, value: object, details: str) -> None:
        if self._done:  # the pool was shut down while this outcome was in flight
            return
        if kind == "result":
            self.result.emit(value)
        elif kind == "error":
            self.error.emit(value, details)
        else:
            self.cancelled.emit()
        self._done = True
        self.finished.emit()

    def run(self) -> None:
        """Drive the job to its end; called on a pool thread."""
        global _running_jobs
        with _running_lock:
            _running_jobs += 1
        try:
            self._run()
        finally:
            with _running_lock:
                _running_jobs -= 1

    def _run(self) -> None:
        # Exactly one outcome is reported however the job ends: a job whose end goes unheard
        # keeps its owner (a dock's queue, the status bar) waiting for good. That includes a
        # BaseException (SystemExit from a library, an exception injected into this thread
        # with PyThreadState_SetAsyncExc): it would otherwise leave run() without a word.
        kind, value, details = "error", None, ""
        try:
            self.token.raise_if_cancelled()
            outcome = self._factory(self.token)
            if inspect.isgenerator(outcome):
                outcome = self._drive(outcome)
            self.token.raise_if_cancelled()
            kind, value = "result", outcome
        except Cancelled:
            kind = "cancelled"
        except BaseException as error:  # reported to the user through the error signal
            details = traceback.format_exc()
            if isinstance(error, CrystalViewError):
                log.warning("%s failed: %s", self.title or "job", error)
            else:
                log.error("%s failed unexpectedly:\n%s", self.title or "job", details)
            if not isinstance(error, Exception):
                error = RuntimeError(f"{self.title or 'the job'} stopped abruptly ({error!r})")
            value = error
        finally:
            self._outcome_from_job.emit(kind, value, details)

    def _drive(self, job) -> Any:
        last_emit = 0.0
        pending: Progress | None = None
        try:
            while True:
                try:
                    event = next(job)
                except StopIteration as stop:
                    return stop.value
                self.token.raise_if_cancelled()
                if not isinstance(event, Progress):
                    continue
                now = time.monotonic()
                if event.partial is not None or now - last_emit >= _PROGRESS_INTERVAL_S:
                    self._progress_from_job.emit(event)
                    last_emit, pending = now, None
                else:
                    pending = event
        finally:
            job.close()
            if pending is not None and not self.token.cancelled:
                self._progress_from_job.emit(pending)


_running_lock = threading.Lock()
_running_jobs = 0


def running_jobs() -> int:
    """How many jobs are executing on pool threads right now (all pools together)."""
    with _running_lock:
        return _running_jobs


class _Runnable(QRunnable):
    """Adapter: QThreadPool runs QRunnables, our workers are QObjects with signals."""

    def __init__(self, worker: Worker):
        super().__init__()
        self.setAutoDelete(True)
        self._worker = worker

    def run(self) -> None:
        self._worker.run()


class WorkerPool(QObject):
    """Starts workers and keeps track of them until they finish.

    Signals
    -------
    job_started(Worker), job_finished(Worker)
        For the status bar; background jobs (thumbnails) are included, check ``worker.background``.
    job_failed(str, Exception, str)
        Title, exception and traceback of any failed job whose submitter asked for reporting.
    """

    job_started = Signal(object)
    job_finished = Signal(object)
    job_failed = Signal(str, object, str)

    def __init__(self, max_threads: int | None = None, parent: QObject | None = None):
        super().__init__(parent)
        self._pool = QThreadPool(self)
        if max_threads is not None:
            self._pool.setMaxThreadCount(max(1, max_threads))
        self._workers: list[Worker] = []
        self._priority = 0

    def submit(
        self,
        factory: JobFactory,
        title: str = "",
        *,
        background: bool = False,
        report_errors: bool = True,
        latest_first: bool = False,
    ) -> Worker:
        """Start ``factory(cancel_token)`` on a pool thread and return its `Worker`.

        Connect to the worker's signals right after this call: the job cannot emit before the
        event loop runs again, because cross-thread signals are queued to this thread.
        ``latest_first`` gives later submissions priority over earlier queued ones, which is what
        on-screen thumbnails want (the user scrolled; what is visible now matters most).
        """
        worker = Worker(factory, title=title, background=background)
        worker.setParent(self)
        self._workers.append(worker)
        worker.finished.connect(lambda w=worker: self._on_finished(w))
        if report_errors:
            worker.error.connect(lambda exc, tb, w=worker: self.job_failed.emit(w.title, exc, tb))
        self._priority += 1
        priority = min(self._priority, 2**30) if latest_first else 0
        self.job_started.emit(worker)
        self._pool.start(_Runnable(worker), priority)
        return worker

    def active(self, include_background: bool = True) -> list[Worker]:
        """Workers that have not finished yet, oldest first."""
        return [w for w in self._workers if include_background or not w.background]

    def wait_for_done(self, timeout_ms: int = -1) -> bool:
        """Block until every pool thread is idle; True if they all finished in time."""
        return self._pool.waitForDone(timeout_ms)

    def shutdown(self, timeout_ms: int = 10_000) -> bool:
        """Cancel everything and wait for the threads; called when the window closes."""
        self._pool.clear()  # queued runnables never start, so they never report back
        for worker in list(self._workers):
            worker.cancel()
        finished = self._pool.waitForDone(timeout_ms)
        if not finished:
            log.error("some background jobs did not stop within %d ms", timeout_ms)
        for worker in self._workers:
            worker._done = True  # late queued signals of a closed window are ignored
        self._workers.clear()
        return finished

    def _on_finished(self, worker: Worker) -> None:
        if worker in self._workers:
            self._workers.remove(worker)
        self.job_finished.emit(worker)
        worker.deleteLater()
