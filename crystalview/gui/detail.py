"""Full resolution where the user zoomed in on a mosaic shown reduced.

The viewer shows a mosaic larger than memory as a reduced picture. When the view is zoomed in
so far that one reduced pixel covers several screen pixels, `DetailLayer` asks the core
(`crystalview.io.detail.plan_detail`) what to read — pyramid level, stride and window — reads
it on a worker thread (the GUI thread never waits for the file) and draws it over the reduced
picture at its place, with the viewer's levels and colour map. Every move of the view
supersedes the read in flight: it is cancelled and its result, should it still arrive, is
dropped. Zoomed back out, the patch is hidden.
"""

from __future__ import annotations

import logging

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QObject, QRectF, QTimer, Signal

from crystalview.core.micrograph import Micrograph
from crystalview.gui.workers import WorkerPool
from crystalview.io.detail import DetailPlan, plan_detail, read_detail
from crystalview.io.tiff_regions import RegionImage, locate_levels

log = logging.getLogger(__name__)

SETTLE_MS = 120
"""Quiet time after the last move of the view before a read starts (a drag reads once)."""


class DetailLayer(QObject):
    """The full-resolution patch of a reduced mosaic in an `ImageViewer`.

    Signals
    -------
    patch_shown(DetailPlan)
        A patch was drawn (tests and the status bar can follow it).
    """

    patch_shown = Signal(object)

    def __init__(self, viewer) -> None:
        super().__init__(viewer)
        self.viewer = viewer
        self.item = pg.ImageItem()
        self.item.setZValue(1)  # over the reduced picture, under the overlays
        self.item.hide()
        viewer.view_box.addItem(self.item, ignoreBounds=True)
        self.pool = WorkerPool(max_threads=1, parent=self)
        self.plan: DetailPlan | None = None
        """The plan of the patch on screen, None when none is shown."""
        self.raw: np.ndarray | None = None
        """The file's pixels of that patch (for the read-out)."""
        self._levels: list[RegionImage] = []
        self._generation = 0
        self._in_flight = None
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(SETTLE_MS)
        self._timer.timeout.connect(self.refresh)
        viewer.view_box.sigRangeChanged.connect(self._schedule)
        viewer.view_box.sigResized.connect(self._schedule)

    def set_micrograph(self, micrograph: Micrograph | None) -> None:
        """Follow a new image: only a reduced TIFF mosaic gets patches."""
        self._drop_patch()
        self._levels = []
        if micrograph is not None and micrograph.downsampled > 1 and micrograph.path:
            self._levels = locate_levels(micrograph.path)

    def _schedule(self, *_args) -> None:
        if self._levels:
            self._timer.start()

    def _view_in_file_pixels(self) -> tuple[tuple[float, float, float, float], tuple[int, int]]:
        """The view's rectangle in file pixels and the screen pixels it is drawn on."""
        (x0, x1), (y0, y1) = self.viewer.view_box.viewRange()
        fx, fy = self._factors()
        ratio = self.viewer.devicePixelRatioF()
        box = self.viewer.view_box.boundingRect()
        screen = (round(box.width() * ratio), round(box.height() * ratio))
        return (x0 * fx, y0 * fy, x1 * fx, y1 * fy), screen

    def _factors(self) -> tuple[float, float]:
        """File pixels per shown pixel, across and down (shown pixel ``i`` starts at file
        pixel ``factor·i``)."""
        factor = float(self.viewer.micrograph.downsampled)
        return factor, factor

    def refresh(self) -> None:
        """Plan for the current view; start a read when it needs a patch not on screen."""
        if not self._levels or self.viewer.frame_data is None:
            return
        view, screen = self._view_in_file_pixels()
        plan = plan_detail(self._levels, view, screen, max(self._factors()))
        if plan is None:
            self._drop_patch()
            return
        if self._covers(self.plan, plan, view):
            return  # the patch on screen already shows this view as finely
        self._cancel_read()
        self._generation += 1
        generation, levels = self._generation, self._levels
        worker = self.pool.submit(
            lambda cancel: read_detail(levels, plan, cancel),
            "Reading full resolution",
            background=True,
            report_errors=False,
        )
        worker.result.connect(lambda data, g=generation, p=plan: self._show(g, p, data))
        worker.error.connect(lambda error, _tb: log.warning("detail read failed: %s", error))
        self._in_flight = worker

    @staticmethod
    def _covers(shown: DetailPlan | None, wanted: DetailPlan, view) -> bool:
        if shown is None or (shown.level, shown.step) != (wanted.level, wanted.step):
            return False
        x, y, width, height = shown.file_rect
        clipped = wanted.file_rect
        return (
            x <= max(view[0], clipped[0])
            and y <= max(view[1], clipped[1])
            and x + width >= min(view[2], clipped[0] + clipped[2])
            and y + height >= min(view[3], clipped[1] + clipped[3])
        )

    def _show(self, generation: int, plan: DetailPlan, data: np.ndarray) -> None:
        if generation != self._generation or not self._levels:
            return  # superseded by a later move of the view, or another image
        self._in_flight = None
        self.raw = data
        self.plan = plan
        self.item.setImage(self.viewer.display_values(data), autoLevels=False)
        fx, fy = self._factors()
        x, y, width, height = plan.file_rect
        self.item.setRect(QRectF(x / fx, y / fy, width / fx, height / fy))
        self.sync_display()
        self.item.show()
        self.patch_shown.emit(plan)

    def sync_display(self, *_args) -> None:
        """Take the viewer's levels and colour map (called when either changes)."""
        image_item = self.viewer.image_item
        self.item.setLookupTable(image_item.lut)
        self.item.setLevels(image_item.getLevels())

    def redisplay(self) -> None:
        """Show the patch again after the viewer's log view was switched on or off."""
        if self.raw is not None:
            self.item.setImage(self.viewer.display_values(self.raw), autoLevels=False)
        self.sync_display()

    def value_at(self, x: float, y: float) -> tuple[int, int, object] | None:
        """``(file column, file row, value)`` of the patch at view point ``(x, y)``, if any."""
        if self.plan is None or self.raw is None or not self.item.isVisible():
            return None
        fx, fy = self._factors()
        column, row = int(np.floor(x * fx)), int(np.floor(y * fy))
        plan = self.plan
        i = (row - plan.top * plan.level_scale) / (plan.step * plan.level_scale)
        j = (column - plan.left * plan.level_scale) / (plan.step * plan.level_scale)
        i, j = int(np.floor(i)), int(np.floor(j))
        if not (0 <= i < self.raw.shape[0] and 0 <= j < self.raw.shape[1]):
            return None
        return column, row, self.raw[i, j]

    def _cancel_read(self) -> None:
        if self._in_flight is not None and not self._in_flight.is_done:
            self._in_flight.cancel()
        self._in_flight = None

    def _drop_patch(self) -> None:
        self._cancel_read()
        self._generation += 1
        self.plan = None
        self.raw = None
        self.item.hide()
        self.item.clear()

    def shutdown(self) -> None:
        """Stop the read in flight (the window is closing)."""
        self._timer.stop()
        self._levels = []
        self.pool.shutdown()
