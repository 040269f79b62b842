"""Classifying an image, whole or tile by tile, as a generator with progress and cancel.

Large images are normalised and resampled once, cut into a regular grid of overlapping tiles
(views, not a Python loop per tile), and sent through the model in batches. Each batch yields a
`Progress` whose ``partial`` is a `TileBatch`, so the window can paint tiles as they arrive. The
image-level answer is the mean of the tile probabilities; the per-class probability map blends
the tiles smoothly. Images no bigger than one tile, and models trained on whole images, are
classified whole.

Probabilities are calibrated (divided by the manifest's temperature) and every prediction
carries a status, ``ok``, ``unsure`` or ``not-this-kind`` (`crystalview.inference.status`).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Generator, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

import numpy as np

from crystalview.core.errors import Cancelled, CrystalViewError
from crystalview.core.micrograph import Micrograph
from crystalview.core.progress import CancelToken, Progress, relay
from crystalview.core.tiling import extract_tiles, stitch_tiles, tile_grid
from crystalview.inference.device import configure_threads, select_device
from crystalview.inference.evidence import model_evidence
from crystalview.inference.image_kind import measure_image_kind
from crystalview.inference.plan import plan_input
from crystalview.inference.preprocess import prepare_image, prepare_whole
from crystalview.inference.runner import BatchRunner, softmax_rows
from crystalview.inference.settings import InferenceSettings
from crystalview.inference.status import OK, decide_status, model_calibration, unsure_threshold
from crystalview.models.bundle import LoadedModel

Item = TypeVar("Item")
Result = TypeVar("Result")

PREDICTION_ERRORS = (CrystalViewError, OSError, ValueError, MemoryError)
"""What makes one image of a batch fail without stopping the others."""


@dataclass
class TileBatch:
    """Partial result of one batch: tiles ``start .. start + len(boxes)`` in row-major order."""

    start: int
    boxes: np.ndarray
    probabilities: np.ndarray


@dataclass
class ImagePrediction:
    """Everything one run on one image produced.

    ``tile_boxes`` are ``y0, x0, y1, x1`` in the original image's pixels; ``probability_map``
    is ``(k, H, W)`` in those pixels, or None for whole-image classification. Probabilities
    are calibrated when the model is. ``status`` is ``ok``, ``unsure`` or ``not-this-kind``,
    ``status_reason`` says why; ``ood_score`` is the out-of-distribution score over the
    model's threshold (None without calibration); ``image_kind`` is what the cheap look saw;
    ``unsure_below`` is the threshold the status used.
    """

    label: str
    confidence: float
    probabilities: dict[str, float]
    class_names: list[str]
    n_tiles: int
    tile_boxes: np.ndarray
    tile_probabilities: np.ndarray
    probability_map: np.ndarray | None
    device: str
    model_name: str
    notes: list[str] = field(default_factory=list)
    status: str = OK
    status_reason: str = ""
    ood_score: float | None = None
    image_kind: str = ""
    calibrated: bool = False
    unsure_below: float = 0.0


@dataclass
class PathResult:
    """The outcome for one file of a batch run: a prediction or an error message."""

    path: Path
    prediction: ImagePrediction | None = None
    error: str | None = None
    modality: str | None = None
    """The image's modality as the reader decided it (``None`` when it could not be read)."""


def make_runner(loaded: LoadedModel, settings: InferenceSettings) -> BatchRunner:
    """A `BatchRunner` for ``loaded`` on the settings' device (threads configured once)."""
    configure_threads()
    return BatchRunner(
        loaded.model, select_device(settings.device), settings.fast, settings.batch_size
    )


def predict_micrograph(
    loaded: LoadedModel,
    micrograph: Micrograph,
    settings: InferenceSettings | None = None,
    cancel: CancelToken | None = None,
    runner: BatchRunner | None = None,
) -> Generator[Progress, None, ImagePrediction]:
    """Classify the micrograph's first frame; see `predict_image`."""
    return (
        yield from predict_image(
            loaded,
            micrograph.image,
            settings,
            cancel,
            pixel_size=micrograph.pixel_size,
            pixel_unit=micrograph.pixel_unit,
            runner=runner,
            file_modality=micrograph.modality,
        )
    )


