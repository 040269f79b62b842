"""Tile-overlay dock: show the grid of tiles that tiled inference will cut the image into.

The grid comes from `crystalview.core.tiling.tile_grid`, the same function inference uses, so
what the user sees is exactly what the model will be given. Tile size can be set in pixels or,
for calibrated real-space images, in nanometres (converted with the image's pixel size).
"""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QRectF, Qt
from PySide6.QtGui import QColor, QPainterPath, QPen
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QGraphicsPathItem,
    QLabel,
    QWidget,
)

from crystalview.core.micrograph import Micrograph
from crystalview.gui.viewer import ImageViewer

LAYER_NAME = "tile-grid"


def tile_size_pixels(size: float, unit: str, micrograph: Micrograph | None) -> int | None:
    """Tile edge in image pixels, or ``None`` when nm were asked for an uncalibrated image."""
    if unit == "px":
        return max(1, round(size))
    if micrograph is None or micrograph.pixel_size is None or micrograph.pixel_unit != "nm":
        return None
    return max(1, round(size / micrograph.pixel_size))


def grid_path(boxes: np.ndarray) -> QPainterPath:
    """One painter path with a rectangle per ``(y0, x0, y1, x1)`` box."""
    path = QPainterPath()
    for y0, x0, y1, x1 in np.asarray(boxes, dtype=float):
        path.addRect(QRectF(x0, y0, x1 - x0, y1 - y0))
    return path


class TileOverlayDock(QWidget):
    """Controls for the tile-grid layer of an `ImageViewer`."""

    def __init__(self, viewer: ImageViewer, parent: QWidget | None = None):
        super().__init__(parent)
        self.viewer = viewer
        self.show_box = QCheckBox("Show tile grid")
        self.size_box = QDoubleSpinBox()
        self.size_box.setRange(1, 100_000)
        self.size_box.setDecimals(0)  # whole pixels; one decimal when the unit is nm
        self.size_box.setValue(224)
        self.unit_box = QComboBox()
        self.unit_box.addItems(["px", "nm"])
        self.overlap_box = QDoubleSpinBox()
        self.overlap_box.setRange(0, 90)
        self.overlap_box.setSuffix(" %")
        self.overlap_box.setValue(25)
        self.info = QLabel()
        self.info.setWordWrap(True)
        form = QFormLayout(self)
        form.addRow(self.show_box)
        form.addRow("Tile size", self.size_box)
        form.addRow("Unit", self.unit_box)
        form.addRow("Overlap", self.overlap_box)
        form.addRow(self.info)
        self.item = QGraphicsPathItem()
        pen = QPen(QColor(255, 210, 0, 220))
        pen.setCosmetic(True)
        pen.setWidthF(1.2)
        self.item.setPen(pen)
        self.item.setBrush(Qt.BrushStyle.NoBrush)
        viewer.add_layer(LAYER_NAME, self.item, z=20)
        for signal in (
            self.show_box.toggled,
            self.size_box.valueChanged,
            self.unit_box.currentTextChanged,
            self.overlap_box.valueChanged,
        ):
            signal.connect(self.refresh)
        self.unit_box.currentTextChanged.connect(
            lambda unit: self.size_box.setDecimals(0 if unit == "px" else 1)
        )
        self._whole_image_model = ""
        self.refresh()

    def set_whole_image_model(self, name: str | None) -> None:
        """The chosen model reads whole images (``name``), or tiles (``None``). The grid stays
        available as a drawing aid, but it then says plainly that it is not what the model
        sees, and it is switched off when such a model is chosen."""
        whole = bool(name)
        if whole and not self._whole_image_model:
            self.show_box.setChecked(False)
        self._whole_image_model = name or ""
        self.show_box.setToolTip(
            f"{name} reads the whole image, resized: it does not cut it into tiles" if whole else ""
        )
        self.refresh()

    def refresh(self, *_args) -> None:
        """Recompute the grid for the image on screen and the current settings."""
        micrograph = self.viewer.micrograph
        visible = self.show_box.isChecked() and micrograph is not None
        self.viewer.set_layer_visible(LAYER_NAME, visible)
        if micrograph is None:
            self.info.setText("No image.")
            return
        tile = tile_size_pixels(self.size_box.value(), self.unit_box.currentText(), micrograph)
        if tile is None:
            self.info.setText("This image has no real-space scale: give the tile size in px.")
            self.item.setPath(QPainterPath())
            return
        from crystalview.core.tiling import tile_grid

        grid = tile_grid(micrograph.shape, tile, self.overlap_box.value() / 100.0)
        boxes = np.asarray(grid.boxes)
        if visible:
            self.item.setPath(grid_path(boxes))
        text = f"{len(boxes)} tiles of {tile} x {tile} px"
        if self._whole_image_model:
            text += (
                f". Not what {self._whole_image_model} sees: it reads the whole image, resized "
                "to its input."
            )
        self.info.setText(text)
