"""The side panels of the measuring tools: line profile, region FFT, radial profile."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QPointF, QRectF, Qt, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QDoubleSpinBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QSizePolicy,
    QSpinBox,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from crystalview.core.micrograph import RECIPROCAL_UNIT
from crystalview.measure.fft import (
    Diffractogram,
    Spot,
    angle_between_spots,
    read_spot,
    refine_spot,
)
from crystalview.measure.geometry import format_d_spacing
from crystalview.measure.profile import LineProfile
from crystalview.measure.rings import RadialProfile, Ring


def _axis_in_length(plot: pg.PlotItem, unit: str | None, name: str) -> float:
    """Label ``plot``'s x axis for lengths in ``unit``; returns the factor to plot values in.

    Real-space lengths are plotted in metres so pyqtgraph picks the prefix (nm, µm); reciprocal
    lengths in 1/nm; uncalibrated ones in pixels.
    """
    axis = plot.getAxis("bottom")
    if unit is None:
        axis.setLabel(f"{name} (px)")
        axis.enableAutoSIPrefix(False)
        return 1.0
    if unit == RECIPROCAL_UNIT:
        axis.setLabel(name, units="1/nm")
        axis.enableAutoSIPrefix(False)
        return 1.0
    axis.setLabel(name, units="m")
    axis.enableAutoSIPrefix(True)
    return 1e-9


def _label(text: str = "") -> QLabel:
    """A wrapped read-out line whose text never sets the dock's width.

    The read-outs change as the user drags or hovers; a label that asked for its text's width
    would widen the dock and so shrink and re-zoom the image under the user's hand."""
    label = QLabel(text)
    label.setWordWrap(True)
    label.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
    label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
    return label