def predict_image(
    loaded: LoadedModel,
    image: np.ndarray,
    settings: InferenceSettings | None = None,
    cancel: CancelToken | None = None,
    pixel_size: float | None = None,
    pixel_unit: str | None = None,
    runner: BatchRunner | None = None,
    file_modality: str | None = None,
) -> Generator[Progress, None, ImagePrediction]:
    """Classify a 2-D image, yielding `Progress` (with a `TileBatch`) after every batch.

    ``file_modality`` is what the file's metadata says the image is (``"SEM"``, ``"SAED"`` …);
    it takes part in the status.

    Raises
    ------
    Cancelled
        ``cancel`` was set; the check runs before every batch.
    """
    settings = settings or InferenceSettings()
    cancel = cancel or CancelToken()
    runner = runner or make_runner(loaded, settings)
    manifest = loaded.manifest
    plan = plan_input(manifest, image.shape, pixel_size, pixel_unit, settings)
    boxes = plan.boxes
    notes_seen = len(runner.notes)
    cancel.raise_if_cancelled()
    calibrated = CalibratedOutputs(runner, manifest)

    image_probs = None
    if plan.grid is None:
        view = prepare_whole(image, manifest)[None]
        evidence = calibrated.evidence.measure(image)[None] if calibrated.evidence else None
        tile_probs = calibrated(view, evidence)
        yield Progress(1, 1, "classified whole image", TileBatch(0, boxes, tile_probs))
        stitched = None
    else:
        # the plan's zoom already includes the physical scale: resample exactly as planned
        prepared = prepare_image(image, manifest, zoom=plan.zoom)
        grid = plan.grid
        tile_probs = np.empty((grid.n_tiles, manifest.num_classes), dtype=np.float32)
        batch = max(1, settings.batch_size)
        for start in range(0, grid.n_tiles, batch):
            cancel.raise_if_cancelled()
            stop = min(start + batch, grid.n_tiles)
            probs = calibrated(extract_tiles(prepared, grid, slice(start, stop)))
            tile_probs[start:stop] = probs
            for note in runner.notes[notes_seen:]:
                yield Progress(start, grid.n_tiles, note)
            notes_seen = len(runner.notes)
            partial = TileBatch(start, boxes[start:stop], probs)
            yield Progress(stop, grid.n_tiles, f"tile {stop}/{grid.n_tiles}", partial)
        del prepared
        stitched = stitch_tiles(tile_probs, grid, image.shape) if settings.probability_map else None
        if manifest.image_pooling is not None:
            image_probs = yield from _pooled_image_probabilities(
                image, manifest, plan.zoom, calibrated, settings, cancel
            )

    return tile_verdict(
        loaded,
        runner,
        tile_probs,
        boxes,
        measure_image_kind(image),
        calibrated.ood_score(),
        file_modality,
        probability_map=stitched,
        notes=list(runner.notes),
        image_probabilities=image_probs,
    )


def _pooled_image_probabilities(image, manifest, zoom, calibrated, settings, cancel):
    """Generator: the image's probabilities under ``manifest.image_pooling`` (``mean_logits``):
    softmax of the mean over the zooms of the mean of the tiles' logits.

    The native zoom's logits were kept by ``calibrated`` while its tiles ran; each further zoom
    re-tiles the image at that fraction of the model's resolution, as training did
    (`crystalview.training.tile_features.image_inputs`).
    """
    per_zoom = [calibrated.mean_logits()]
    for extra in manifest.zooms[1:]:
        prepared = prepare_image(image, manifest, zoom=zoom * extra)
        grid = tile_grid(prepared.shape, manifest.input_size, settings.overlap)
        sums = np.zeros(manifest.num_classes, dtype=np.float64)
        batch = max(1, settings.batch_size)
        for start in range(0, grid.n_tiles, batch):
            cancel.raise_if_cancelled()
            stop = min(start + batch, grid.n_tiles)
            sums += calibrated.logits(extract_tiles(prepared, grid, slice(start, stop))).sum(0)
            yield Progress(stop, grid.n_tiles, f"tile {stop}/{grid.n_tiles} at zoom {extra:g}")
        per_zoom.append(sums / grid.n_tiles)
    return softmax_rows(np.mean(per_zoom, axis=0)[None], calibrated.temperature)[0]


class CalibratedOutputs:
    """Calibrated class probabilities of batches (the model's evidence stack and temperature
    applied), keeping the out-of-distribution score of each batch for the image's status."""

    def __init__(self, runner: BatchRunner, manifest) -> None:
        self.runner = runner
        self.calibration = model_calibration(manifest)
        self.temperature = self.calibration.temperature if self.calibration is not None else 1.0
        self.evidence = model_evidence(manifest)
        self._ood_scores: list[np.ndarray] = []
        self._logit_sum: np.ndarray | None = None
        self._logit_count = 0

    def __call__(self, batch: np.ndarray, evidence: np.ndarray | None = None) -> np.ndarray:
        return softmax_rows(self.logits(batch, evidence), self.temperature)

    def logits(self, batch: np.ndarray, evidence: np.ndarray | None = None) -> np.ndarray:
        """The batch's logits, stacked with ``evidence`` (the measured features of each input,
        `crystalview.inference.evidence`) when the model has a stack; the OOD score and the
        running logit mean are updated."""
        logits, features = self.runner.outputs(batch)
        if self.evidence is not None:
            if evidence is None:
                raise ValueError("this model stacks measured evidence on its logits: pass it")
            logits = self.evidence.apply(logits, evidence)
        ood = self.calibration.ood if self.calibration is not None else None
        if ood is not None and len(features):
            self._ood_scores.append(ood.score(features) / ood.threshold)
        total = np.asarray(logits, dtype=np.float64).sum(axis=0)
        self._logit_sum = total if self._logit_sum is None else self._logit_sum + total
        self._logit_count += len(logits)
        return logits

    def mean_logits(self) -> np.ndarray:
        """Mean logits over every input so far (``image_pooling`` ``mean_logits``)."""
        if self._logit_sum is None:
            raise ValueError("no inputs were classified yet")
        return self._logit_sum / self._logit_count

    def ood_score(self) -> float | None:
        """Mean OOD score over every tile so far, in units of the threshold (None: no score)."""
        return float(np.mean(np.concatenate(self._ood_scores))) if self._ood_scores else None


