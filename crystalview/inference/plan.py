"""Whole image or tiles, resample factor and grid: the one plan of what a model is given.

Prediction, heat maps and the window's tile overlay all call `plan_input`, so the boxes the
overlay draws are the boxes that are classified, also when a calibrated image is resampled to
the model's pixel size. Torch-free (numpy and the tiling only), so the window can draw a plan
without loading the deep-learning stack.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from crystalview.core.errors import CrystalViewError
from crystalview.core.tiling import TileGrid, tile_grid
from crystalview.inference.settings import MIN_TILE_SIZE, InferenceSettings

if TYPE_CHECKING:
    from crystalview.models.manifest import ModelManifest

_SAME_SCALE_TOLERANCE = 0.01


def physical_scale(
    manifest: ModelManifest, source_pixel_size: float | None, source_unit: str | None
) -> float:
    """Model pixels per image pixel: 1 unless both sides are calibrated in the same unit."""
    if manifest.pixel_size is None or source_pixel_size is None:
        return 1.0
    if source_unit != manifest.pixel_unit or not source_pixel_size > 0:
        return 1.0
    scale = source_pixel_size / manifest.pixel_size
    return 1.0 if abs(scale - 1.0) < _SAME_SCALE_TOLERANCE else scale


def scaled_shape(shape: tuple[int, int], scale: float) -> tuple[int, int]:
    return max(1, round(shape[0] * scale)), max(1, round(shape[1] * scale))


def resampled_shape(shape: tuple[int, int], scale: float) -> tuple[int, int]:
    """The shape an image of ``shape`` has after resampling by ``scale`` (kept when ~1)."""
    shape = (int(shape[0]), int(shape[1]))
    return shape if math.isclose(scale, 1.0) else scaled_shape(shape, scale)


@dataclass(frozen=True)
class InputPlan:
    """How one image becomes model inputs, and how those map back onto it.

    Attributes
    ----------
    image_shape
        ``(H, W)`` of the frame classified.
    input_size
        The network's input side in pixels.
    zoom
        Resample factor from image pixels to the prepared (tiled) image: the model's physical
        scale times ``input_size / tile_size``. 1 for a whole-image plan.
    prepared_shape
        ``(h, w)`` of the normalised, resampled image the grid tiles (the input size squared for
        a whole-image plan, which is resized instead).
    grid
        Tiles of ``input_size`` over the prepared image, or ``None`` when the image goes whole.
    """

    image_shape: tuple[int, int]
    input_size: int
    zoom: float
    prepared_shape: tuple[int, int]
    grid: TileGrid | None

    @property
    def whole(self) -> bool:
        return self.grid is None

    @property
    def n_tiles(self) -> int:
        return 1 if self.grid is None else self.grid.n_tiles

    @property
    def boxes(self) -> np.ndarray:
        """``(n, 4)`` boxes ``y0, x0, y1, x1`` in the original image's pixels, row-major."""
        h, w = self.image_shape
        if self.grid is None:
            return np.array([[0, 0, h, w]], dtype=np.int64)
        sy = h / self.prepared_shape[0]
        sx = w / self.prepared_shape[1]
        scaled = np.rint(self.grid.boxes * np.array([sy, sx, sy, sx])).astype(np.int64)
        scaled[:, [0, 2]] = np.clip(scaled[:, [0, 2]], 0, h)
        scaled[:, [1, 3]] = np.clip(scaled[:, [1, 3]], 0, w)
        return scaled


def plan_input(
    manifest: ModelManifest,
    image_shape: tuple[int, ...],
    pixel_size: float | None = None,
    pixel_unit: str | None = None,
    settings: InferenceSettings | None = None,
) -> InputPlan:
    """Plan how ``manifest``'s model reads an image of ``image_shape`` under ``settings``.

    Whole-image models, and images no larger than one tile at the model's scale, go whole
    (resized to the input size). Otherwise the image is resampled so that ``tile_size`` model
    pixels become ``input_size`` input pixels, and tiled with inputs of ``input_size``.
    """
    settings = settings or InferenceSettings()
    if len(image_shape) != 2 or min(image_shape) < 1:
        raise CrystalViewError(f"cannot classify an image of shape {tuple(image_shape)}")
    shape = (int(image_shape[0]), int(image_shape[1]))
    input_size = int(manifest.input_size)
    tile_size = int(settings.tile_size or input_size)
    if tile_size < MIN_TILE_SIZE:
        raise CrystalViewError(f"tile size {tile_size} px is too small (at least {MIN_TILE_SIZE})")
    scale = physical_scale(manifest, pixel_size, pixel_unit)
    fits_one_tile = shape[0] * scale <= tile_size and shape[1] * scale <= tile_size
    if manifest.input_mode == "whole" or fits_one_tile:
        return InputPlan(shape, input_size, 1.0, (input_size, input_size), None)
    zoom = scale * (input_size / tile_size)  # as `prepare_image` multiplies it
    prepared_shape = resampled_shape(shape, zoom)
    grid = tile_grid(prepared_shape, input_size, settings.overlap)
    return InputPlan(shape, input_size, zoom, prepared_shape, grid)
