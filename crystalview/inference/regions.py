"""Tiled prediction of TIFF/BigTIFF images larger than memory, reading one strip at a time.

An image is read whole when it fits the memory budget; otherwise, for a grey TIFF or BigTIFF
(contiguous, or strips/tiles compressed with zlib, LZW, …: `crystalview.io.tiff_regions`), it
never holds more than one strip of tile rows: intensity levels come from the same
every-n-th-pixel sample the in-memory path uses (read strip by strip), then each strip of tiles
is normalised with those image-wide levels, cut and classified. The tiles and the
normalisation are therefore exactly those of the in-memory path, so the answers are the same;
the probability map is kept at tile resolution (one value per tile per class,
``tile_probabilities``), never per pixel, so the process's RSS stays at one strip whatever the
image's size.

Limits: colour or multi-page TIFFs, compressions tifffile cannot decode segment by segment,
and images that would have to be resampled to the model's pixel size (or to a
``--tile-size`` other than the model's input) are not read by region (the last with a
message saying so).
"""

from __future__ import annotations

import math
from collections.abc import Generator
from pathlib import Path

import numpy as np

from crystalview.core.errors import CrystalViewError
from crystalview.core.memory import memory_budget_bytes
from crystalview.core.progress import CancelToken, Progress
from crystalview.core.tiling import TileGrid, extract_tiles, tile_grid
from crystalview.inference.image_kind import measure_image_kind
from crystalview.inference.preprocess import (
    apply_levels,
    intensity_levels,
    physical_scale,
    sample_positions,
)
from crystalview.inference.runner import BatchRunner
from crystalview.io.tiff_regions import RegionImage, locate_region_image, strided_read

WORKING_COPIES = 6
"""Bytes per stored byte an in-memory prediction needs (float32 copy, tiles, original)."""
PREVIEW_SIDE = 1024
STRIP_BYTES = 64 << 20
"""Largest normalised strip (float32) held at once; a quarter of the budget if that is less."""


def needs_regions(path: Path, budget_bytes: int) -> RegionImage | None:
    """The image's layout when ``path`` should be read by region under ``budget_bytes``."""
    if path.suffix.lower() not in (".tif", ".tiff", ".btf", ".tf8"):
        return None
    image = locate_region_image(path)
    if image is None or image.nbytes * WORKING_COPIES <= budget_bytes:
        return None
    return image


