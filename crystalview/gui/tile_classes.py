"""Per-tile class overlay: every tile of a classified image painted in its class colour.

Tiles overlap, so each pixel takes the class of the tile whose centre is nearest (the cells of
the regular tile grid), which paints every tile's own region once. The overlay is computed at
a reduced resolution (at most `MAX_OVERLAY_SIDE` pixels a side) and stretched over the image,
so even a 16k x 16k image costs a few hundred kilobytes of texture.

`class_colour` is the single source of class colours: gallery badges, the probability bars,
the legend and this overlay all use it, so one class always has one colour.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QRectF
from PySide6.QtGui import QColor, QPen
from PySide6.QtWidgets import QGraphicsRectItem

MAX_OVERLAY_SIDE = 512
# Colour-blind-friendly first (Okabe-Ito), then well-separated extras.
_PALETTE = (
    "#0072B2",
    "#E69F00",
    "#009E73",
    "#D55E00",
    "#CC79A7",
    "#56B4E9",
    "#F0E442",
    "#8C564B",
    "#7F7F7F",
    "#17BECF",
)


def class_colour(index: int) -> QColor:
    """The colour of class ``index`` (a fixed palette, then golden-ratio hues beyond it)."""
    if 0 <= index < len(_PALETTE):
        return QColor(_PALETTE[index])
    hue = (index * 0.618033988749895) % 1.0
    return QColor.fromHsvF(hue, 0.75, 0.9)


def tile_index_map(
    boxes: np.ndarray, shape: tuple[int, int], max_side: int = MAX_OVERLAY_SIDE
) -> np.ndarray:
    """For a grid of ``boxes`` (``y0, x0, y1, x1``), the index of the tile owning each pixel.

    Returns an int array of at most ``max_side`` pixels a side covering ``shape``; pixels no
    tile covers are -1. A pixel belongs to the tile whose centre is nearest along each axis,
    which for the row-major grids of `crystalview.core.tiling` splits overlaps down the middle.
    """
    boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    height, width = int(shape[0]), int(shape[1])
    step = max(1, int(np.ceil(max(height, width) / max_side)))
    ys = np.arange(0, height, step) + step / 2.0
    xs = np.arange(0, width, step) + step / 2.0
    if len(boxes) == 0:
        return np.full((len(ys), len(xs)), -1, dtype=np.int32)
    centre_y = (boxes[:, 0] + boxes[:, 2]) / 2.0
    centre_x = (boxes[:, 1] + boxes[:, 3]) / 2.0
    rows, cols = np.unique(centre_y), np.unique(centre_x)
    lookup = np.full((len(rows), len(cols)), -1, dtype=np.int32)
    lookup[np.searchsorted(rows, centre_y), np.searchsorted(cols, centre_x)] = np.arange(
        len(boxes), dtype=np.int32
    )
    if (lookup < 0).any():
        return _painted_index_map(boxes, ys, xs)
    row_of = np.searchsorted((rows[1:] + rows[:-1]) / 2.0, ys)
    col_of = np.searchsorted((cols[1:] + cols[:-1]) / 2.0, xs)
    owner = lookup[row_of[:, None], col_of[None, :]]
    inside = _covered(boxes, ys, xs)
    return np.where(inside, owner, -1).astype(np.int32)


def _covered(boxes: np.ndarray, ys: np.ndarray, xs: np.ndarray) -> np.ndarray:
    """Pixels inside the grid's bounding box (a grid has no holes)."""
    in_y = (ys >= boxes[:, 0].min()) & (ys < boxes[:, 2].max())
    in_x = (xs >= boxes[:, 1].min()) & (xs < boxes[:, 3].max())
    return in_y[:, None] & in_x[None, :]


def _painted_index_map(boxes: np.ndarray, ys: np.ndarray, xs: np.ndarray) -> np.ndarray:
    """Fallback for irregular box sets: later tiles paint over earlier ones."""
    out = np.full((len(ys), len(xs)), -1, dtype=np.int32)
    for index, (y0, x0, y1, x1) in enumerate(boxes):
        rows = (ys >= y0) & (ys < y1)
        cols = (xs >= x0) & (xs < x1)
        out[np.ix_(rows, cols)] = index
    return out


def class_overlay_rgba(
    boxes: np.ndarray,
    tile_probabilities: np.ndarray,
    shape: tuple[int, int],
    max_side: int = MAX_OVERLAY_SIDE,
) -> np.ndarray:
    """RGBA uint8 image of each tile's most probable class (transparent where no tile is)."""
    owner = tile_index_map(boxes, shape, max_side)
    probabilities = np.asarray(tile_probabilities, dtype=np.float32)
    if len(boxes) == 0:
        return np.zeros((*owner.shape, 4), dtype=np.uint8)
    n_classes = probabilities.shape[1]
    table = np.zeros((n_classes + 1, 4), dtype=np.uint8)  # the last row stays transparent
    for index in range(n_classes):
        colour = class_colour(index)
        table[index] = (colour.red(), colour.green(), colour.blue(), 255)
    # each tile's class, plus a final "no tile" entry that owner == -1 indexes
    tile_class = np.append(probabilities.argmax(axis=1), n_classes)
    return table[tile_class[owner]]


class TileClassLayer(pg.ImageItem):
    """The overlay item: an RGBA image stretched over the micrograph's pixel rectangle."""

    def show_tiles(
        self, boxes: np.ndarray, tile_probabilities: np.ndarray, shape: tuple[int, int]
    ) -> None:
        """Paint the tiles of one prediction over an image of ``shape`` (rows, columns)."""
        rgba = class_overlay_rgba(boxes, tile_probabilities, shape)
        self.setImage(rgba, autoLevels=False, levels=(0, 255))
        self.setRect(QRectF(0, 0, shape[1], shape[0]))

    def clear_tiles(self) -> None:
        self.clear()


class TileHighlight(QGraphicsRectItem):
    """An outline around one tile (the row selected in the results table)."""

    def __init__(self) -> None:
        super().__init__()
        pen = QPen(QColor("white"))
        pen.setCosmetic(True)
        pen.setWidthF(2.5)
        self.setPen(pen)
        self.hide()

    def show_box(self, box) -> None:
        y0, x0, y1, x1 = (float(v) for v in box)
        self.setRect(QRectF(x0, y0, x1 - x0, y1 - y0))
        self.show()
