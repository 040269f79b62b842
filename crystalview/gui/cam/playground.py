"""The kernel playground: slide a 3 x 3 kernel over the image and see what a CNN layer sees.

For teaching and intuition. Edit the nine weights (or pick edge, Sobel, blur, sharpen, Laplacian
presets) and the feature map redraws live beside the image, with 2 x 2 max and average pooling
next to it: the two operations a convolutional network repeats. The image is shrunk to at most
`MAX_SIDE` pixels first (block averages) so every edit redraws at once, and shown with the
viewer's automatic contrast (log for diffraction) — the same picture the user is looking at.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDoubleSpinBox,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QVBoxLayout,
    QWidget,
)

from crystalview.core.micrograph import Micrograph
from crystalview.gui.viewer import ImageViewer
from crystalview.io.display import auto_levels, to_display

MAX_SIDE = 512
DEBOUNCE_MS = 120
CUSTOM = "custom"


def playground_image(
    micrograph: Micrograph, frame: int = 0, max_side: int = MAX_SIDE
) -> np.ndarray:
    """The frame as display values 0..1, block-averaged down to at most ``max_side`` pixels."""
    image = np.asarray(micrograph.frame(frame))
    if np.iscomplexobj(image):
        image = np.abs(image)
    log = micrograph.is_diffraction
    shown = to_display(image, auto_levels(image, log), log=log).astype(np.float32)
    factor = int(np.ceil(max(shown.shape) / max_side))
    if factor > 1:
        height, width = shown.shape[0] // factor * factor, shown.shape[1] // factor * factor
        blocks = shown[:height, :width].reshape(height // factor, factor, width // factor, factor)
        shown = blocks.mean(axis=(1, 3), dtype=np.float32)
    return shown


class KernelPlayground(QDialog):
    """Non-modal dialog: a 3 x 3 kernel editor and four pictures (input, feature map, pools)."""

    def __init__(self, viewer: ImageViewer, parent: QWidget | None = None):
        super().__init__(parent)
        from crystalview.cam.features import KERNEL_PRESETS

        self.setWindowTitle("Kernel playground")
        self.resize(860, 760)
        self.viewer = viewer
        self.presets = dict(KERNEL_PRESETS)
        self.image: np.ndarray | None = None
        self.feature: np.ndarray | None = None
        self.pooled: dict[str, np.ndarray] = {}
        self._setting_preset = False

        self.preset_box = QComboBox()
        self.preset_box.addItems([*self.presets, CUSTOM])
        self.preset_box.currentTextChanged.connect(self.set_preset)
        self.spins: list[list[QDoubleSpinBox]] = []
        grid = QGridLayout()
        for row in range(3):
            spins = []
            for col in range(3):
                spin = QDoubleSpinBox()
                spin.setRange(-20.0, 20.0)
                spin.setDecimals(3)
                spin.setSingleStep(0.25)
                spin.valueChanged.connect(self._on_weight_changed)
                grid.addWidget(spin, row, col)
                spins.append(spin)
            self.spins.append(spins)
        self.relu_box = QCheckBox("ReLU after the kernel (keep positive responses)")
        self.relu_box.toggled.connect(self.schedule)
        self.info = QLabel()
        self.info.setWordWrap(True)

        self.pictures = pg.GraphicsLayoutWidget()
        self.pictures.setBackground("#202124")
        self.items: dict[str, pg.ImageItem] = {}
        titles = {
            "input": "Image",
            "feature": "Feature map (kernel applied)",
            "max": "2 x 2 max pooling",
            "avg": "2 x 2 average pooling",
        }
        self._views: list[pg.ViewBox] = []
        for index, (name, title) in enumerate(titles.items()):
            row, col = divmod(index, 2)
            self.pictures.addLabel(title, row=2 * row, col=col, color="#dddddd")
            view = self.pictures.addViewBox(row=2 * row + 1, col=col, lockAspect=True, invertY=True)
            view.setMenuEnabled(False)
            item = pg.ImageItem()
            view.addItem(item)
            self.items[name] = item
            self._views.append(view)
        # Zooming one picture zooms all four, so the same structure is compared everywhere.
        for view in self._views[1:]:
            view.setXLink(self._views[0])
            view.setYLink(self._views[0])

        controls = QHBoxLayout()
        left = QVBoxLayout()
        left.addWidget(QLabel("Preset"))
        left.addWidget(self.preset_box)
        left.addWidget(QLabel("Kernel weights (3 x 3)"))
        left.addLayout(grid)
        left.addWidget(self.relu_box)
        controls.addLayout(left)
        controls.addWidget(self.info, 1)
        layout = QVBoxLayout(self)
        layout.addLayout(controls)
        layout.addWidget(self.pictures, 1)

        self.timer = QTimer(self)
        self.timer.setSingleShot(True)
        self.timer.setInterval(DEBOUNCE_MS)
        self.timer.timeout.connect(self.update_output)
        viewer.frame_changed.connect(lambda _i: self.set_source())
        self.set_preset(self.preset_box.currentText())
        self.set_source()

    # -- kernel ------------------------------------------------------------------------------------

    def kernel(self) -> np.ndarray:
        """The 3 x 3 kernel in the editor."""
        return np.array([[s.value() for s in row] for row in self.spins], dtype=np.float32)

    def set_kernel(self, kernel: np.ndarray) -> None:
        kernel = np.asarray(kernel, dtype=np.float32)
        if kernel.shape != (3, 3):
            raise ValueError(f"the playground edits 3 x 3 kernels, got {kernel.shape}")
        for row in range(3):
            for col in range(3):
                self.spins[row][col].blockSignals(True)
                self.spins[row][col].setValue(float(kernel[row, col]))
                self.spins[row][col].blockSignals(False)
        self.schedule()

    def set_preset(self, name: str) -> None:
        if name not in self.presets:
            return
        self._setting_preset = True
        if self.preset_box.currentText() != name:
            self.preset_box.setCurrentText(name)
        self.set_kernel(self.presets[name])
        self._setting_preset = False

    def _on_weight_changed(self, _value: float) -> None:
        # A hand edit makes it a custom kernel (the preset name would now be wrong).
        if not self._setting_preset and self.preset_box.currentText() != CUSTOM:
            self.preset_box.blockSignals(True)
            self.preset_box.setCurrentText(CUSTOM)
            self.preset_box.blockSignals(False)
        self.schedule()

    # -- image -------------------------------------------------------------------------------------

    def set_source(self) -> None:
        """Take the image on screen (call when it changes)."""
        micrograph = self.viewer.micrograph
        if micrograph is None:
            self.image = None
            for item in self.items.values():
                item.clear()
            self.info.setText("Open an image to try the kernel on it.")
            return
        self.image = playground_image(micrograph, self.viewer.frame_index)
        self.items["input"].setImage(self.image, levels=(0.0, 1.0))
        self._views[0].autoRange(padding=0.02)
        self.schedule()

    def schedule(self, *_args) -> None:
        """Redraw soon: edits within `DEBOUNCE_MS` of each other cost one redraw."""
        self.timer.start()

    def update_output(self) -> None:
        """Apply the kernel (then ReLU if chosen) and both poolings, and show them."""
        from crystalview.cam.features import apply_kernel, pool2x2

        self.timer.stop()
        if self.image is None:
            return
        feature = apply_kernel(self.image, self.kernel())
        if self.relu_box.isChecked():
            feature = np.maximum(feature, 0.0)
        self.feature = feature
        self.pooled = {mode: pool2x2(feature, mode) for mode in ("max", "avg")}
        levels = self._levels(feature)
        lut = self._lut(levels)
        self.items["feature"].setImage(feature, levels=levels, lut=lut)
        # Pooled maps are twice as coarse: scale them up so they lie over the same picture.
        for mode in ("max", "avg"):
            item = self.items[mode]
            item.setImage(self.pooled[mode], levels=levels, lut=lut)
            item.setRect(0, 0, 2 * self.pooled[mode].shape[1], 2 * self.pooled[mode].shape[0])
        height, width = feature.shape
        pooled_h, pooled_w = self.pooled["max"].shape
        self.info.setText(
            f"The kernel slides over the image ({width} x {height} px shown) and writes one "
            f"weighted sum per pixel. Pooling keeps the maximum or the mean of every 2 x 2 block "
            f"({pooled_w} x {pooled_h} px): half the detail, the same structures. "
            + ("Blue: negative response, red: positive." if levels[0] < 0 else "")
        )

    @staticmethod
    def _levels(values: np.ndarray) -> tuple[float, float]:
        """Symmetric about zero for signed responses (so zero is white), else 0..high.

        The top 2 % are allowed to saturate: a few very strong edges (a data bar, the sample
        border) would otherwise wash out the grain boundaries a user wants to see.
        """
        if float(values.min()) < 0:
            extent = float(np.percentile(np.abs(values), 98)) or 1.0
            return -extent, extent
        high = float(np.percentile(values, 98))
        return 0.0, high if high > 0 else 1.0

    @staticmethod
    def _lut(levels: tuple[float, float]) -> np.ndarray | None:
        return pg.colormap.get("CET-D1").getLookupTable(nPts=256) if levels[0] < 0 else None