def _levels(image: RegionImage, normalization: dict, strip_rows: int):
    """The in-memory path's levels, from the same flat sample, read strip by strip."""
    height, width = image.shape
    step = sample_positions(height * width)
    parts = []
    for start in range(0, height, strip_rows):
        stop = min(height, start + strip_rows)
        first = -(-start * width // step) * step  # first sampled flat index in this strip
        flat = image.read_rows(start, stop).reshape(-1)
        chosen = flat[first - start * width :: step].astype(np.float64)
        parts.append(chosen[np.isfinite(chosen)])
    return intensity_levels(np.concatenate(parts), normalization)


def _row_chunks(row_starts: np.ndarray, tile: int, max_rows: int) -> list[slice]:
    """Consecutive tile rows grouped so each group spans at most ``max_rows`` image rows
    (at least one tile row per group): big strips keep the batches full."""
    chunks, begin = [], 0
    for index in range(1, len(row_starts) + 1):
        if index == len(row_starts) or row_starts[index] + tile - row_starts[begin] > max_rows:
            chunks.append(slice(begin, index))
            begin = index
    return chunks


def _preview(image: RegionImage) -> np.ndarray:
    """A strided read of about ``PREVIEW_SIDE``² pixels, for the cheap look at the image."""
    return strided_read(image, max(1, math.ceil(max(image.shape) / PREVIEW_SIDE)))


def region_tile_size(loaded, image: RegionImage, settings) -> int:
    """The model's tile side when ``image`` can be read by region for it, else a message.

    Region-wise reading works at the model's own scale only (no resampling) and for tiled
    models; heat maps of such images (`crystalview.cam.regions`) check the same.
    """
    manifest = loaded.manifest
    tile = int(manifest.input_size)
    scale = physical_scale(manifest, image.pixel_size, image.pixel_unit)
    if (settings.tile_size and int(settings.tile_size) != tile) or not math.isclose(scale, 1.0):
        raise CrystalViewError(
            f"{image.path.name} is larger than the memory budget and would need resampling "
            "(model pixel size or --tile-size); region-wise reading works at the model's own "
            "scale only: raise CRYSTALVIEW_MEMORY_BUDGET_MB or resample the mosaic first"
        )
    if manifest.input_mode == "whole":
        raise CrystalViewError(
            f"{image.path.name} is larger than the memory budget and the model reads whole "
            "images; shrink the image first"
        )
    if len(manifest.zooms) > 1:
        raise CrystalViewError(
            f"{image.path.name} is larger than the memory budget and the model reads each "
            "image at several resolutions, which region-wise reading does not do: raise "
            "CRYSTALVIEW_MEMORY_BUDGET_MB or crop the mosaic first"
        )
    return tile


def normalised_strips(
    image: RegionImage, grid: TileGrid, normalization: dict, cancel: CancelToken
) -> Generator[tuple[int, TileGrid, np.ndarray], None, None]:
    """``(first tile index, grid of the strip, normalised strip)`` for each strip of tile rows.

    The levels are the image-wide ones of the in-memory path, so the tiles cut from the strips
    are exactly that path's tiles; one strip is held at a time.
    """
    tile = grid.tile_size
    levels = _levels(image, normalization, max(tile, 256))
    n_cols = len(grid.col_starts)
    strip_bytes = min(STRIP_BYTES, max(1, memory_budget_bytes() // 4))
    for rows in _row_chunks(grid.row_starts, tile, strip_bytes // (4 * image.shape[1])):
        cancel.raise_if_cancelled()
        top = int(grid.row_starts[rows.start])
        strip = image.read_rows(top, int(grid.row_starts[rows.stop - 1]) + tile)
        normalised = apply_levels(strip, levels, normalization)
        del strip
        strip_grid = TileGrid(
            shape=normalised.shape,
            tile_size=tile,
            row_starts=grid.row_starts[rows] - top,
            col_starts=grid.col_starts,
        )
        yield rows.start * n_cols, strip_grid, normalised


def predict_regions(
    loaded,
    image: RegionImage,
    settings,
    runner: BatchRunner,
    cancel: CancelToken | None = None,
) -> Generator[Progress, None, object]:
    """Classify ``image`` strip by strip; returns an `ImagePrediction` without a pixel map."""
    from crystalview.inference.predict import CalibratedOutputs, tile_verdict

    cancel = cancel or CancelToken()
    manifest = loaded.manifest
    tile = region_tile_size(loaded, image, settings)
    grid = tile_grid(image.shape, tile, settings.overlap)
    calibrated = CalibratedOutputs(runner, manifest)
    tile_probs = np.empty((grid.n_tiles, manifest.num_classes), dtype=np.float32)
    batch = max(1, settings.batch_size)
    for first, strip_grid, normalised in normalised_strips(
        image, grid, manifest.normalization, cancel
    ):
        for start in range(0, strip_grid.n_tiles, batch):
            stop = min(strip_grid.n_tiles, start + batch)
            tiles = extract_tiles(normalised, strip_grid, slice(start, stop))
            tile_probs[first + start : first + stop] = calibrated(tiles)
            done = first + stop
            yield Progress(done, grid.n_tiles, f"tile {done}/{grid.n_tiles} (region-wise)")
    return tile_verdict(
        loaded,
        runner,
        tile_probs,
        grid.boxes,
        measure_image_kind(_preview(image)),
        calibrated.ood_score(),
        image.modality,
        probability_map=None,
        notes=[*runner.notes, "read region by region (larger than the memory budget)"],
    )
