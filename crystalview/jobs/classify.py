"""The model dock's inference job: classify open images one by one on a worker thread.

This module has no Qt in it (the window runs `classify_entries` through its `WorkerPool`), and
imports torch only inside the job, so the window opens without loading the deep-learning stack.

One owner per model: the dock keeps a `ModelCache`, and a run *leases* the loaded model for
its whole duration. Runs are serialised by the dock's queue, and the lease's lock makes sure
that even a stray second run could never share the module with the first one; CAM and the
fine-tune wizard load their own copies.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Generator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING

from crystalview.core.micrograph import Micrograph
from crystalview.core.progress import CancelToken, Progress
from crystalview.inference.settings import InferenceSettings
from crystalview.jobs.library import ImageEntry, reload_micrograph
from crystalview.models.cache import ModelCache

if TYPE_CHECKING:
    from crystalview.inference.predict import ImagePrediction

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


def classify_entries(
    holder: ModelCache,
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
    from crystalview.inference.predict import make_runner, predict_many

    entries = list(request.entries)
    summary = RunSummary(request)
    yield Progress(0, len(entries), f"Loading model {request.model_name}")
    # the window shows per-tile classes; the stitched per-class maps would only cost memory
    settings = replace(request.settings, probability_map=False)

    def pixels(entry: ImageEntry) -> Micrograph:
        # the GUI thread may evict the pixels meanwhile: keep our own reference
        micrograph = entry.micrograph
        return micrograph if micrograph is not None else read(entry)

    def outcome(entry: ImageEntry, prediction, error: str | None) -> EntryPrediction:
        if prediction is None:
            log.warning("could not classify %s: %s", entry.path, error)
            return EntryPrediction(entry, error=error)
        return EntryPrediction(entry, prediction, device_text=describe_device(runner.device))

    with holder.lease(request.model_path) as loaded:
        runner = make_runner(loaded, settings)
        summary.results = yield from predict_many(
            loaded, entries, pixels, outcome, settings, cancel, runner, name=lambda e: e.name
        )
        summary.notes = list(runner.notes)
    return summary
