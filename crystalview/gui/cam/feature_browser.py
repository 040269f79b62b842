"""The feature-map browser: what one layer of the network makes of the image, channel by channel.

Choose a layer and see its activation maps as a grid, a page of channels at a time, for the
centre of the image or the region in view (zoom onto a tile first); or choose the first layer's
kernels to see what the first convolution learned. The browser loads its own copy of the model
(see `crystalview.gui.cam.jobs`), so it never shares one with heat maps or inference.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from crystalview.core.micrograph import Micrograph
from crystalview.gui.cam.jobs import FeatureResult, ModelCopy, feature_job, model_layers
from crystalview.gui.cam.serial import SerialJobs
from crystalview.gui.viewer import ImageViewer
from crystalview.gui.workers import WorkerPool

KERNELS = "__kernels__"
_COLUMNS = 4
_PAGE_SIZES = (16, 36, 64)


def view_box_region(viewer: ImageViewer) -> tuple[int, int, int, int] | None:
    """``(y0, x0, y1, x1)`` of the image part the viewer shows, clipped to the image."""
    micrograph = viewer.micrograph
    if micrograph is None:
        return None
    (x0, x1), (y0, y1) = viewer.view_box.viewRange()
    height, width = micrograph.shape
    top, left = max(0, int(np.floor(y0))), max(0, int(np.floor(x0)))
    bottom, right = min(height, int(np.ceil(y1))), min(width, int(np.ceil(x1)))
    if bottom - top < 2 or right - left < 2:
        return None
    return top, left, bottom, right


# Maps longer than this many times their width are drawn stretched.
_STRIP_RATIO = 8


class FeatureGrid(pg.GraphicsLayoutWidget):
    """A grid of small images with titles; one `ImageItem` per map."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setBackground("#202124")
        self.items: list[pg.ImageItem] = []

    def show_maps(self, maps: np.ndarray, first: int, diverging: bool) -> None:
        """Show ``maps`` (n, h, w), numbered from ``first``. ``diverging`` colours kernels
        blue-white-red around zero (sign matters there); activations are grey, each map
        stretched to its own range."""
        self.clear()
        self.items = []
        lut = pg.colormap.get("CET-D1").getLookupTable(nPts=256) if diverging else None
        for i, fmap in enumerate(maps):
            row, col = divmod(i, _COLUMNS)
            values = np.nan_to_num(np.asarray(fmap, dtype=np.float32))
            # Square pixels, except for strips (a radial-profile network's 1-row maps and
            # 1 x k kernels), which are stretched to fill their cell instead of a hairline.
            square = max(values.shape) <= _STRIP_RATIO * min(values.shape)
            box = self.addViewBox(row=2 * row + 1, col=col, lockAspect=square, invertY=True)
            box.setMouseEnabled(False, False)
            box.setMenuEnabled(False)
            self.addLabel(f"{first + i}", row=2 * row, col=col, size="8pt", color="#cccccc")
            if diverging:
                extent = float(np.abs(values).max()) or 1.0
                levels = (-extent, extent)
            else:
                lo, hi = float(values.min()), float(values.max())
                levels = (lo, hi if hi > lo else lo + 1.0)
            item = pg.ImageItem(values, levels=levels, lut=lut)
            box.addItem(item)
            box.autoRange(padding=0.02)
            self.items.append(item)


