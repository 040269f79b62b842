"""Blend per-tile heat maps into one map of the tiled image.

`crystalview.core.tiling.stitch_tiles` blends one *vector* per tile (class probabilities); heat
maps carry a full picture per tile, so here each tile's map is painted with the same tent weight
(highest at the tile centre, normalised so overlapping weights sum to one). Tile seams stay soft
and a pixel's value is a weighted mean of the maps of the tiles that cover it — never a sum, so
overlaps do not brighten.
"""

from __future__ import annotations

import numpy as np

from crystalview.core.tiling import TileGrid

_MIN_WEIGHT = 1e-3  # a pixel at a tile's very edge still counts when no other tile covers it


def _tent_weights(starts: np.ndarray, tile_size: int, length: int) -> np.ndarray:
    """``(n_starts, tile_size)``: each tile's weight at each of its pixels along one axis,
    normalised over the tiles covering that pixel (zero past the image edge)."""
    pixels = np.arange(length) + 0.5
    local = pixels[None, :] - starts[:, None]
    inside = (local >= 0) & (local < tile_size)
    tent = np.maximum(1.0 - np.abs(2.0 * local / tile_size - 1.0), _MIN_WEIGHT)
    weights = np.where(inside, tent, 0.0)
    weights /= np.maximum(weights.sum(axis=0, keepdims=True), np.finfo(np.float64).tiny)
    per_tile = np.zeros((len(starts), tile_size))
    for index, start in enumerate(starts):
        span = min(tile_size, length - int(start))
        per_tile[index, :span] = weights[index, start : start + span]
    return per_tile.astype(np.float32)


class TileMapBlender:
    """Accumulates per-tile maps ``(T, T)`` batch by batch into one ``grid.shape`` map.

    Feeding tiles in batches keeps memory at one batch of full-size tile maps, however many
    tiles a large image has.
    """

    def __init__(self, grid: TileGrid) -> None:
        self.grid = grid
        height, width = grid.shape
        self._wy = _tent_weights(grid.row_starts, grid.tile_size, height)
        self._wx = _tent_weights(grid.col_starts, grid.tile_size, width)
        self._out = np.zeros((height, width), dtype=np.float32)
        self._added = 0

    def add(self, first_index: int, maps: np.ndarray) -> None:
        """Add the maps of tiles ``first_index, first_index + 1, …`` (row-major grid order)."""
        height, width = self.grid.shape
        n_cols = len(self.grid.col_starts)
        for offset, tile_map in enumerate(np.asarray(maps, dtype=np.float32)):
            row, col = divmod(first_index + offset, n_cols)
            y0, x0 = int(self.grid.row_starts[row]), int(self.grid.col_starts[col])
            h, w = min(self.grid.tile_size, height - y0), min(self.grid.tile_size, width - x0)
            weight = self._wy[row, :h, None] * self._wx[col, None, :w]
            self._out[y0 : y0 + h, x0 : x0 + w] += weight * tile_map[:h, :w]
        self._added += len(maps)

    def result(self) -> np.ndarray:
        """The blended map; every tile of the grid must have been added."""
        if self._added != self.grid.n_tiles:
            raise ValueError(f"{self._added} tile maps added to a grid of {self.grid.n_tiles}")
        return self._out


def blend_tile_maps(maps: np.ndarray, grid: TileGrid) -> np.ndarray:
    """All tile maps ``(n, T, T)`` at once → the blended ``grid.shape`` map."""
    blender = TileMapBlender(grid)
    blender.add(0, maps)
    return blender.result()
