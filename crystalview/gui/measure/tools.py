"""The Measure toolbar and menu: line and profile, angle, region FFT, radial profile, Set Scale,
export. One controller owns the shapes on the viewer, the panels, and their updates.

Hooks into the window are kept to the public seams: `MainWindow.add_dock`, `viewer.add_layer`,
`viewer.readout_extras`, `current_changed`, and one toolbar plus one menu.
"""

from __future__ import annotations

import logging
import math
from pathlib import Path
from typing import TYPE_CHECKING

import pyqtgraph as pg
from PySide6.QtCore import QObject, QPointF, QRectF, Qt, QTimer, Signal
from PySide6.QtGui import QAction, QActionGroup, QKeySequence
from PySide6.QtWidgets import QFileDialog, QMessageBox, QToolBar

from crystalview.core.micrograph import RECIPROCAL_UNIT, Micrograph
from crystalview.gui.measure.drawing import DrawSurface
from crystalview.gui.measure.export_view import ExportOptions, ExportViewDialog, render_view
from crystalview.gui.measure.panels import FftPanel, ProfilePanel, RadialPanel
from crystalview.gui.measure.scale_dialog import SetScaleDialog
from crystalview.gui.measure.shapes import AngleShape, LineShape, SquareRegion
from crystalview.measure.calibration import (
    ScaleStore,
    apply_scale,
    is_set_by_hand,
)
from crystalview.measure.calibration import remove_scale as remove_hand_scale
from crystalview.measure.export import export_frame
from crystalview.measure.fft import diffractogram
from crystalview.measure.geometry import (
    angle_between,
    format_d_spacing,
    format_distance,
    segment_angle,
    segment_length,
)
from crystalview.measure.profile import line_profile
from crystalview.measure.rings import (
    azimuthal_profile,
    beam_stop_threshold,
    find_rings,
    reciprocal_position,
)

if TYPE_CHECKING:
    from crystalview.gui.main_window import MainWindow

log = logging.getLogger(__name__)

DEFAULT_FFT_SIZE = 256
# Larger regions are cut to their central square of this side: the spectrum follows the region
# live, and a 2048² FFT still takes a fraction of a second where 8192² would take many.
MAX_FFT_SIZE = 2048