class FeatureBrowser(QDialog):
    """Non-modal dialog showing a layer's activation maps or the first layer's kernels.

    Parameters
    ----------
    viewer
        Supplies the image on screen and the region in view.
    pool
        The window's worker pool (computing runs there).
    model_path
        Called for the bundle to inspect (the model the heat-map dock uses).
    layer_names
        Called for that model's layer names, when they are known before a first computation.
    """

    def __init__(
        self,
        viewer: ImageViewer,
        pool: WorkerPool,
        model_path: Callable[[], Path | None],
        layer_names: Callable[[], list[str]] = list,
        parent: QWidget | None = None,
    ):
        super().__init__(parent)
        self.setWindowTitle("Feature maps")
        self.resize(760, 760)
        self.viewer = viewer
        self.model_path = model_path
        self.layer_names = layer_names
        self.jobs = SerialJobs(pool, self)
        self.model_copy = ModelCopy()
        self.result: FeatureResult | None = None
        self.page = 0
        self._layers_path: Path | None = None

        self.layer_box = QComboBox()
        self.layer_box.addItem("First-layer kernels (what Conv1 learned)", KERNELS)
        self.region_box = QComboBox()
        self.region_box.addItem("Centre of the image", "centre")
        self.region_box.addItem("Region in view (zoom onto a tile)", "view")
        self.show_button = QPushButton("Show")
        self.show_button.clicked.connect(self.compute)
        self.page_size_box = QComboBox()
        for size in _PAGE_SIZES:
            self.page_size_box.addItem(f"{size} per page", size)
        self.page_size_box.currentIndexChanged.connect(lambda _i: self.set_page(0))
        self.previous_button = QPushButton("◀")
        self.previous_button.clicked.connect(lambda: self.set_page(self.page - 1))
        self.next_button = QPushButton("▶")
        self.next_button.clicked.connect(lambda: self.set_page(self.page + 1))
        self.page_box = QSpinBox()
        self.page_box.setPrefix("page ")
        self.page_box.valueChanged.connect(lambda v: self.set_page(v - 1))
        self.info = QLabel("Choose a layer and press Show.")
        self.info.setWordWrap(True)
        self.grid = FeatureGrid()

        top = QHBoxLayout()
        top.addWidget(QLabel("Layer"))
        top.addWidget(self.layer_box, 1)
        top.addWidget(self.region_box)
        top.addWidget(self.show_button)
        pages = QHBoxLayout()
        pages.addWidget(self.previous_button)
        pages.addWidget(self.page_box)
        pages.addWidget(self.next_button)
        pages.addWidget(self.page_size_box)
        pages.addStretch(1)
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(self.info)
        layout.addWidget(self.grid, 1)
        layout.addLayout(pages)
        self.jobs.busy_changed.connect(lambda busy: self.show_button.setEnabled(not busy))
        self.jobs.ended.connect(self._on_job_ended)
        self.jobs.abandoned.connect(self._on_job_abandoned)
        self._update_pages()

    @property
    def page_size(self) -> int:
        return int(self.page_size_box.currentData())

    def set_layers(self, layers: list[str]) -> None:
        """Offer ``layers`` (the model's ``conv_layers()``) after the kernels entry."""
        current = self.layer_box.currentData()
        self.layer_box.blockSignals(True)
        while self.layer_box.count() > 1:
            self.layer_box.removeItem(1)
        for name in layers:
            self.layer_box.addItem(name, name)
        self.layer_box.setCurrentIndex(max(0, self.layer_box.findData(current)))
        self.layer_box.blockSignals(False)

    def compute(self) -> None:
        """Compute the chosen layer's maps (or the kernels) on a worker."""
        path = self.model_path()
        if path is None:
            self.info.setText("Choose a model in the heat-map dock first.")
            return
        layer = self.layer_box.currentData()
        layer = None if layer == KERNELS else layer
        micrograph: Micrograph | None = self.viewer.micrograph
        if layer is not None and micrograph is None:
            self.info.setText("Open an image first: feature maps show what a layer makes of it.")
            return
        box = view_box_region(self.viewer) if self.region_box.currentData() == "view" else None
        frame = self.viewer.frame_index
        self.info.setText("Computing…")
        self.jobs.submit(
            lambda cancel: feature_job(
                path, self.model_copy, micrograph, layer, box, frame, cancel
            ),
            "Feature maps",
            lambda result, p=path: self._on_result(p, result),
            on_error=self._on_error,
        )

    def _on_result(self, path: Path, result: FeatureResult) -> None:
        self.result = result
        self._layers_path = path
        self.set_layers(result.layers)
        channels, height, width = result.maps.shape
        what = "kernels" if result.kernels else "activation maps"
        self.info.setText(
            f"{result.layer}: {channels} {what} of {width} x {height} px"
            + ("" if result.kernels else " (bright = strong response)")
        )
        self.set_page(0)

    def _on_error(self, error: Exception, _details: str) -> None:
        self.info.setText(f"Could not compute feature maps: {error}")

    def _on_job_ended(self, kind: str) -> None:
        if kind == "cancelled" and not self.jobs.busy:
            self.info.setText("Cancelled. Press Show to compute again.")

    def _on_job_abandoned(self) -> None:
        self.model_copy = ModelCopy()  # the stuck job may still hold the old one

    def set_page(self, page: int) -> None:
        """Show page ``page`` (0-based, clamped) of the current maps."""
        if self.result is None:
            self._update_pages()
            return
        n_pages = self.n_pages
        self.page = int(np.clip(page, 0, n_pages - 1))
        start = self.page * self.page_size
        maps = self.result.maps[start : start + self.page_size]
        self.grid.show_maps(maps, start, diverging=self.result.kernels)
        self._update_pages()

    @property
    def n_pages(self) -> int:
        if self.result is None:
            return 1
        return max(1, -(-len(self.result.maps) // self.page_size))

    def _update_pages(self) -> None:
        n_pages = self.n_pages
        self.page_box.blockSignals(True)
        self.page_box.setRange(1, n_pages)
        self.page_box.setSuffix(f" / {n_pages}")
        self.page_box.setValue(self.page + 1)
        self.page_box.blockSignals(False)
        self.previous_button.setEnabled(self.page > 0)
        self.next_button.setEnabled(self.page < n_pages - 1)

    def showEvent(self, event) -> None:
        self.refresh_layers()
        super().showEvent(event)

    def refresh_layers(self) -> None:
        """Offer the current model's layers: the heat-map dock's list when it has one, else
        loaded on a worker (the browser's own model copy)."""
        path = self.model_path()
        if path is None or path == self._layers_path:
            return
        known = self.layer_names()
        if known:
            self._layers_path = path
            self.set_layers(known)
            return
        self.jobs.submit(
            lambda _cancel: model_layers(self.model_copy, path)[1],
            f"Loading {path.stem}",
            lambda layers, p=path: self._on_layers(p, layers),
            on_error=self._on_error,
            preempt=False,
        )

    def _on_layers(self, path: Path, layers: list[str]) -> None:
        if path == self.model_path():
            self._layers_path = path
            self.set_layers(layers)

    def closeEvent(self, event) -> None:
        self.jobs.cancel()
        super().closeEvent(event)

    def keyPressEvent(self, event) -> None:
        # Esc cancels a computation before it closes the dialog.
        if event.key() == Qt.Key.Key_Escape and self.jobs.busy:
            self.jobs.cancel()
            return
        super().keyPressEvent(event)
