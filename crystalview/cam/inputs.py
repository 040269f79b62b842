"""Turn an image into the model inputs inference would use: normalised, resampled, tiled.

Heat maps must explain the prediction the user saw, so this calls the same preprocessing
(`crystalview.inference.preprocess`) and the same tile grid (`crystalview.core.tiling`) as
inference, with the same settings.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from crystalview.core.micrograph import Micrograph
from crystalview.core.tiling import TileGrid, extract_tiles
from crystalview.inference.diffraction import log_polar_to_image
from crystalview.inference.plan import plan_input
from crystalview.inference.preprocess import (
    POLAR_TRANSFORMS,
    normalize_intensity,
    polar_centre,
    prepare_image,
    prepare_whole,
    resample,
    transformed_view,
    working_copy,
)
from crystalview.inference.settings import InferenceSettings
from crystalview.models.bundle import LoadedModel


@dataclass
class ModelInput:
    """Model inputs for one image and how they map back onto it.

    Attributes
    ----------
    image
        The 2-D frame explained, as given.
    grid
        The tile grid over the prepared image, or ``None`` for a whole-image model.
    prepared_shape
        ``(h, w)`` of the normalised image at the model's pixel size (what the grid tiles).
    tile_size
        Side of one model input in prepared-image pixels (the network's input size).
    to_image
        For a whole-image model whose input is a transform of the image (log-polar), the map of
        an input-sized heat map back onto the image's pixel grid; ``None`` when plain resizing is
        that map (no transform, or tiles).
    """

    image: np.ndarray
    grid: TileGrid | None
    prepared: np.ndarray
    tile_size: int
    to_image: Callable[[np.ndarray], np.ndarray] | None = None

    @property
    def image_shape(self) -> tuple[int, int]:
        return int(self.image.shape[0]), int(self.image.shape[1])

    @property
    def prepared_shape(self) -> tuple[int, int]:
        return int(self.prepared.shape[0]), int(self.prepared.shape[1])

    @property
    def n_inputs(self) -> int:
        return 1 if self.grid is None else self.grid.n_tiles

    def batch(self, part: slice) -> np.ndarray:
        """Inputs ``(n, S, S)`` float32 of the tiles in ``part`` (row-major grid order)."""
        if self.grid is None:
            return self.prepared[None][part]
        return np.ascontiguousarray(extract_tiles(self.prepared, self.grid, part), np.float32)


def frame_and_calibration(
    micrograph: Micrograph | np.ndarray, frame: int = 0
) -> tuple[np.ndarray, float | None, str | None]:
    """``(image2d, pixel_size, pixel_unit)``; a bare array is treated as uncalibrated."""
    if isinstance(micrograph, Micrograph):
        return micrograph.frame(frame), micrograph.pixel_size, micrograph.pixel_unit
    image = np.asarray(micrograph)
    if image.ndim != 2:
        raise ValueError(f"expected a 2-D image, got shape {image.shape}")
    return image, None, None


def prepare_model_input(
    loaded: LoadedModel,
    micrograph: Micrograph | np.ndarray,
    tile_size: int | None = None,
    overlap: float = 0.25,
    frame: int = 0,
) -> ModelInput:
    """Prepare ``micrograph`` for ``loaded`` exactly as `crystalview.inference.predict` does.

    The plan (whole or tiles, resample factor, grid) is `crystalview.inference.plan.plan_input`,
    the one inference and the window's tile overlay use.
    """
    manifest = loaded.manifest
    image, pixel_size, pixel_unit = frame_and_calibration(micrograph, frame)
    settings = InferenceSettings(tile_size=tile_size, overlap=overlap)
    plan = plan_input(manifest, image.shape, pixel_size, pixel_unit, settings)
    if plan.grid is None:
        if manifest.transform not in POLAR_TRANSFORMS:
            whole = np.asarray(prepare_whole(image, manifest), dtype=np.float32)
            return ModelInput(image, None, whole, plan.input_size, None)
        # `prepare_whole`'s steps, with the centre found once for the view and its inverse
        work = working_copy(normalize_intensity(image, manifest.normalization))
        polar = polar_centre(work, manifest)
        whole = np.asarray(transformed_view(work, manifest, polar), dtype=np.float32)
        to_image = _log_polar_inverse(image.shape, work.shape, polar[0])
        return ModelInput(image, None, whole, plan.input_size, to_image)
    prepared = np.asarray(prepare_image(image, manifest, zoom=plan.zoom), dtype=np.float32)
    return ModelInput(image=image, grid=plan.grid, prepared=prepared, tile_size=plan.input_size)


def _log_polar_inverse(
    image_shape: tuple[int, ...], work_shape: tuple[int, ...], centre: tuple[float, float]
) -> Callable[[np.ndarray], np.ndarray]:
    """Inverse of a log-polar input about ``centre``: input-grid map -> image-grid map.

    The map is drawn back on the grid of the working copy the view was made from (centre in its
    pixels), then resized to the image, so it lines up with what the model saw.
    """

    def to_image(values: np.ndarray) -> np.ndarray:
        on_work = log_polar_to_image(values, work_shape, centre)
        return resample(on_work, (int(image_shape[0]), int(image_shape[1])))

    return to_image
