"""Heat maps of TIFF mosaics larger than memory: computed tile by tile, kept downsampled.

`compute_cam` holds the whole image and a full-resolution map of it; for a mosaic over the
memory budget neither fits. `compute_region_cam` reads the image strip by strip through the
same region readers and normalisation as region-wise inference
(`crystalview.inference.regions.normalised_strips`), explains each batch of tiles with the
same `BatchExplainer` as `compute_cam`, and blends the tile maps straight into a map of every
``step``-th pixel of every ``step``-th row (`TileMapBlender` with a step). Its values are
those of the full-resolution map at those pixels, only normalised over the sampled pixels, so
the map equals ``compute_cam(...).heatmap[::step, ::step]`` up to the peak, and the memory is
one strip plus the small map, however large the mosaic.
"""

from __future__ import annotations

import math
from collections.abc import Generator

import numpy as np
import torch

from crystalview.cam.blend import TileMapBlender
from crystalview.cam.compute import (
    IMAGE_SPACE_TRANSFORMS,
    BatchExplainer,
    CamResult,
    _batches,
    _upsample,
    normalise_map,
    resolve_method,
    resolve_target,
)
from crystalview.cam.layers import resolve_layer
from crystalview.core.errors import CrystalViewError
from crystalview.core.progress import CancelToken, Progress
from crystalview.core.tiling import extract_tiles, tile_grid
from crystalview.inference.predict import InferenceSettings, make_runner
from crystalview.inference.regions import normalised_strips, region_tile_size
from crystalview.io.tiff_regions import RegionImage

MAP_SIDE = 4096
"""Longest side of a downsampled heat map (64 MiB as float32) whatever the memory budget."""
MAP_COPIES = 4
"""Bytes per map byte held while it is written (map, overlay picture, resized copies)."""


def map_step(shape: tuple[int, int], budget: int) -> int:
    """The smallest whole step whose sampled map (float32, with the reduced image for the
    overlay) fits a quarter of ``budget`` and has at most ``MAP_SIDE`` pixels a side."""
    height, width = shape
    step = max(1, math.ceil(max(height, width) / MAP_SIDE))
    while -(-height // step) * -(-width // step) * 4 * MAP_COPIES > budget // 4:
        step += 1
    return step


def compute_region_cam(
    loaded,
    image: RegionImage,
    target: int | str,
    step: int,
    method: str = "auto",
    layer: str | None = None,
    settings: InferenceSettings | None = None,
    cancel: CancelToken | None = None,
) -> Generator[Progress, None, CamResult]:
    """The heat map of ``target`` over ``image``, at every ``step``-th pixel (progress per batch).

    The class must be given (the batch run explains its answer): finding it first would read
    the whole mosaic once more. Raises `CrystalViewError` for models the region-wise path
    cannot feed (resampling, whole-image or autocorrelation models).
    """
    settings = settings or InferenceSettings()
    cancel = cancel or CancelToken()
    manifest = loaded.manifest
    tile = region_tile_size(loaded, image, settings)
    if manifest.transform in IMAGE_SPACE_TRANSFORMS:
        raise CrystalViewError(
            f"{image.path.name} is larger than the memory budget, and heat maps of models that "
            "read the autocorrelation are made by occluding the whole image"
        )
    method = resolve_method(method, loaded.model)
    if method == "occlusion":
        layer_name = None
    elif method == "cam":
        layer_name = list(loaded.model.conv_layers())[-1]
    else:
        layer_name = resolve_layer(loaded.model, layer)[0]
    target_index = resolve_target(target, list(manifest.classes))
    runner = make_runner(loaded, settings)
    explainer = BatchExplainer.of(loaded, runner, method, layer_name, settings)
    grid = tile_grid(image.shape, tile, settings.overlap)
    blender = TileMapBlender(grid, step)
    batch = 1 if method == "occlusion" else max(1, settings.batch_size)
    probability_sum = np.zeros(manifest.num_classes, dtype=np.float64)
    for first, strip_grid, normalised in normalised_strips(
        image, grid, manifest.normalization, cancel
    ):
        for part in _batches(strip_grid.n_tiles, batch):
            cancel.raise_if_cancelled()
            tiles = extract_tiles(normalised, strip_grid, part)
            maps, logits = explainer(tiles, target_index, cancel)
            if method == "cam":
                maps = maps[:, target_index : target_index + 1]
            tile_maps = _upsample(maps.float(), (tile, tile))[:, 0].cpu().numpy()
            blender.add(first + part.start, tile_maps)
            probability_sum += torch.softmax(logits, dim=1).sum(dim=0).double().numpy()
            done = first + part.stop
            yield Progress(done, grid.n_tiles, f"heat map ({method}), tile {done}/{grid.n_tiles}")
    heatmap, peak = normalise_map(blender.result())
    return CamResult(
        heatmap=heatmap,
        target_class=target_index,
        method=method,
        layer=layer_name,
        class_name=manifest.classes[target_index],
        peak=peak,
        n_tiles=grid.n_tiles,
        probabilities=(probability_sum / grid.n_tiles).astype(np.float32),
        downsampled=step,
    )
