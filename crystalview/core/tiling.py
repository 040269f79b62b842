"""Cutting an image into overlapping square tiles and blending per-tile values back together.

The grid is the product of row starts and column starts, evenly spaced so that neighbours
overlap by at least the requested fraction and the last tile sits flush with the image edge:
every pixel is covered. Because the grid is regular, stitching per-tile values with a tent
weight is separable and reduces to two small matrix products per class, instead of a Python
loop that paints tiles one by one.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

_MIN_WEIGHT = 1e-3  # keeps edge pixels covered by a single tile from dividing by zero


@dataclass(frozen=True)
class TileGrid:
    """Tile positions over an image of ``shape``.

    Attributes
    ----------
    shape
        ``(H, W)`` of the tiled image.
    tile_size
        Side of every (square) tile in pixels. When the image is smaller than a tile along an
        axis, that axis has one tile that extends past the edge (`extract_tiles` pads it).
    row_starts, col_starts
        Top and left coordinates of the tile rows and columns.
    """

    shape: tuple[int, int]
    tile_size: int
    row_starts: np.ndarray
    col_starts: np.ndarray

    @property
    def n_tiles(self) -> int:
        return len(self.row_starts) * len(self.col_starts)

    @property
    def boxes(self) -> np.ndarray:
        """``(n, 4)`` int boxes ``y0, x0, y1, x1`` in row-major order, clipped to the image."""
        ys, xs = np.meshgrid(self.row_starts, self.col_starts, indexing="ij")
        ys, xs = ys.ravel(), xs.ravel()
        h, w = self.shape
        y1 = np.minimum(ys + self.tile_size, h)
        x1 = np.minimum(xs + self.tile_size, w)
        return np.stack([ys, xs, y1, x1], axis=1).astype(np.int64)


def _axis_starts(length: int, tile_size: int, overlap: float) -> np.ndarray:
    if length <= tile_size:
        return np.zeros(1, dtype=np.int64)
    stride = max(1, int(np.floor(tile_size * (1.0 - overlap))))
    count = int(np.ceil((length - tile_size) / stride)) + 1
    # Even spacing never exceeds the nominal stride, so overlaps are at least the stated one.
    return np.round(np.linspace(0, length - tile_size, count)).astype(np.int64)


def tile_grid(shape: tuple[int, int], tile_size: int, overlap: float = 0.25) -> TileGrid:
    """A grid of ``tile_size`` tiles over ``shape`` with at least ``overlap`` (fraction) overlap."""
    if tile_size < 1:
        raise ValueError(f"tile size must be positive, got {tile_size}")
    if not 0.0 <= overlap < 1.0:
        raise ValueError(f"overlap must be in [0, 1), got {overlap}")
    h, w = int(shape[0]), int(shape[1])
    if h < 1 or w < 1:
        raise ValueError(f"cannot tile an empty image of shape {shape}")
    return TileGrid(
        shape=(h, w),
        tile_size=int(tile_size),
        row_starts=_axis_starts(h, tile_size, overlap),
        col_starts=_axis_starts(w, tile_size, overlap),
    )


def extract_tiles(
    image: np.ndarray, grid: TileGrid, indices: slice | np.ndarray | None = None
) -> np.ndarray:
    """Tiles ``(n, T, T)`` (all, or those at ``indices`` in row-major order), as a new array.

    Axes shorter than a tile are padded by reflection so the network sees plausible texture
    rather than a black band.
    """
    if image.shape[:2] != grid.shape:
        raise ValueError(f"image shape {image.shape} does not match the grid's {grid.shape}")
    t = grid.tile_size
    pad_y, pad_x = max(0, t - image.shape[0]), max(0, t - image.shape[1])
    if pad_y or pad_x:
        mode = "reflect" if min(image.shape[:2]) > 1 else "edge"
        image = np.pad(image, ((0, pad_y), (0, pad_x)), mode=mode)
    windows = np.lib.stride_tricks.sliding_window_view(image, (t, t))
    n_cols = len(grid.col_starts)
    flat = np.arange(grid.n_tiles)
    if indices is not None:
        flat = flat[indices]
    rows, cols = np.divmod(flat, n_cols)
    return windows[grid.row_starts[rows], grid.col_starts[cols]]


def _axis_weights(starts: np.ndarray, tile_size: int, length: int, out_length: int) -> np.ndarray:
    """``(n_starts, out_length)`` tent weights of each tile at each output pixel, normalised."""
    scale = length / out_length
    centres = (np.arange(out_length) + 0.5) * scale  # output pixel centres in grid pixels
    local = centres[None, :] - starts[:, None]  # position inside each tile
    inside = (local >= 0) & (local < tile_size)
    tent = 1.0 - np.abs(2.0 * local / tile_size - 1.0)
    weights = np.where(inside, np.maximum(tent, _MIN_WEIGHT), 0.0)
    total = weights.sum(axis=0, keepdims=True)
    return weights / np.where(total > 0, total, 1.0)


def stitch_tiles(
    values: np.ndarray, grid: TileGrid, shape: tuple[int, int] | None = None
) -> np.ndarray:
    """Blend per-tile vectors ``(n, k)`` into maps ``(k, H, W)`` with smooth overlaps.

    Each tile contributes its vector with a tent weight that is highest at its centre, so tile
    seams are soft. ``shape`` is the output size (the grid's by default); a different size maps
    output pixel centres into grid coordinates, e.g. to return a map in the original image's
    pixels when tiling ran on a resampled copy.
    """
    values = np.asarray(values, dtype=np.float32)
    if values.ndim == 1:
        values = values[:, None]
    if values.shape[0] != grid.n_tiles:
        raise ValueError(f"{values.shape[0]} tile values for a grid of {grid.n_tiles} tiles")
    out_h, out_w = shape if shape is not None else grid.shape
    wy = _axis_weights(grid.row_starts, grid.tile_size, grid.shape[0], out_h).astype(np.float32)
    wx = _axis_weights(grid.col_starts, grid.tile_size, grid.shape[1], out_w).astype(np.float32)
    per_tile = values.reshape(len(grid.row_starts), len(grid.col_starts), -1)
    out = np.empty((per_tile.shape[2], out_h, out_w), dtype=np.float32)
    for k in range(per_tile.shape[2]):
        np.matmul(wy.T, per_tile[:, :, k] @ wx, out=out[k])
    return out
