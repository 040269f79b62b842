"""Tile-overlay dock: show the grid of tiles that tiled inference will cut the image into.

On its own the dock draws a `crystalview.core.tiling.tile_grid` of the size it is given, in
pixels or, for calibrated real-space images, in nanometres (converted with the image's pixel
size). When it follows a model's run settings (`follow`, the model dock's "Show the tile grid"),
it draws `crystalview.inference.plan.plan_input`'s boxes, the very plan prediction and heat maps
use, so what the user sees is exactly what the model will be given, resampling included; edits
made here then change those settings.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING, Protocol

import numpy as np
from PySide6.QtCore import QRectF, Qt, Signal, SignalInstance
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
from crystalview.core.tiling import tile_grid
from crystalview.gui.viewer import ImageViewer
from crystalview.inference.plan import InputPlan, physical_scale, plan_input
from crystalview.inference.settings import MIN_TILE_SIZE, InferenceSettings

if TYPE_CHECKING:
    from crystalview.models.catalog import ModelEntry

LAYER_NAME = "tile-grid"


class RunSettingsSource(Protocol):
    """What the overlay follows: the chosen model and the settings it runs with (model dock)."""

    settings_changed: SignalInstance

    def run_settings(self) -> InferenceSettings: ...

    def set_run_settings(self, settings: InferenceSettings) -> None: ...

    def current_model_entry(self) -> ModelEntry | None: ...


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
    """Controls for the tile-grid layer of an `ImageViewer`.

    ``shown_changed(bool)``: the grid was turned on or off (here or by `set_shown`).
    """

    shown_changed = Signal(bool)

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
        self._source: RunSettingsSource | None = None
        self._whole_image_model = ""
        self.boxes = np.zeros((0, 4), dtype=np.int64)
        """The boxes ``y0, x0, y1, x1`` (image pixels) of the grid last computed."""
        self.show_box.toggled.connect(self.refresh)
        self.show_box.toggled.connect(self.shown_changed)
        for signal in (
            self.size_box.valueChanged,
            self.unit_box.currentTextChanged,
            self.overlap_box.valueChanged,
        ):
            signal.connect(self._on_edited)
        self.unit_box.currentTextChanged.connect(
            lambda unit: self.size_box.setDecimals(0 if unit == "px" else 1)
        )
        self.refresh()

    def set_shown(self, shown: bool) -> None:
        self.show_box.setChecked(shown)

    def follow(self, source: RunSettingsSource | None) -> None:
        """Draw the plan of ``source``'s model and settings (``None``: this dock's own grid)."""
        if self._source is not None:
            self._source.settings_changed.disconnect(self.refresh)
        self._source = source
        if source is not None:
            source.settings_changed.connect(self.refresh)
        self.refresh()

    def _plan(self) -> tuple[InputPlan, ModelEntry] | None:
        """The followed model's plan for the image on screen, or None when not following."""
        micrograph = self.viewer.micrograph
        model = self._source.current_model_entry() if self._source is not None else None
        if micrograph is None or model is None:
            return None
        settings = self._source.run_settings()
        plan = plan_input(
            model.manifest, micrograph.shape, micrograph.pixel_size, micrograph.pixel_unit, settings
        )
        return plan, model

    def _image_pixels_per_model_pixel(self) -> float:
        micrograph, model = self.viewer.micrograph, self._source.current_model_entry()
        if micrograph is None or model is None:
            return 1.0
        scale = physical_scale(model.manifest, micrograph.pixel_size, micrograph.pixel_unit)
        return 1.0 / scale

    def _set_quietly(self, unit: str, size: float, overlap: float) -> None:
        boxes = (self.unit_box, self.size_box, self.overlap_box)
        for box in boxes:
            box.blockSignals(True)
        self.unit_box.setCurrentText(unit)
        self.size_box.setValue(size)
        self.overlap_box.setValue(overlap)
        for box in boxes:
            box.blockSignals(False)

    def _on_edited(self, *_args) -> None:
        """The user edited a box: a followed model runs with it from now on."""
        if self._source is None or self._source.current_model_entry() is None:
            self.refresh()
            return
        pixels = tile_size_pixels(
            self.size_box.value(), self.unit_box.currentText(), self.viewer.micrograph
        )
        settings = self._source.run_settings()
        if settings.tile_size is not None and pixels is not None:
            tile = max(MIN_TILE_SIZE, round(pixels / self._image_pixels_per_model_pixel()))
            settings = replace(settings, tile_size=tile)
        self._source.set_run_settings(replace(settings, overlap=self.overlap_box.value() / 100.0))

    def note_model(self, model: ModelEntry | None) -> None:
        """The model chosen for classification. A whole-image model never sees tiles, so the
        grid is switched off when one is chosen; it stays available as a drawing aid, with a
        warning that it is not what the model reads."""
        whole = model.name if model is not None and model.manifest.input_mode != "tiles" else ""
        if whole == self._whole_image_model:
            return
        self._whole_image_model = whole
        tip = f"{whole} reads the whole image, resized: it does not cut it into tiles"
        self.show_box.setToolTip(tip if whole else "")
        if whole:
            self.show_box.setChecked(False)
        self.refresh()

    def refresh(self, *_args) -> None:
        """Recompute the grid for the image on screen and the current settings."""
        micrograph = self.viewer.micrograph
        visible = self.show_box.isChecked() and micrograph is not None
        self.viewer.set_layer_visible(LAYER_NAME, visible)
        if micrograph is None:
            self.info.setText("No image.")
            return
        planned = self._plan()
        if planned is not None:  # show the followed settings in this dock's boxes, image px
            plan, model = planned
            boxes = plan.boxes
            tile = self._source.run_settings().tile_size or model.manifest.input_size
            overlap = self._source.run_settings().overlap * 100.0
            self._set_quietly("px", tile * self._image_pixels_per_model_pixel(), overlap)
            if plan.whole:
                text = f"Not what {model.name} sees: it reads the whole image, resized to its input"
            else:
                side = plan.input_size / plan.zoom
                text = (
                    f"{len(boxes)} tiles of {side:.4g} x {side:.4g} px, as {model.name} reads them"
                )
        else:
            tile = tile_size_pixels(self.size_box.value(), self.unit_box.currentText(), micrograph)
            if tile is None:
                self.info.setText("This image has no real-space scale: give the tile size in px.")
                self.item.setPath(QPainterPath())
                return
            boxes = tile_grid(micrograph.shape, tile, self.overlap_box.value() / 100.0).boxes
            text = f"{len(boxes)} tiles of {tile} x {tile} px"
        self.boxes = boxes
        if visible:
            self.item.setPath(grid_path(boxes))
        if self._whole_image_model:
            text += (
                f". Not what {self._whole_image_model} sees: it reads the whole image, resized "
                "to its input."
            )
        self.info.setText(text)
