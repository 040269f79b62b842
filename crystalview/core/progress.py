"""Progress events and cancel tokens shared by every long job.

Long jobs in the core are generators that take a `CancelToken` and yield `Progress` events. The
CLI turns them into a terminal progress bar; the GUI runs them in a worker thread and turns each
event into a signal. Neither side needs the other, and the core stays testable without Qt.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Generator
from dataclasses import dataclass
from typing import Any, TypeVar

from crystalview.core.errors import Cancelled

T = TypeVar("T")


@dataclass(frozen=True)
class Progress:
    """One step of a long job.

    Attributes
    ----------
    done, total
        Units of work finished and expected; ``total`` is 0 when unknown.
    message
        A short human-readable description of the current step.
    partial
        An optional partial result the consumer may show early (a batch of predictions, a tile).
    """

    done: int
    total: int
    message: str = ""
    partial: Any = None

    @property
    def fraction(self) -> float:
        """Fraction of work done in 0..1, or 0 when the total is unknown."""
        if self.total <= 0:
            return 0.0
        return min(1.0, max(0.0, self.done / self.total))


class CancelToken:
    """A thread-safe flag a job polls at least once per batch.

    The GUI thread calls `cancel`; the worker calls `raise_if_cancelled` between batches.
    """

    def __init__(self) -> None:
        self._event = threading.Event()

    def cancel(self) -> None:
        """Ask the job to stop at its next check."""
        self._event.set()

    @property
    def cancelled(self) -> bool:
        return self._event.is_set()

    def raise_if_cancelled(self) -> None:
        """Raise `Cancelled` if `cancel` has been called."""
        if self._event.is_set():
            raise Cancelled("Cancelled by the user.")


def run_to_completion(job, on_progress=None):
    """Drive a progress generator to its end and return its ``return`` value.

    ``on_progress`` receives every `Progress` event; it is optional so tests and scripts can
    simply write ``result = run_to_completion(job)``.
    """
    while True:
        try:
            event = next(job)
        except StopIteration as stop:
            return stop.value
        if on_progress is not None:
            on_progress(event)


def relay(
    job: Generator[Any, Any, T], relabel: Callable[[Any], Progress | None]
) -> Generator[Progress, None, T]:
    """Drive the inner progress generator ``job`` and yield its events re-labelled.

    Each event of ``job`` goes through ``relabel`` (which may also check a cancel token); a
    ``None`` from it is dropped. Returns ``job``'s return value, so an outer job writes
    ``result = yield from relay(job, lambda e: Progress(i, n, f"{name}: {e.message}"))``.
    """
    while True:
        try:
            event = next(job)
        except StopIteration as stop:
            return stop.value
        outer = relabel(event)
        if outer is not None:
            yield outer
