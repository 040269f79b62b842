"""The image viewer: one micrograph with contrast, colour map, scale bar, read-out and layers.

Display never changes the data. For the log view (the default for diffraction) the viewer shows
``log1p(data - min)`` and translates levels to and from data units, while the cursor read-out
always reports the raw value. Other features draw on top through named *layers* (`add_layer`):
the tile grid now, per-tile class colours and class-activation heat maps later.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QPointF, Qt, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QGraphicsItem,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSizePolicy,
    QSlider,
    QVBoxLayout,
    QWidget,
)

from crystalview.core.micrograph import Micrograph
from crystalview.core.units import format_length
from crystalview.gui.detail import DetailLayer
from crystalview.gui.scalebar import ScaleBar
from crystalview.io.display import auto_levels

pg.setConfigOptions(imageAxisOrder="row-major", antialias=False)

COLOR_MAPS = ("grey", "inferno", "viridis", "magma", "cividis", "turbo")


def color_map(name: str) -> pg.ColorMap:
    """A pyqtgraph colour map by name; ``"grey"`` is the plain black-to-white ramp."""
    if name == "grey":
        return pg.ColorMap([0.0, 1.0], [(0, 0, 0), (255, 255, 255)], name="grey")
    return pg.colormap.get(name)


@dataclass
class Layer:
    """A graphics item drawn over the image, in image pixel coordinates."""

    name: str
    item: QGraphicsItem


class ImageViewer(QWidget):
    """Shows one `Micrograph` (any frame) with levels, colour map, scale bar and overlays.

    Signals
    -------
    cursor_moved(str)
        Read-out text for the pixel under the mouse ("" when outside the image).
    frame_changed(int)
        The shown frame of a stack.
    levels_changed(float, float)
        Levels in data units after the user or auto-contrast changed them.
    """

    cursor_moved = Signal(str)
    frame_changed = Signal(int)
    levels_changed = Signal(float, float)

    def __init__(self, parent: QWidget | None = None, default_color_map: str = "grey"):
        super().__init__(parent)
        self.micrograph: Micrograph | None = None
        self.frame_index = 0
        self._frame_raw: np.ndarray | None = None
        self._log_offset = 0.0
        self._layers: dict[str, Layer] = {}
        self.readout_extras: list[Callable[[float, float], str]] = []
        """Functions of image coordinates ``(x, y)`` whose text joins the cursor read-out
        (the diffraction tool adds |g| and d from the beam centre)."""

        self.graphics = pg.GraphicsLayoutWidget()
        self.graphics.setBackground("#202124")
        self.view_box = self.graphics.addViewBox()
        self.view_box.setAspectLocked(True)
        self.view_box.invertY(True)
        self.view_box.setMenuEnabled(False)
        self.image_item = pg.ImageItem()
        self.view_box.addItem(self.image_item)
        self.scale_bar = ScaleBar(self.view_box)

        self.histogram = pg.HistogramLUTWidget(image=self.image_item)
        self.histogram.setMinimumWidth(110)
        self.histogram.item.sigLevelChangeFinished.connect(self._emit_levels)

        self.log_box = QCheckBox("Log")
        self.log_box.setToolTip("Logarithmic contrast (on by default for diffraction patterns)")
        self.log_box.toggled.connect(self._on_log_toggled)
        self.cmap_box = QComboBox()
        self.cmap_box.addItems(COLOR_MAPS)
        self.cmap_box.setToolTip("Colour map")
        self.cmap_box.currentTextChanged.connect(self.set_color_map)
        self.auto_button = QPushButton("Auto contrast")
        self.auto_button.setToolTip("Reset the levels to robust percentiles (A)")
        self.auto_button.clicked.connect(self.auto_contrast)
        self.fit_button = QPushButton("Fit")
        self.fit_button.setToolTip("Show the whole image (F)")
        self.fit_button.clicked.connect(self.fit)

        self.frame_slider = QSlider(Qt.Orientation.Horizontal)
        self.frame_slider.valueChanged.connect(self.set_frame)
        self.frame_label = QLabel()
        self.readout = QLabel(" ")
        self.readout.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        # The read-out changes with every mouse move: if its text set the viewer's minimum width,
        # hovering a long |g|/d line would squeeze the docks or grow the window under the cursor.
        # So its width follows the viewer's, and a line too long for a narrow viewer wraps onto
        # a second line that is always reserved (the image never changes height either).
        self.readout.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Fixed)
        self.readout.setWordWrap(True)
        self.readout.setFixedHeight(2 * self.readout.fontMetrics().lineSpacing() + 2)
        self.reduced_notice = QLabel()
        self.reduced_notice.setObjectName("reducedNotice")
        self.reduced_notice.setWordWrap(True)
        self.reduced_notice.setStyleSheet(
            "#reducedNotice { background: #5c4a00; color: #fff3c4; padding: 4px 8px; }"
        )
        self.reduced_notice.hide()

        controls = QHBoxLayout()
        controls.addWidget(self.fit_button)
        controls.addWidget(self.auto_button)
        controls.addWidget(self.log_box)
        controls.addWidget(QLabel("Colours:"))
        controls.addWidget(self.cmap_box)
        controls.addWidget(self.frame_label)
        controls.addWidget(self.frame_slider, 1)
        controls.addStretch(0)
        image_row = QHBoxLayout()
        image_row.addWidget(self.graphics, 1)
        image_row.addWidget(self.histogram)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.reduced_notice)
        layout.addLayout(image_row, 1)
        layout.addLayout(controls)
        layout.addWidget(self.readout)

        self._mouse_proxy = pg.SignalProxy(
            self.graphics.scene().sigMouseMoved, rateLimit=30, slot=self._on_mouse_moved
        )
        self.detail = DetailLayer(self)
        """Full-resolution patches where a mosaic shown reduced is zoomed in."""
        self.histogram.item.sigLevelsChanged.connect(self.detail.sync_display)
        self.histogram.item.sigLookupTableChanged.connect(self.detail.sync_display)
        self.set_color_map(default_color_map)
        self._show_frame_controls(1)

    # -- content -------------------------------------------------------------------------------

    def set_micrograph(self, micrograph: Micrograph | None) -> None:
        """Show ``micrograph`` (first frame) with automatic contrast, or clear the view."""
        self.micrograph = micrograph
        self.frame_index = 0
        self.readout.setText(" ")  # the old read-out described another image
        self._show_reduced_notice(micrograph)
        self.detail.set_micrograph(micrograph)
        if micrograph is None:
            self._frame_raw = None
            self.image_item.clear()
            self.scale_bar.set_calibration(None, None)
            self._show_frame_controls(1)
            self.readout.setText(" ")
            return
        self.log_box.blockSignals(True)
        self.log_box.setChecked(micrograph.is_diffraction)
        self.log_box.blockSignals(False)
        self._label_histogram(micrograph.is_diffraction)
        self._show_frame_controls(micrograph.n_frames)
        self._load_frame(0)
        self.auto_contrast()
        self.scale_bar.set_calibration(micrograph.pixel_size, micrograph.pixel_unit)
        self.fit()

    def _show_reduced_notice(self, micrograph: Micrograph | None) -> None:
        """A banner over an image shown at reduced resolution (a mosaic larger than memory)."""
        factor = micrograph.downsampled if micrograph is not None else 1.0
        if factor <= 1.0:
            self.reduced_notice.hide()
            return
        from crystalview.io.reduced import full_shape

        height, width = full_shape(micrograph)
        self.reduced_notice.setText(
            f"Shown at reduced resolution (1/{factor:.3g}): the file's {width:,} × {height:,} "
            "pixels do not fit the memory budget (Preferences). Zoom in to see full resolution "
            "where you look. The scale bar and measurements are right; classification and heat "
            "maps here use this reduced picture, 'crystalview classify' reads the file at full "
            "resolution."
        )
        self.reduced_notice.show()

    def set_frame(self, index: int) -> None:
        """Show frame ``index`` of a stack, keeping the current levels."""
        if self.micrograph is None or not 0 <= index < self.micrograph.n_frames:
            return
        if index == self.frame_index and self._frame_raw is not None:
            return
        levels = self.levels()
        self.frame_index = index
        self._load_frame(index)
        self.set_levels(*levels)
        self.frame_label.setText(f"Frame {index + 1}/{self.micrograph.n_frames}")
        if self.frame_slider.value() != index:
            self.frame_slider.setValue(index)
        self.frame_changed.emit(index)

    def _load_frame(self, index: int) -> None:
        assert self.micrograph is not None
        raw = np.asarray(self.micrograph.frame(index))
        if np.iscomplexobj(raw):
            raw = np.abs(raw)
        self._frame_raw = raw
        self.image_item.setImage(self._displayed(raw), autoLevels=False)

    def _displayed(self, raw: np.ndarray) -> np.ndarray:
        """What the image item shows: the data itself, or log1p(data - min) in log mode."""
        if raw.dtype.kind == "f" and np.isinf(raw).any():
            # A display copy with +-inf clipped to the finite extremes: infinities would break
            # the histogram's binning, and they look like the brightest/darkest pixel anyway.
            finite = raw[np.isfinite(raw)]
            top, bottom = (finite.max(), finite.min()) if finite.size else (1.0, 0.0)
            raw = np.nan_to_num(raw, nan=np.nan, posinf=top, neginf=bottom)
        if not self.log_box.isChecked():
            if raw.dtype == np.bool_:
                return raw.astype(np.uint8)
            return raw
        finite = raw[np.isfinite(raw)] if raw.dtype.kind == "f" else raw
        self._log_offset = float(finite.min()) if finite.size else 0.0
        with np.errstate(invalid="ignore"):
            return np.log1p(np.maximum(raw.astype(np.float32) - self._log_offset, 0))

    def display_values(self, raw: np.ndarray) -> np.ndarray:
        """``raw`` pixels of the shown image as the image item shows them (log view: with the
        shown frame's offset), for pictures drawn over it at the same levels."""
        if not self.log_box.isChecked():
            return raw.astype(np.uint8) if raw.dtype == np.bool_ else raw
        with np.errstate(invalid="ignore"):
            return np.log1p(np.maximum(raw.astype(np.float32) - self._log_offset, 0))

    def _show_frame_controls(self, n_frames: int) -> None:
        many = n_frames > 1
        self.frame_slider.setVisible(many)
        self.frame_label.setVisible(many)
        self.frame_slider.blockSignals(True)
        self.frame_slider.setRange(0, max(0, n_frames - 1))
        self.frame_slider.setValue(0)
        self.frame_slider.blockSignals(False)
        self.frame_label.setText(f"Frame 1/{n_frames}")

    # -- contrast -------------------------------------------------------------------------------

    def auto_contrast(self) -> None:
        """Robust percentile levels (computed on log data for diffraction)."""
        if self._frame_raw is None:
            return
        self.set_levels(*auto_levels(self._frame_raw, self.log_box.isChecked()))

    def levels(self) -> tuple[float, float]:
        """Current levels in data units."""
        lo, hi = (float(v) for v in self.image_item.getLevels())
        if self.log_box.isChecked():
            return float(np.expm1(lo) + self._log_offset), float(np.expm1(hi) + self._log_offset)
        return lo, hi

    def set_levels(self, lo: float, hi: float) -> None:
        """Set levels in data units (translated for the log view)."""
        if self.log_box.isChecked():
            lo = float(np.log1p(max(lo - self._log_offset, 0.0)))
            hi = float(np.log1p(max(hi - self._log_offset, 0.0)))
            if not hi > lo:
                hi = lo + 1e-6
        self.image_item.setLevels((lo, hi))
        self.histogram.item.setLevels(lo, hi)
        self._emit_levels()

    def _emit_levels(self, *_args) -> None:
        if self._frame_raw is not None:
            self.levels_changed.emit(*self.levels())

    def _on_log_toggled(self, checked: bool) -> None:
        self._label_histogram(checked)
        if self._frame_raw is None:
            return
        self.image_item.setImage(self._displayed(self._frame_raw), autoLevels=False)
        self.auto_contrast()
        self.detail.redisplay()

    def _label_histogram(self, log: bool) -> None:
        # In the log view the histogram axis is log(1 + value - min), not raw counts; say so.
        self.histogram.item.axis.setLabel("log(1 + value − min)" if log else "value")

    def set_color_map(self, name: str) -> None:
        if name not in COLOR_MAPS:
            return
        if self.cmap_box.currentText() != name:
            self.cmap_box.setCurrentText(name)
            return  # the combo box signal calls back here
        self.histogram.item.gradient.setColorMap(color_map(name))

    def fit(self) -> None:
        """Zoom so that the whole image is visible."""
        if self._frame_raw is None:
            return
        height, width = self._frame_raw.shape[-2:]
        self.view_box.setRange(xRange=(0, width), yRange=(0, height), padding=0.02)

    # -- overlays -------------------------------------------------------------------------------

    def add_layer(self, name: str, item: QGraphicsItem, z: float = 10.0) -> QGraphicsItem:
        """Draw ``item`` over the image in image pixel coordinates; replaces a same-named layer."""
        self.remove_layer(name)
        item.setZValue(z)
        self.view_box.addItem(item, ignoreBounds=True)
        self._layers[name] = Layer(name, item)
        return item

    def layer(self, name: str) -> QGraphicsItem | None:
        entry = self._layers.get(name)
        return entry.item if entry else None

    def layer_names(self) -> list[str]:
        return list(self._layers)

    def remove_layer(self, name: str) -> None:
        entry = self._layers.pop(name, None)
        if entry is not None:
            self.view_box.removeItem(entry.item)

    def set_layer_visible(self, name: str, visible: bool) -> None:
        entry = self._layers.get(name)
        if entry is not None:
            entry.item.setVisible(visible)

    def set_layer_opacity(self, name: str, opacity: float) -> None:
        entry = self._layers.get(name)
        if entry is not None:
            entry.item.setOpacity(float(np.clip(opacity, 0.0, 1.0)))

    @property
    def frame_data(self) -> np.ndarray | None:
        """The raw 2-D data of the shown frame (modulus for complex data), or ``None``."""
        return self._frame_raw

    # -- read-out -------------------------------------------------------------------------------

    def readout_text(self, x: float, y: float) -> str:
        """Pixel, physical position and raw value at image coordinates ``(x, y)``."""
        if self._frame_raw is None or self.micrograph is None:
            return ""
        col, row = int(np.floor(x)), int(np.floor(y))
        height, width = self._frame_raw.shape[-2:]
        if not (0 <= row < height and 0 <= col < width):
            return ""
        value = self._frame_raw[row, col]
        m = self.micrograph
        # a picture shown reduced reads out the file's own pixel coordinates
        text = f"x {int(col * m.downsampled)}  y {int(row * m.downsampled)}"
        finer = self.detail.value_at(x, y)
        if finer is not None:  # the full-resolution patch under the cursor
            text, value = f"x {finer[0]}  y {finer[1]}", finer[2]
        if m.pixel_size is not None:
            reciprocal = m.pixel_unit == "1/nm"
            pos_x = format_length(float(f"{col * m.pixel_size:.4g}"), reciprocal)
            pos_y = format_length(
                float(f"{row * (m.pixel_size_y or m.pixel_size):.4g}"), reciprocal
            )
            text += f"   ({pos_x}, {pos_y})"
        shown = f"{value:.6g}" if np.asarray(value).dtype.kind == "f" else str(value)
        text = f"{text}   value {shown}"
        for extra in self.readout_extras:
            more = extra(x, y)
            if more:
                text += f"   {more}"
        return text

    def _on_mouse_moved(self, event) -> None:
        position: QPointF = event[0]
        if not self.view_box.sceneBoundingRect().contains(position):
            text = ""
        else:
            point = self.view_box.mapSceneToView(position)
            text = self.readout_text(point.x(), point.y())
        self.readout.setText(text or " ")
        self.cursor_moved.emit(text)
