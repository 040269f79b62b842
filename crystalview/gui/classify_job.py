"""The model dock's inference job: classify open images one by one on a worker thread.

This module has no Qt in it (the window runs `classify_entries` through its `WorkerPool`), and
imports torch only inside the job, so the window opens without loading the deep-learning stack.

One owner per model: the dock keeps a `ModelHolder`, and a run *leases* the loaded model for
its whole duration. Runs are serialised by the dock's queue, and the lease's lock makes sure
that even a stray second run could never share the module with the first one; CAM and the
fine-tune wizard load their own copies.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Generator, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING

from crystalview.core.errors import Cancelled, CrystalViewError
from crystalview.core.micrograph import Micrograph
from crystalview.core.progress import CancelToken, Progress
from crystalview.gui.library import ImageEntry, reload_micrograph
from crystalview.inference.settings import InferenceSettings

if TYPE_CHECKING:
    from crystalview.inference.predict import ImagePrediction
    from crystalview.models.bundle import LoadedModel

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RunRequest:
    """What the user asked for when pressing a Run button: model, images and the dock's
    `InferenceSettings` (a frozen snapshot)."""

    model_path: Path
    model_name: str
    entries: tuple[ImageEntry, ...]
    settings: InferenceSettings = field(default_factory=InferenceSettings)


@dataclass
class EntryPrediction:
    """The outcome for one image: a prediction, or the reason it failed."""

    entry: ImageEntry
    prediction: ImagePrediction | None = None
    error: str | None = None
    device_text: str = ""
    """Where the model really ran for this image, e.g. ``cpu (2 threads, fp32)``."""


@dataclass
class RunSummary:
    """What a whole run did, for the status bar and the failure notification."""

    request: RunRequest
    results: list[EntryPrediction] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    """Device changes during the run (GPU out of memory, fallback to the CPU)."""

    @property
    def failures(self) -> list[tuple[Path, str]]:
        return [(r.entry.path, r.error or "") for r in self.results if r.prediction is None]


class ModelHolder:
    """Owns the dock's `LoadedModel`, loaded once per bundle file and reused by later runs."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._key: tuple[str, int] | None = None
        self._loaded: LoadedModel | None = None

    @contextmanager
    def lease(self, path: Path) -> Iterator[LoadedModel]:
        """The loaded model of ``path`` for exclusive use inside the ``with`` block.

        The bundle is (re)loaded when it is not the cached one or its file changed on disk.
        """
        from crystalview.models.catalog import load_model

        with self._lock:
            try:
                key = (str(path), path.stat().st_mtime_ns)
            except OSError as error:
                raise CrystalViewError(f"the model file {path} cannot be read ({error})") from None
            if key != self._key or self._loaded is None:
                self._loaded, self._key = None, None  # drop the old one before loading another
                self._loaded = load_model(path)
                self._key = key
            yield self._loaded


def classify_entries(
    holder: ModelHolder,
    request: RunRequest,
    cancel: CancelToken,
    read: Callable[[ImageEntry], Micrograph] = reload_micrograph,
) -> Generator[Progress, None, RunSummary]:
    """Classify every image of ``request``, yielding one `EntryPrediction` partial per image.

    Progress counts images; a run on one image counts its tiles instead, so a big image still
    shows a moving bar. An image that cannot be read or classified becomes a failed
    `EntryPrediction` and the run goes on; `Cancelled` stops it within one batch of tiles.
    """
    from crystalview.inference.device import describe_device
    from crystalview.inference.predict import make_runner, predict_micrograph

    entries = list(request.entries)
    total = len(entries)
    summary = RunSummary(request)
    yield Progress(0, total, f"Loading model {request.model_name}")
    # the window shows per-tile classes; the stitched per-class maps would only cost memory
    settings = replace(request.settings, probability_map=False)
    with holder.lease(request.model_path) as loaded:
        runner = make_runner(loaded, settings)
        for index, entry in enumerate(entries):
            cancel.raise_if_cancelled()
            # the GUI thread may evict the pixels meanwhile: keep our own reference
            micrograph = entry.micrograph
            try:
                if micrograph is None:
                    micrograph = read(entry)
                job = predict_micrograph(loaded, micrograph, settings, cancel, runner=runner)
                while True:
                    try:
                        event = next(job)
                    except StopIteration as stop:
                        prediction = stop.value
                        break
                    message = f"{entry.name}: {event.message}"
                    if total == 1:
                        yield Progress(event.done, event.total, message)
                    else:
                        yield Progress(index, total, message)
                result = EntryPrediction(
                    entry, prediction, device_text=describe_device(runner.device)
                )
            except Cancelled:
                raise
            except (CrystalViewError, OSError, ValueError, MemoryError) as error:
                log.warning("could not classify %s: %s", entry.path, error)
                result = EntryPrediction(entry, error=str(error) or type(error).__name__)
            summary.results.append(result)
            yield Progress(index + 1, total, entry.name, result)
        summary.notes = list(runner.notes)
    return summary