def tile_verdict(
    loaded: LoadedModel,
    runner: BatchRunner,
    tile_probs: np.ndarray,
    boxes: np.ndarray,
    look,
    ood: float | None,
    file_modality: str | None,
    probability_map: np.ndarray | None,
    notes: list[str],
    image_probabilities: np.ndarray | None = None,
) -> ImagePrediction:
    """The image's answer from its tiles' calibrated probabilities: their mean (or
    ``image_probabilities`` when the model pools otherwise, see ``image_pooling``), and a status
    from that confidence, the image's look, the OOD score and what the file says it is."""
    manifest = loaded.manifest
    mean = tile_probs.mean(axis=0) if image_probabilities is None else image_probabilities
    best = int(np.argmax(mean))
    classes = list(manifest.classes)
    status = decide_status(manifest, float(mean[best]), look, ood, file_modality)
    return ImagePrediction(
        label=classes[best],
        confidence=float(mean[best]),
        probabilities={name: float(p) for name, p in zip(classes, mean, strict=True)},
        class_names=classes,
        n_tiles=len(tile_probs),
        tile_boxes=boxes,
        tile_probabilities=tile_probs,
        probability_map=probability_map,
        device=runner.device.type,
        model_name=loaded.name,
        notes=notes,
        status=status.status,
        status_reason=status.reason,
        ood_score=ood,
        image_kind=look.kind,
        calibrated=model_calibration(manifest) is not None,
        unsure_below=unsure_threshold(manifest),
    )


def predict_paths(
    loaded: LoadedModel,
    paths: Iterable[str | os.PathLike],
    settings: InferenceSettings | None = None,
    cancel: CancelToken | None = None,
) -> Generator[Progress, None, list[PathResult]]:
    """Classify every image file under ``paths`` (folders recursively), one file at a time.

    A file that cannot be read or classified becomes a `PathResult` with an ``error`` and the
    run goes on. Progress counts files; each finished file is the ``partial`` of one event.
    """
    from crystalview.io import find_images, open_image
    from crystalview.measure.calibration import apply_stored_scale

    settings = settings or InferenceSettings()
    cancel = cancel or CancelToken()
    discovery = find_images([Path(p) for p in paths], cancel=cancel)
    total = len(discovery.files)
    results = []
    for unreadable, message in discovery.errors:
        results.append(PathResult(Path(unreadable), error=str(message)))
        yield Progress(0, total, f"cannot read {unreadable}", results[-1])

    modalities: dict[Path, str] = {}

    def read(path: Path) -> Micrograph:
        micrograph = open_image(path)
        apply_stored_scale(micrograph)  # a scale set by hand counts like the file's
        modalities[path] = str(micrograph.modality)
        return micrograph

    found = yield from predict_many(
        loaded,
        discovery.files,
        read,
        lambda path, prediction, error: PathResult(path, prediction, error, modalities.get(path)),
        settings,
        cancel,
        name=lambda path: path.name,
    )
    return results + found


def predict_many(
    loaded: LoadedModel,
    items: Sequence[Item],
    read: Callable[[Item], Micrograph],
    result: Callable[[Item, ImagePrediction | None, str | None], Result],
    settings: InferenceSettings | None = None,
    cancel: CancelToken | None = None,
    runner: BatchRunner | None = None,
    name: Callable[[Item], str] = str,
) -> Generator[Progress, None, list[Result]]:
    """Classify every item (a path, a gallery entry…), going on past the ones that fail.

    ``read`` turns an item into its micrograph; ``result(item, prediction, error)`` makes what
    is kept for it (``error`` set, prediction None, when reading or classifying failed with one
    of `PREDICTION_ERRORS`). Progress counts items, or the tiles of a run of one item, so a big
    image still shows a moving bar; each finished item's result is the ``partial`` of one
    event. `Cancelled` stops the run within one batch of tiles.
    """
    settings = settings or InferenceSettings()
    cancel = cancel or CancelToken()
    runner = runner or make_runner(loaded, settings)
    total = len(items)
    results = []
    for index, item in enumerate(items):
        cancel.raise_if_cancelled()
        label = name(item)

        def relabel(event: Progress, index=index, label=label) -> Progress:
            message = f"{label}: {event.message}"
            if total == 1:
                return Progress(event.done, event.total, message)
            return Progress(index, total, message)

        try:
            job = predict_micrograph(loaded, read(item), settings, cancel, runner=runner)
            prediction = yield from relay(job, relabel)
            outcome = result(item, prediction, None)
        except Cancelled:
            raise
        except PREDICTION_ERRORS as error:
            outcome = result(item, None, str(error) or type(error).__name__)
        results.append(outcome)
        yield Progress(index + 1, total, label, outcome)
    return results
