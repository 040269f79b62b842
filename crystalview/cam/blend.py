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
    normalised over the tiles covering that pixel (zero past the image edge).

    Built tile by tile over one line of ``length`` sums, never a tiles × length table, so a
    40,000-pixel mosaic costs a few hundred kilobytes here.
    """
    local = np.arange(tile_size) + 0.5
    tent = np.maximum(1.0 - np.abs(2.0 * local / tile_size - 1.0), _MIN_WEIGHT)
    total = np.zeros(length)
    spans = [min(tile_size, length - int(start)) for start in starts]
    for start, span in zip(starts, spans, strict=True):
        total[int(start) : int(start) + span] += tent[:span]
    total = np.maximum(total, np.finfo(np.float64).tiny)
    per_tile = np.zeros((len(starts), tile_size))
    for index, (start, span) in enumerate(zip(starts, spans, strict=True)):
        per_tile[index, :span] = tent[:span] / total[int(start) : int(start) + span]
    return per_tile.astype(np.float32)


def _sampled(start: int, span: int, step: int) -> tuple[slice, slice]:
    """Where the every-``step``-th pixels inside ``start … start + span - 1`` lie: a slice of
    the tile's own pixels and the matching slice of the sampled map."""
    first = -(-start // step) * step
    count = max(0, -(-(start + span - first) // step))
    return slice(first - start, first - start + count * step, step), slice(
        first // step, first // step + count
    )


class TileMapBlender:
    """Accumulates per-tile maps ``(T, T)`` batch by batch into one ``grid.shape`` map.

    Feeding tiles in batches keeps memory at one batch of full-size tile maps, however many
    tiles a large image has. With ``step`` > 1 only every ``step``-th pixel of every
    ``step``-th row is kept (the map of ``image[::step, ::step]``), so the map of a mosaic
    larger than memory stays small; its values are those of the full map at those pixels.
    """

    def __init__(self, grid: TileGrid, step: int = 1) -> None:
        self.grid = grid
        self.step = max(1, int(step))
        height, width = grid.shape
        self._wy = _tent_weights(grid.row_starts, grid.tile_size, height)
        self._wx = _tent_weights(grid.col_starts, grid.tile_size, width)
        shape = (-(-height // self.step), -(-width // self.step))
        self._out = np.zeros(shape, dtype=np.float32)
        self._added = 0

    def add(self, first_index: int, maps: np.ndarray) -> None:
        """Add the maps of tiles ``first_index, first_index + 1, …`` (row-major grid order)."""
        height, width = self.grid.shape
        n_cols = len(self.grid.col_starts)
        for offset, tile_map in enumerate(np.asarray(maps, dtype=np.float32)):
            row, col = divmod(first_index + offset, n_cols)
            y0, x0 = int(self.grid.row_starts[row]), int(self.grid.col_starts[col])
            h, w = min(self.grid.tile_size, height - y0), min(self.grid.tile_size, width - x0)
            in_y, out_y = _sampled(y0, h, self.step)
            in_x, out_x = _sampled(x0, w, self.step)
            weight = self._wy[row, in_y, None] * self._wx[col, None, in_x]
            self._out[out_y, out_x] += weight * tile_map[in_y, in_x]
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