class ProfilePanel(QWidget):
    """Value against distance along the measured line, with the averaging width and CSV export."""

    width_changed = Signal(int)
    export_requested = Signal()

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.profile: LineProfile | None = None
        self.plot_widget = pg.PlotWidget()
        self.plot = self.plot_widget.getPlotItem()
        self.plot.showGrid(x=True, y=True, alpha=0.25)
        self.plot.getAxis("left").setLabel("value")
        self.curve = self.plot.plot(pen=pg.mkPen("#ffd400", width=2))
        self.info = _label("Draw a line on the image (Line tool, M) to see its profile.")
        self.width_box = QSpinBox()
        self.width_box.setRange(1, 501)
        self.width_box.setSuffix(" px")
        self.width_box.setToolTip("Average the profile over this many parallel lines")
        self.width_box.valueChanged.connect(self.width_changed)
        self.export_button = QPushButton("Export CSV…")
        self.export_button.setToolTip("Save distance and value of every sample as CSV")
        self.export_button.setEnabled(False)
        self.export_button.clicked.connect(self.export_requested)
        row = QHBoxLayout()
        row.addWidget(QLabel("Width:"))
        row.addWidget(self.width_box)
        row.addStretch(1)
        row.addWidget(self.export_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(2, 2, 2, 2)
        layout.addWidget(self.info)
        layout.addWidget(self.plot_widget, 1)
        layout.addLayout(row)

    def set_profile(self, profile: LineProfile | None, info: str) -> None:
        self.profile = profile
        self.info.setText(info)
        self.export_button.setEnabled(profile is not None)
        if profile is None:
            self.curve.setData([], [])
            return
        factor = _axis_in_length(self.plot, profile.unit, "distance")
        finite = np.isfinite(profile.values)
        self.curve.setData(profile.distance[finite] * factor, profile.values[finite])


class FftPanel(QWidget):
    """The region's diffractogram on a 1/nm grid; hover reads |g| and d, clicks pick spots.

    Two picked spots also give the angle between them. Picks are kept as reciprocal vectors, so
    moving the region re-finds the same spots in the new spectrum.
    """

    MAX_SPOTS = 2

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.gram: Diffractogram | None = None
        self.spots: list[Spot] = []
        self._extent: tuple | None = None
        self.graphics = pg.GraphicsLayoutWidget()
        self.graphics.setBackground("#202124")
        self.plot = self.graphics.addPlot()
        self.plot.setAspectLocked(True)
        self.plot.setMenuEnabled(False)
        self.image = pg.ImageItem()
        self.image.setColorMap(pg.colormap.get("inferno"))
        self.plot.addItem(self.image)
        self.markers = pg.ScatterPlotItem(
            size=16, pen=pg.mkPen("#39e0ff", width=2), brush=None, symbol="o"
        )
        self.plot.addItem(self.markers)
        self.hover = _label("Place the FFT region (Shift+F) on a lattice image.")
        self.picked = _label("")
        self.clear_button = QPushButton("Clear spots")
        self.clear_button.clicked.connect(self.clear_spots)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(2, 2, 2, 2)
        layout.addWidget(self.graphics, 1)
        layout.addWidget(self.hover)
        layout.addWidget(self.picked)
        layout.addWidget(self.clear_button)
        self.graphics.scene().sigMouseMoved.connect(self._on_hover)
        self.graphics.scene().sigMouseClicked.connect(self._on_click)

    # -- content -----------------------------------------------------------------------------

    def set_diffractogram(self, gram: Diffractogram | None) -> None:
        self.gram = gram
        if gram is None:
            self.image.clear()
            self.spots = []
            self._show_spots()
            return
        h, w = gram.power.shape
        cy, cx = gram.centre
        sx, sy = gram.step_x, gram.step_y
        # Flip rows so +g_y is up, and place pixels so plot coordinates are g itself.
        shown = gram.power[::-1]
        lo, hi = np.percentile(shown, [50.0, 99.95])
        self.image.setImage(shown, autoLevels=False, levels=(lo, max(hi, lo + 1e-6)))
        self.image.setRect(QRectF((-cx - 0.5) * sx, (cy - h + 0.5) * sy, w * sx, h * sy))
        if self._extent != (h, w, sx, sy):  # a new size: show it all; moving keeps the zoom
            self._extent = (h, w, sx, sy)
            self.plot.vb.autoRange(padding=0)
        unit = gram.unit or "1/px"
        self.plot.getAxis("bottom").setLabel("g<sub>x</sub>", units=unit)
        self.plot.getAxis("left").setLabel("g<sub>y</sub>", units=unit)
        for name in ("bottom", "left"):
            self.plot.getAxis(name).enableAutoSIPrefix(False)
        self.spots = [self._snap(spot.gx, spot.gy) for spot in self.spots]
        self._show_spots()

    def _to_spectrum(self, gx: float, gy: float) -> tuple[float, float]:
        assert self.gram is not None
        return self.gram.centre[0] - gy / self.gram.step_y, self.gram.centre[
            1
        ] + gx / self.gram.step_x

    def _snap(self, gx: float, gy: float) -> Spot:
        assert self.gram is not None
        row, col = refine_spot(self.gram.power, *self._to_spectrum(gx, gy), radius=3)
        return read_spot(self.gram, row, col)

    def spot_text(self, spot: Spot) -> str:
        unit = self.gram.unit if self.gram is not None and self.gram.unit else "1/px"
        d = format_d_spacing(spot.g) if unit == RECIPROCAL_UNIT else f"{spot.d:.4g} px"
        return f"|g| {spot.g:.4g} {unit}   d {d}   at {spot.angle:.1f}°"

    # -- mouse -------------------------------------------------------------------------------

    def _g_at(self, scene_pos: QPointF) -> tuple[float, float] | None:
        if self.gram is None or not self.plot.vb.sceneBoundingRect().contains(scene_pos):
            return None
        point = self.plot.vb.mapSceneToView(scene_pos)
        return point.x(), point.y()

    def _on_hover(self, scene_pos: QPointF) -> None:
        g = self._g_at(scene_pos)
        if g is None:
            return
        row, col = self._to_spectrum(*g)
        assert self.gram is not None
        self.hover.setText("Cursor: " + self.spot_text(read_spot(self.gram, row, col)))

    def _on_click(self, event) -> None:
        if event.button() != Qt.MouseButton.LeftButton:
            return
        g = self._g_at(event.scenePos())
        if g is not None:
            self.pick(*g)

    def pick(self, gx: float, gy: float) -> Spot | None:
        """Snap to the brightest spot near ``(gx, gy)`` and add it (a third pick starts over)."""
        if self.gram is None:
            return None
        if len(self.spots) >= self.MAX_SPOTS:
            self.spots = []
        spot = self._snap(gx, gy)
        self.spots.append(spot)
        self._show_spots()
        return spot

    def clear_spots(self) -> None:
        self.spots = []
        self._show_spots()

    def _show_spots(self) -> None:
        self.markers.setData([s.gx for s in self.spots], [s.gy for s in self.spots])
        lines = [f"Spot {i + 1}: {self.spot_text(s)}" for i, s in enumerate(self.spots)]
        if len(self.spots) == 2:
            angle = angle_between_spots(*self.spots)
            lines.append(f"Angle between spots 1 and 2: {angle:.1f}°")
        if not lines and self.gram is not None:
            lines.append("Click a spot to read its |g| and d; a second spot gives the angle.")
        self.picked.setText("\n".join(lines))


class RadialPanel(QWidget):
    """Azimuthal mean against |g| about the beam centre, with its peaks listed as d-spacings."""

    refind_requested = Signal()
    export_requested = Signal()
    mask_changed = Signal()

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.profile: RadialProfile | None = None
        self.rings: list[Ring] = []
        self.plot_widget = pg.PlotWidget()
        self.plot = self.plot_widget.getPlotItem()
        self.plot.setLogMode(y=True)
        self.plot.showGrid(x=True, y=True, alpha=0.25)
        self.plot.getAxis("left").setLabel("mean intensity")
        self.curve = self.plot.plot(pen=pg.mkPen("#39e0ff", width=2))
        self._peak_lines: list[pg.InfiniteLine] = []
        self.info = _label("Open a diffraction pattern to see its radial profile.")
        self.table = QTableWidget(0, 4)
        self.table.setHorizontalHeaderLabels(["r (px)", "|g| (1/nm)", "d (nm)", "d (Å)"])
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        self.table.verticalHeader().setVisible(False)
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.refind_button = QPushButton("Find centre again")
        self.refind_button.setToolTip("Forget the dragged centre and find the beam centre again")
        self.refind_button.clicked.connect(self.refind_requested)
        self.export_button = QPushButton("Export CSV…")
        self.export_button.setEnabled(False)
        self.export_button.clicked.connect(self.export_requested)
        self.mask_box = QCheckBox("Leave out the beam stop: pixels below")
        self.mask_box.setToolTip(
            "Pixels darker than this (the beam stop's shadow) are not averaged into the profile"
        )
        self.threshold_box = QDoubleSpinBox()
        self.threshold_box.setRange(-1e12, 1e12)
        self.threshold_box.setDecimals(3)
        self.threshold_box.setEnabled(False)
        self.mask_box.toggled.connect(self.threshold_box.setEnabled)
        self.mask_box.toggled.connect(lambda _on: self.mask_changed.emit())
        self.threshold_box.valueChanged.connect(lambda _v: self.mask_changed.emit())
        # (the threshold on a line of its own: side by side they made the dock 424 px wide at least)
        mask_row = QHBoxLayout()
        mask_row.addSpacing(20)
        mask_row.addWidget(self.threshold_box, 1)
        row = QHBoxLayout()
        row.addWidget(self.refind_button)
        row.addStretch(1)
        row.addWidget(self.export_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(2, 2, 2, 2)
        layout.addWidget(self.info)
        layout.addWidget(self.plot_widget, 2)
        layout.addWidget(self.table, 1)
        layout.addWidget(self.mask_box)
        layout.addLayout(mask_row)
        layout.addLayout(row)

    def set_default_threshold(self, value: float) -> None:
        """The beam-stop level proposed for a newly shown pattern (the check box is kept)."""
        self.threshold_box.blockSignals(True)
        self.threshold_box.setValue(value)
        self.threshold_box.blockSignals(False)

    def beam_stop_level(self) -> float | None:
        """The level below which pixels are left out, or ``None`` when nothing is left out."""
        return self.threshold_box.value() if self.mask_box.isChecked() else None

    def set_profile(self, profile: RadialProfile | None, rings: list[Ring], info: str) -> None:
        self.profile, self.rings = profile, rings
        self.info.setText(info)
        self.export_button.setEnabled(profile is not None)
        for line in self._peak_lines:
            self.plot.removeItem(line)
        self._peak_lines = []
        self.table.setRowCount(0)
        if profile is None:
            self.curve.setData([], [])
            return
        calibrated = profile.pixel_size is not None
        x = profile.g if calibrated else profile.radius
        self.plot.getAxis("bottom").setLabel("|g| (1/nm)" if calibrated else "r (px)")
        usable = np.isfinite(profile.values) & (profile.counts > 0)
        # Log scale for counts; dark-subtracted data with negative means stay linear (all shown).
        log = bool(usable.any() and np.all(profile.values[usable] > 0))
        self.plot.setLogMode(y=log)
        self.plot.getAxis("left").setLabel("mean intensity" + (" (log scale)" if log else ""))
        self.curve.setData(x[usable], profile.values[usable])
        self.table.setRowCount(len(rings))
        for i, ring in enumerate(rings):
            position = ring.g if calibrated else ring.radius
            line = pg.InfiniteLine(
                position, angle=90, pen=pg.mkPen("#ffd400", style=Qt.PenStyle.DashLine)
            )
            self.plot.addItem(line)
            self._peak_lines.append(line)
            cells = [f"{ring.radius:.1f}"]
            if ring.g is not None and ring.d is not None:
                cells += [f"{ring.g:.4g}", f"{ring.d:.4g}", f"{ring.d * 10:.4g}"]
            else:
                cells += ["—", "—", "—"]
            for column, text in enumerate(cells):
                self.table.setItem(i, column, QTableWidgetItem(text))

    def to_csv(self) -> str:
        """Radius, |g| and mean intensity of every bin with pixels in it."""
        assert self.profile is not None
        p = self.profile
        g = p.g if p.g is not None else np.full(p.radius.shape, np.nan)
        lines = ["radius_px,g_1/nm,mean_intensity,pixels"]
        for r, gv, v, n in zip(p.radius, g, p.values, p.counts, strict=True):
            if n > 0:
                g_text = f"{gv:.6g}" if np.isfinite(gv) else ""
                lines.append(f"{r:.6g},{g_text},{v:.6g},{n}")
        return "\n".join(lines) + "\n"
