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
from collections.abc import Generator, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from crystalview.core.errors import Cancelled, CrystalViewError
from crystalview.core.micrograph import Micrograph
from crystalview.core.progress import CancelToken, Progress
from crystalview.core.tiling import extract_tiles, stitch_tiles, tile_grid
from crystalview.inference.device import configure_threads, select_device
from crystalview.inference.image_kind import measure_image_kind
from crystalview.inference.preprocess import physical_scale, prepare_image, prepare_whole
from crystalview.inference.runner import BatchRunner, softmax_rows
from crystalview.inference.status import OK, decide_status, model_calibration, unsure_threshold
from crystalview.models.bundle import LoadedModel


@dataclass
class InferenceSettings:
    """How to run a model.

    Attributes
    ----------
    tile_size
        Tile side in model pixels (image pixels unless the image is resampled to the model's
        pixel size); ``None`` uses the model's input size. Tiles are scaled to the input size.
    overlap
        Minimum fraction by which neighbouring tiles overlap, in [0, 1).
    batch_size
        Tiles per forward pass.
    device
        ``"auto"``, ``"cpu"``, ``"cuda"`` or ``"mps"``.
    fast
        Channels-last and reduced precision where the device does it natively.
    probability_map
        Also compute the stitched per-class map (skip it for batch runs that only need labels).
    """

    tile_size: int | None = None
    overlap: float = 0.25
    batch_size: int = 32
    device: str = "auto"
    fast: bool = True
    probability_map: bool = True


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
    if image.ndim != 2 or min(image.shape) < 1:
        raise CrystalViewError(f"cannot classify an image of shape {image.shape}")
    input_size = manifest.input_size
    tile_size = int(settings.tile_size or input_size)
    if tile_size < 8:
        raise CrystalViewError(f"tile size {tile_size} px is too small (at least 8)")
    scale = physical_scale(manifest, pixel_size, pixel_unit)
    model_h, model_w = image.shape[0] * scale, image.shape[1] * scale
    notes_seen = len(runner.notes)
    cancel.raise_if_cancelled()
    calibration = model_calibration(manifest)
    temperature = calibration.temperature if calibration is not None else 1.0
    ood_scores = []

    def calibrated(batch: np.ndarray) -> np.ndarray:
        logits, features = runner.outputs(batch)
        if calibration is not None and calibration.ood is not None and len(features):
            ood_scores.append(calibration.ood.score(features) / calibration.ood.threshold)
        return softmax_rows(logits, temperature)

    if manifest.input_mode == "whole" or (model_h <= tile_size and model_w <= tile_size):
        tile_probs = calibrated(prepare_whole(image, manifest)[None])
        boxes = np.array([[0, 0, image.shape[0], image.shape[1]]], dtype=np.int64)
        yield Progress(1, 1, "classified whole image", TileBatch(0, boxes, tile_probs))
        stitched = None
    else:
        prepared = prepare_image(image, manifest, pixel_size, pixel_unit, input_size / tile_size)
        grid = tile_grid(prepared.shape, input_size, settings.overlap)
        boxes = _boxes_in_image(grid.boxes, prepared.shape, image.shape)
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

    mean = tile_probs.mean(axis=0)
    best = int(np.argmax(mean))
    classes = list(manifest.classes)
    look = measure_image_kind(image)
    ood = float(np.mean(np.concatenate(ood_scores))) if ood_scores else None
    status = decide_status(manifest, float(mean[best]), look, ood, file_modality)
    return ImagePrediction(
        label=classes[best],
        confidence=float(mean[best]),
        probabilities={name: float(p) for name, p in zip(classes, mean, strict=True)},
        class_names=classes,
        n_tiles=len(tile_probs),
        tile_boxes=boxes,
        tile_probabilities=tile_probs,
        probability_map=stitched,
        device=runner.device.type,
        model_name=loaded.name,
        notes=list(runner.notes),
        status=status.status,
        status_reason=status.reason,
        ood_score=ood,
        image_kind=look.kind,
        calibrated=calibration is not None,
        unsure_below=unsure_threshold(manifest),
    )


def _boxes_in_image(
    boxes: np.ndarray, prepared_shape: tuple[int, int], image_shape: tuple[int, int]
) -> np.ndarray:
    """Map boxes from the resampled image back to original pixels (clipped to the image)."""
    sy = image_shape[0] / prepared_shape[0]
    sx = image_shape[1] / prepared_shape[1]
    scaled = np.rint(boxes * np.array([sy, sx, sy, sx])).astype(np.int64)
    scaled[:, [0, 2]] = np.clip(scaled[:, [0, 2]], 0, image_shape[0])
    scaled[:, [1, 3]] = np.clip(scaled[:, [1, 3]], 0, image_shape[1])
    return scaled


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

    settings = settings or InferenceSettings()
    cancel = cancel or CancelToken()
    runner = make_runner(loaded, settings)
    discovery = find_images([Path(p) for p in paths], cancel=cancel)
    total = len(discovery.files)
    results = []
    for unreadable, message in discovery.errors:
        results.append(PathResult(Path(unreadable), error=str(message)))
        yield Progress(0, total, f"cannot read {unreadable}", results[-1])
    for index, path in enumerate(discovery.files):
        cancel.raise_if_cancelled()
        try:
            micrograph = open_image(path)
            job = predict_micrograph(loaded, micrograph, settings, cancel, runner=runner)
            while True:
                try:
                    event = next(job)
                except StopIteration as stop:
                    result = PathResult(
                        path, prediction=stop.value, modality=str(micrograph.modality)
                    )
                    break
                yield Progress(index, total, f"{path.name}: {event.message}")
        except Cancelled:
            raise
        except (CrystalViewError, OSError, ValueError, MemoryError) as error:
            result = PathResult(path, error=str(error) or type(error).__name__)
        results.append(result)
        yield Progress(index + 1, total, path.name, result)
    return results
