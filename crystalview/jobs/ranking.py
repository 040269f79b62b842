"""Class probabilities of unlabelled images, to rank them for labelling (no Qt here).

The labelling page asks the model in training for the images it is least sure of; this job
classifies them with the caller's own copy of the model. torch loads when the job runs.
"""

from __future__ import annotations

import logging
from pathlib import Path

from crystalview.core.progress import CancelToken, Progress, relay

log = logging.getLogger(__name__)


def predict_probabilities(loaded, paths: list[Path], cancel: CancelToken):
    """Class probabilities of each readable image in ``paths`` (a progress generator).

    Runs on a worker thread with the caller's own copy of the model; unreadable images are
    skipped (they come last in the ranking).
    """
    from crystalview.inference.predict import predict_many
    from crystalview.inference.settings import InferenceSettings
    from crystalview.io import open_image

    names = list(loaded.manifest.classes)

    def ranked(path: Path, prediction, error: str | None) -> list[float] | None:
        if prediction is None:
            log.info("not ranked: %s (%s)", path, error)
            return None
        return [prediction.probabilities[n] for n in names]

    settings = InferenceSettings(probability_map=False)
    job = predict_many(loaded, paths, open_image, ranked, settings, cancel, name=_name)
    rows = yield from relay(job, lambda e: Progress(e.done, e.total, f"Ranking {e.message}"))
    return {path: row for path, row in zip(paths, rows, strict=True) if row is not None}


def _name(path: Path) -> str:
    return path.name