class MeasureTools(QObject):
    """Everything the Measure menu does, for one window."""

    scale_changed = Signal(object)
    """The shown `Micrograph` got (or lost) a hand-set scale."""

    def __init__(self, window: MainWindow, store: ScaleStore | None = None):
        super().__init__(window)
        self.window = window
        self.viewer = window.viewer
        self.store = store or ScaleStore()
        self.line: LineShape | None = None
        self.angle: AngleShape | None = None
        self.region: SquareRegion | None = None
        self.centre: tuple[float, float] | None = None
        self.centre_source = ""
        self._centres: dict[tuple[str, int], tuple[float, float]] = {}
        self.centre_marker: pg.TargetItem | None = None
        self.scale_dialog: SetScaleDialog | None = None
        self._scale_after_line = False

        self.surface = DrawSurface()
        self.viewer.add_layer("measure-surface", self.surface, z=40)
        self.profile_panel = ProfilePanel()
        self.profile_panel.width_changed.connect(lambda _w: self.update_line())
        self.profile_panel.export_requested.connect(self.export_profile_dialog)
        self.fft_panel = FftPanel()
        self.radial_panel = RadialPanel()
        self.radial_panel.refind_requested.connect(self.refind_centre)
        self.radial_panel.export_requested.connect(self.export_radial_dialog)
        self.radial_panel.mask_changed.connect(lambda: self._radial_timer.start())
        right = Qt.DockWidgetArea.RightDockWidgetArea
        self.docks = {
            "profile": window.add_dock("line-profile", "Line Profile", self.profile_panel, right),
            "fft": window.add_dock("fft", "FFT", self.fft_panel, right),
            "radial": window.add_dock("radial-profile", "Radial Profile", self.radial_panel, right),
        }
        for dock in self.docks.values():
            dock.hide()  # each panel opens with its tool (or from the View menu)
        self._fft_timer = self._debounce(self.update_fft)
        self._radial_timer = self._debounce(self.update_radial)
        self._build_actions()
        self.viewer.readout_extras.append(self.diffraction_readout)
        window.current_changed.connect(self._on_image_changed)
        self.viewer.frame_changed.connect(self._on_frame_changed)
        self.scale_changed.connect(self._on_scale_changed)

    def _debounce(self, slot) -> QTimer:
        timer = QTimer(self)
        timer.setSingleShot(True)
        timer.setInterval(15)
        timer.timeout.connect(slot)
        return timer

    # -- actions -------------------------------------------------------------------------------

    def _build_actions(self) -> None:
        window = self.window
        self.tool_group = QActionGroup(self)
        self.tool_group.setExclusionPolicy(QActionGroup.ExclusionPolicy.ExclusiveOptional)

        def make(text, slot, shortcut, tip, checkable=False) -> QAction:
            action = QAction(text, window)
            action.setShortcut(QKeySequence(shortcut))
            action.setToolTip(f"{tip} ({shortcut})")
            action.setStatusTip(tip)
            action.setCheckable(checkable)
            (action.toggled if checkable else action.triggered).connect(slot)
            window.addAction(action)
            return action

        self.line_action = make(
            "&Line", self._on_line_tool, "M", "Drag a line: length, angle and profile", True
        )
        self.angle_action = make(
            "&Angle", self._on_angle_tool, "Shift+M", "Drag the first arm, move the second", True
        )
        self.fft_action = make(
            "Region &FFT", self._on_fft_tool, "Shift+F", "Diffractogram of a square region", True
        )
        for action in (self.line_action, self.angle_action, self.fft_action):
            self.tool_group.addAction(action)
        self.radial_action = make(
            "Beam Centre && &Radial Profile",
            self._on_radial_tool,
            "R",
            "Show the beam centre (drag it) and the radial profile with d-spacings",
            True,
        )
        self.scale_action = make(
            "Set &Scale…",
            self.set_scale,
            "Ctrl+K",
            "Calibrate the image from a line of known length",
        )
        self.clear_action = make(
            "&Clear Measurements",
            self.clear_shapes,
            "Shift+Del",
            "Remove lines, angles and regions",
        )
        self.export_png_action = make(
            "Export View as &PNG…", self.export_view_dialog, "Ctrl+E", "Save the view as a figure"
        )
        self.export_tiff_action = make(
            "Export Frame as ImageJ &TIFF…",
            self.export_tiff_dialog,
            "Ctrl+Shift+E",
            "Save the raw frame as calibrated float32 TIFF",
        )
        tools = (self.line_action, self.angle_action, self.fft_action, self.radial_action)
        toolbar = QToolBar("Measure", window)
        toolbar.setObjectName("toolbar-measure")
        toolbar.addActions(list(tools))
        toolbar.addSeparator()
        toolbar.addActions([self.scale_action, self.clear_action, self.export_png_action])
        window.addToolBar(Qt.ToolBarArea.TopToolBarArea, toolbar)
        self.toolbar = toolbar

        menu = window.menu("&Measure")
        menu.addActions(list(tools))
        menu.addSeparator()
        menu.addActions([self.scale_action, self.clear_action])
        menu.addSeparator()
        menu.addActions([self.export_png_action, self.export_tiff_action])
        self.menu = menu

    def _show_dock(self, name: str) -> None:
        dock = self.docks[name]
        dock.show()
        dock.raise_()

    def _status(self, text: str, ms: int = 8000) -> None:
        self.window.statusBar().showMessage(text, ms)

    # -- image changes -------------------------------------------------------------------------

    @property
    def micrograph(self) -> Micrograph | None:
        return self.viewer.micrograph

    def _on_image_changed(self, _entry) -> None:
        self._remove_shapes()
        data = self.viewer.frame_data
        if data is not None:
            self.surface.set_image_size(data.shape[-1], data.shape[-2])
        self._scale_after_line = False
        self.centre, self.centre_source = None, ""
        self.fft_panel.set_diffractogram(None)
        self.profile_panel.set_profile(None, "Draw a line on the image (Line tool, M).")
        m = self.micrograph
        if m is not None and m.is_diffraction:
            self.fft_action.setChecked(False)
            self.radial_panel.set_default_threshold(beam_stop_threshold(data))
            self._find_centre(m)
        self._place_marker()
        self.update_radial()
        if self.fft_action.isChecked():
            self._ensure_region()

    def _on_frame_changed(self, _index: int) -> None:
        """Another frame of a stack: the same shapes measure the new pixels."""
        self.update_line()
        self.update_fft()
        self.update_radial()

    def _remove_shapes(self) -> None:
        for shape, name in ((self.line, "line"), (self.angle, "angle"), (self.region, "fft")):
            if shape is not None:
                self.viewer.remove_layer(f"measure-{name}")
                self.viewer.remove_layer(f"measure-{name}-label")
        self.line = self.angle = self.region = None

    def clear_shapes(self) -> None:
        self._remove_shapes()
        self.profile_panel.set_profile(None, "Draw a line on the image (Line tool, M).")
        self.fft_panel.set_diffractogram(None)

    def _add_shape(self, name: str, shape) -> None:
        self.viewer.add_layer(f"measure-{name}", shape.roi, z=50)
        self.viewer.add_layer(f"measure-{name}-label", shape.label, z=60)

    # -- tools ----------------------------------------------------------------------------------

    def _on_line_tool(self, on: bool) -> None:
        self._scale_after_line = self._scale_after_line and on
        self.surface.set_handler(self._draw_line if on else self._current_handler())
        if on:
            self._show_dock("profile")
            self._status("Drag on the image to draw a line; drag its ends to adjust.")

    def _on_angle_tool(self, on: bool) -> None:
        self.surface.set_handler(self._draw_angle if on else self._current_handler())
        if on:
            self._status("Drag from the vertex along the first arm, then move the second arm.")

    def _on_fft_tool(self, on: bool) -> None:
        self.surface.set_handler(self._draw_region if on else self._current_handler())
        if not on:
            return
        m = self.micrograph
        if m is not None and m.is_diffraction:
            self._status("The region FFT is for real-space images (HRTEM, STEM lattice images).")
            self.fft_action.setChecked(False)
            return
        self._show_dock("fft")
        self._ensure_region()
        self._status("Move or resize the square region; drag on the image to draw a new one.")

    def _current_handler(self):
        checked = self.tool_group.checkedAction()
        return {
            self.line_action: self._draw_line,
            self.angle_action: self._draw_angle,
            self.fft_action: self._draw_region,
        }.get(checked)

    def _on_radial_tool(self, on: bool) -> None:
        self._place_marker()
        if on:
            self._show_dock("radial")
            m = self.micrograph
            if m is None or not m.is_diffraction:
                self._status("The radial profile reads diffraction patterns; this is not one.")

    # -- line -----------------------------------------------------------------------------------

    def _draw_line(self, phase: str, point: QPointF) -> None:
        if phase == "start":
            if self.line is not None:
                self.viewer.remove_layer("measure-line")
                self.viewer.remove_layer("measure-line-label")
            self.line = LineShape(point, point)
            self._add_shape("line", self.line)
            self.line.roi.sigRegionChanged.connect(lambda _r: self.update_line())
            return
        if self.line is not None:
            self.line.set_end(point, finish=phase == "finish")
        if phase == "finish" and self._scale_after_line:
            self._scale_after_line = False
            QTimer.singleShot(0, self.set_scale)

    def draw_line(self, start: QPointF, end: QPointF) -> LineShape:
        """Draw a line from ``start`` to ``end`` (image coordinates) as a drag would."""
        self._draw_line("start", start)
        self._draw_line("finish", end)
        assert self.line is not None
        return self.line

    def line_text(self) -> str:
        """``"1.25 µm  ∠ 36.9°"`` for the current line ("" without one)."""
        m = self.micrograph
        if self.line is None or m is None:
            return ""
        start, end = self.line.endpoints()
        length = segment_length(start, end, m.pixel_size, m.pixel_size_y)
        angle = segment_angle(start, end, m.pixel_size, m.pixel_size_y)
        text = f"{format_distance(length, m.pixel_unit)}  ∠ {angle:.1f}°"
        if m.pixel_unit == RECIPROCAL_UNIT and length > 0:
            text += f"  (1/length {format_d_spacing(length)})"
        return text

    def update_line(self) -> None:
        m, data = self.micrograph, self.viewer.frame_data
        if self.line is None or m is None or data is None:
            return
        text = self.line_text()
        self.line.place_label(text)
        start, end = self.line.endpoints()
        profile = line_profile(
            data,
            start,
            end,
            width=self.profile_panel.width_box.value(),
            pixel_size=m.pixel_size,
            unit=m.pixel_unit,
            pixel_size_y=m.pixel_size_y,
        )
        length_px = segment_length(start, end)
        info = f"Line: {text}   ({length_px:.1f} px)"
        if m.pixel_size is None:
            info += " — no scale: Set Scale (Ctrl+K) to read physical units"
        self.profile_panel.set_profile(profile, info)

    # -- angle ----------------------------------------------------------------------------------

    def _draw_angle(self, phase: str, point: QPointF) -> None:
        if phase == "start":
            if self.angle is not None:
                self.viewer.remove_layer("measure-angle")
                self.viewer.remove_layer("measure-angle-label")
            self.angle = AngleShape(point, QPointF(point.x() + 1, point.y()))
            self._add_shape("angle", self.angle)
            self.angle.roi.sigRegionChanged.connect(lambda _r: self.update_angle())
            return
        if self.angle is not None:
            self.angle.set_first_end(point, finish=phase == "finish")

    def angle_value(self) -> float:
        m = self.micrograph
        if self.angle is None or m is None:
            return math.nan
        vertex, first, second = self.angle.arms()
        return angle_between(vertex, first, second, m.pixel_size, m.pixel_size_y)

    def update_angle(self) -> None:
        if self.angle is not None:
            self.angle.place_label(f"{self.angle_value():.1f}°")

    # -- region FFT -----------------------------------------------------------------------------

    def _ensure_region(self) -> None:
        data = self.viewer.frame_data
        if self.region is not None or data is None:
            return
        h, w = data.shape[-2:]
        side = min(DEFAULT_FFT_SIZE, h, w)
        (x0, x1), (y0, y1) = self.viewer.view_box.viewRange()
        cx = min(max((x0 + x1) / 2, side / 2), w - side / 2)
        cy = min(max((y0 + y1) / 2, side / 2), h - side / 2)
        self.set_region(round(cx - side / 2), round(cy - side / 2), side)

    def set_region(self, x: float, y: float, size: float) -> SquareRegion:
        """Put the FFT region at ``(x, y)`` (top-left, image coordinates) with side ``size``."""
        data = self.viewer.frame_data
        assert data is not None
        h, w = data.shape[-2:]
        if self.region is not None:
            self.viewer.remove_layer("measure-fft")
            self.viewer.remove_layer("measure-fft-label")
        self.region = SquareRegion(x, y, size, QRectF(0, 0, w, h))
        self._add_shape("fft", self.region)
        self.region.roi.sigRegionChanged.connect(lambda _r: self._fft_timer.start())
        self.update_fft()
        return self.region

    def _draw_region(self, phase: str, point: QPointF) -> None:
        if phase == "start":
            self._region_anchor = point
            return
        anchor = self._region_anchor
        side = max(abs(point.x() - anchor.x()), abs(point.y() - anchor.y()))
        if side < 8:
            return
        x = anchor.x() if point.x() >= anchor.x() else anchor.x() - side
        y = anchor.y() if point.y() >= anchor.y() else anchor.y() - side
        if self.region is None or phase == "finish":
            self.set_region(round(x), round(y), round(side))
        else:
            self.region.roi.setPos((round(x), round(y)), update=False, finish=False)
            self.region.roi.setSize((round(side), round(side)), finish=False)

    def update_fft(self) -> None:
        m, data = self.micrograph, self.viewer.frame_data
        if self.region is None or m is None or data is None:
            return
        top, left, rows, cols = self.region.bounds()
        top, left = max(0, top), max(0, left)
        if rows > MAX_FFT_SIZE:
            top, left = top + (rows - MAX_FFT_SIZE) // 2, left + (cols - MAX_FFT_SIZE) // 2
            rows = cols = MAX_FFT_SIZE
        patch = data[top : top + rows, left : left + cols]
        if min(patch.shape) < 8:
            self.fft_panel.set_diffractogram(None)
            return
        real_space = m.pixel_unit == "nm"
        gram = diffractogram(
            patch, m.pixel_size if real_space else None, m.pixel_size_y if real_space else None
        )
        self.fft_panel.set_diffractogram(gram)
        side = format_distance(patch.shape[1] * m.pixel_size, "nm") if real_space else ""
        text = f"FFT {patch.shape[1]} px" + (f" ({side})" if side else "")
        if patch.shape[1] == MAX_FFT_SIZE and self.region.bounds()[2] > MAX_FFT_SIZE:
            text += " — central part of the region"
        self.region.place_label(text)

    # -- diffraction ----------------------------------------------------------------------------

    def _find_centre(self, m: Micrograph) -> None:
        key = (str(m.path), m.dataset_index)
        if key in self._centres:
            self.centre, self.centre_source = self._centres[key], "moved by hand"
        else:
            from crystalview.inference.diffraction import measuring_centre

            data = self.viewer.frame_data
            self.centre, self.centre_source = measuring_centre(data), "found automatically"
        self._place_marker()

    def _place_marker(self) -> None:
        """Show the draggable centre marker while the radial tool is on (and there is a centre)."""
        if self.centre is None or not self.radial_action.isChecked():
            if self.centre_marker is not None:
                self.centre_marker.hide()
            return
        position = QPointF(self.centre[1] + 0.5, self.centre[0] + 0.5)
        if self.centre_marker is None:
            self.centre_marker = pg.TargetItem(
                pos=position, size=18, pen=pg.mkPen("#39e0ff", width=2), movable=True
            )
            self.centre_marker.setToolTip("Beam centre: drag to correct it")
            self.centre_marker.sigPositionChanged.connect(self._on_marker_moved)
            self.viewer.add_layer("measure-centre", self.centre_marker, z=55)
        else:
            self.centre_marker.blockSignals(True)
            self.centre_marker.setPos(position)
            self.centre_marker.blockSignals(False)
        self.centre_marker.show()

    def _on_marker_moved(self, *_args) -> None:
        m = self.micrograph
        if self.centre_marker is None or m is None:
            return
        pos = self.centre_marker.pos()
        self.set_centre(pos.y() - 0.5, pos.x() - 0.5, move_marker=False)

    def set_centre(self, row: float, col: float, move_marker: bool = True) -> None:
        """Correct the beam centre (array coordinates), as dragging the marker does."""
        m = self.micrograph
        if m is None:
            return
        self.centre, self.centre_source = (row, col), "moved by hand"
        self._centres[(str(m.path), m.dataset_index)] = self.centre
        if move_marker:
            self._place_marker()
        self._radial_timer.start()

    def refind_centre(self) -> None:
        m = self.micrograph
        if m is None or not m.is_diffraction:
            return
        self._centres.pop((str(m.path), m.dataset_index), None)
        self._find_centre(m)
        self.update_radial()

    def update_radial(self) -> None:
        m, data = self.micrograph, self.viewer.frame_data
        if m is None or data is None or not m.is_diffraction or self.centre is None:
            self.radial_panel.set_profile(
                None, [], "Open a diffraction pattern to see its radial profile."
            )
            return
        pixel_size = m.pixel_size if m.pixel_unit == RECIPROCAL_UNIT else None
        level = self.radial_panel.beam_stop_level()
        mask = None if level is None else data >= level
        profile = azimuthal_profile(data, self.centre, pixel_size, mask=mask)
        rings = find_rings(profile, min_radius=max(3.0, 0.02 * min(data.shape[-2:])))
        row, col = self.centre
        info = (
            f"Beam centre x {col:.1f}, y {row:.1f} px ({self.centre_source}; drag it to correct)."
        )
        if mask is not None:
            info += f" {int(mask.size - mask.sum())} beam-stop pixels left out."
        if pixel_size is None:
            info += (
                " No calibration: radii in pixels. Set Scale (Ctrl+K) on a known ring or spot pair."
            )
        else:
            info += f" {len(rings)} peak(s); d = 1/|g|."
        self.radial_panel.set_profile(profile, rings, info)

    def diffraction_readout(self, x: float, y: float) -> str:
        """|g| and d of the cursor from the beam centre, for the viewer's read-out."""
        m = self.micrograph
        if m is None or not m.is_diffraction or self.centre is None:
            return ""
        pixel_size = m.pixel_size if m.pixel_unit == RECIPROCAL_UNIT else None
        radius, g, _d = reciprocal_position(x - 0.5, y - 0.5, self.centre, pixel_size)
        if g is None:
            return f"r {radius:.1f} px from beam centre (no calibration)"
        return f"from beam: |g| {g:.4g} 1/nm  d {format_d_spacing(g)}"

    # -- set scale ------------------------------------------------------------------------------

    def set_scale(self) -> None:
        """Open Set Scale for the current line, or ask for one to be drawn first."""
        m = self.micrograph
        if m is None:
            self._status("Open an image first.")
            return
        if self.line is None or segment_length(*self.line.endpoints()) < 1.0:
            self._scale_after_line = True
            self.line_action.setChecked(True)
            self._scale_after_line = True
            self._status(
                "Draw a line along a known length (e.g. the scale bar); release to set the scale."
            )
            return
        self.scale_dialog = SetScaleDialog(
            segment_length(*self.line.endpoints()),
            m.is_diffraction,
            is_set_by_hand(m),
            (m.pixel_size, m.pixel_unit),
            self.window,
        )
        self.scale_dialog.accepted.connect(self._on_scale_dialog_accepted)
        self.scale_dialog.open()

    def _on_scale_dialog_accepted(self) -> None:
        dialog, m = self.scale_dialog, self.micrograph
        if dialog is None or m is None:
            return
        if dialog.remove_requested:
            self.remove_scale(m)
            return
        try:
            size, unit = dialog.result_scale()
        except ValueError as error:
            QMessageBox.warning(self.window, "Set Scale", str(error))
            return
        self.apply_hand_scale(m, size, unit)

    def apply_hand_scale(self, m: Micrograph, pixel_size: float, unit: str) -> None:
        """Store the scale for the file (if it has one) and use it at once."""
        if m.path is not None and m.path.is_file():
            try:
                self.store.set(m.path, m.dataset_index, pixel_size, unit)
            except OSError as error:
                QMessageBox.warning(
                    self.window,
                    "Scale not saved",
                    f"The scale is used now but could not be saved for next time: {error}",
                )
        apply_scale(m, pixel_size, unit)
        self.scale_changed.emit(m)

    def remove_scale(self, m: Micrograph) -> None:
        remove_hand_scale(m)
        if m.path is not None:
            self.store.remove(m.path, m.dataset_index)
        self.scale_changed.emit(m)

    def _on_scale_changed(self, m: Micrograph) -> None:
        entry = self.window.current
        if entry is not None and entry.micrograph is m:
            entry.pixel_size, entry.pixel_unit = m.pixel_size, m.pixel_unit
        if self.viewer.micrograph is m:
            self.viewer.scale_bar.set_calibration(m.pixel_size, m.pixel_unit)
            self.window.metadata_dock.set_micrograph(m)
            self.window.tile_dock.refresh()
            self.window.refresh_image_labels()
            self.update_line()
            self.update_fft()
            self.update_radial()
        self._status(
            f"Scale set by hand: {m.pixel_size:.4g} {m.pixel_unit}/px (kept for this file)"
            if is_set_by_hand(m)
            else "Hand-set scale removed."
        )

    # -- export ---------------------------------------------------------------------------------

    def _save_path(self, title: str, suffix: str, filter_text: str) -> Path | None:
        m = self.micrograph
        stem = m.path.stem if m is not None and m.path is not None else "image"
        folder = m.path.parent if m is not None and m.path is not None else Path.home()
        name, _ = QFileDialog.getSaveFileName(
            self.window, title, str(folder / f"{stem}{suffix}"), filter_text
        )
        return Path(name) if name else None

    def export_view_dialog(self) -> None:
        if self.viewer.frame_data is None:
            self._status("Open an image first.")
            return
        dialog = ExportViewDialog(self.viewer, self.window)
        if dialog.exec() != ExportViewDialog.DialogCode.Accepted:
            return
        path = self._save_path("Export view as PNG", "_view.png", "PNG image (*.png)")
        if path is not None:
            self.export_view(path, dialog.options())

    def export_view(self, path: Path, options: ExportOptions | None = None) -> Path:
        picture = render_view(self.viewer, options or ExportOptions())
        if not picture.save(str(path), "PNG"):
            QMessageBox.critical(self.window, "Export failed", f"Could not write {path}.")
        else:
            self._status(f"Saved {path}")
        return path

    def export_tiff_dialog(self) -> None:
        if self.micrograph is None:
            self._status("Open an image first.")
            return
        path = self._save_path("Export frame as ImageJ TIFF", "_float32.tif", "TIFF (*.tif)")
        if path is not None:
            self.export_tiff(path)

    def export_tiff(self, path: Path) -> Path:
        m = self.micrograph
        assert m is not None
        try:
            export_frame(m, path, self.viewer.frame_index)
        except OSError as error:
            QMessageBox.critical(self.window, "Export failed", f"Could not write {path}: {error}")
        else:
            self._status(f"Saved {path} (float32, ImageJ calibration)")
        return path

    def _write_text(self, path: Path, text: str) -> None:
        try:
            path.write_text(text, encoding="utf-8")
        except OSError as error:
            QMessageBox.critical(self.window, "Export failed", f"Could not write {path}: {error}")
        else:
            self._status(f"Saved {path}")

    def export_profile_dialog(self) -> None:
        if self.profile_panel.profile is None:
            return
        path = self._save_path("Export line profile", "_profile.csv", "CSV (*.csv)")
        if path is not None:
            self._write_text(path, self.profile_panel.profile.to_csv())

    def export_radial_dialog(self) -> None:
        if self.radial_panel.profile is None:
            return
        path = self._save_path("Export radial profile", "_radial.csv", "CSV (*.csv)")
        if path is not None:
            self._write_text(path, self.radial_panel.to_csv())
