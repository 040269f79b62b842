"""The heat-map dock: compute a class-activation map of the image on screen and show it.

Computing runs on the window's worker pool through a `SerialJobs` queue (one job at a time on
the dock's own model copy). Results are cached per image, frame, model, method, class and
layer, so flicking between images or classes that were already explained is instant. When the
user has computed a map once, the dock follows the selected image: it shows the cached map or
computes a new one, and clears the layer while it does, so a map is never drawn over the wrong
image.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import numpy as np
from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QMessageBox,
    QProgressBar,
    QPushButton,
    QSlider,
    QVBoxLayout,
    QWidget,
)

from crystalview import paths
from crystalview.cam.names import METHOD_NAMES
from crystalview.core.micrograph import Micrograph
from crystalview.core.progress import Progress
from crystalview.gui.cam.heatmap_layer import HEATMAP_COLORMAPS, HeatmapLayer
from crystalview.gui.cam.jobs import CamRequest, ModelCopy, RunSettings, cam_job, model_layers
from crystalview.gui.cam.serial import SerialJobs
from crystalview.gui.viewer import ImageViewer
from crystalview.gui.workers import WorkerPool

METHOD_CHOICES: tuple[tuple[str, str], ...] = (
    ("Automatic", "auto"),
    ("CAM (exact)", "cam"),
    ("Grad-CAM", "gradcam"),
    ("Grad-CAM++", "gradcam++"),
    ("Occlusion (slow)", "occlusion"),
)
METHOD_LABELS = {method: text for text, method in METHOD_CHOICES}
_METHOD_NOTES = {
    "auto": "Exact CAM when the network ends in average pooling and one linear layer "
    "(no extra cost), Grad-CAM otherwise.",
    "cam": "Exact class-activation map; only for networks ending in average pooling + linear.",
    "gradcam": "Gradient-weighted activations of the chosen layer: earlier layers give sharper "
    "but noisier maps.",
    "gradcam++": "Grad-CAM with higher-order weights; better when a class appears several times.",
    "occlusion": "Hides patches of the input and measures the drop in the class score: an "
    "independent check, but slow (many forward passes per tile).",
}
# Maps kept for flicking back and forth; big images have big maps, so the cache is bounded in
# bytes rather than in entries.
CACHE_BYTES = 256 * 2**20


def model_files() -> list[Path]:
    """Model bundles in the built-in and user folders (file names only; nothing is loaded)."""
    found: list[Path] = []
    for folder in (paths.builtin_models_dir(), paths.user_models_dir()):
        if Path(folder).is_dir():
            found.extend(sorted(Path(folder).glob("*.cvmodel")))
    return found


class HeatmapDock(QWidget):
    """Controls of the heat-map layer over ``viewer``.

    Signals
    -------
    result_shown(object)
        The `CamResult` now drawn (``None`` when the layer was cleared).
    """

    result_shown = Signal(object)

    def __init__(self, viewer: ImageViewer, pool: WorkerPool, parent: QWidget | None = None):
        super().__init__(parent)
        self.viewer = viewer
        self.layer = HeatmapLayer(viewer)
        self.jobs = SerialJobs(pool, self)
        self.model_copy = ModelCopy()
        self.model_path: Path | None = None
        self.image_key: tuple | None = None
        self.micrograph: Micrograph | None = None
        self.image_name = ""
        self.result = None  # CamResult on screen
        self.cache: OrderedDict[tuple, object] = OrderedDict()
        self._armed = False  # set by the first explicit Compute: then the dock follows images
        self._class_names: list[str] = []
        self._external_model = False
        self._info_path: Path | None = None
        self.run_settings: Callable[[], RunSettings] = RunSettings
        """Tile size, overlap, batch size and device; the model dock supplies its own."""
        self._build()
        self.jobs.busy_changed.connect(self._on_busy)
        self.jobs.progress.connect(self._on_progress)
        self.jobs.ended.connect(self._on_job_ended)
        self.jobs.abandoned.connect(self._on_job_abandoned)
        viewer.frame_changed.connect(lambda _i: self._refresh())
        self._update_enabled()

    # -- widgets -----------------------------------------------------------------------------------

    def _build(self) -> None:
        self.model_box = QComboBox()
        self.model_box.setToolTip("The model whose decision is explained")
        self.model_box.currentIndexChanged.connect(self._on_model_box)
        self.model_label = QLabel()
        self.model_label.setWordWrap(True)
        self.model_label.hide()
        self.method_box = QComboBox()
        for text, method in METHOD_CHOICES:
            self.method_box.addItem(text, method)
            self.method_box.setItemData(
                self.method_box.count() - 1, _METHOD_NOTES[method], Qt.ItemDataRole.ToolTipRole
            )
        self.method_box.currentIndexChanged.connect(self._on_method)
        self.method_note = QLabel()
        self.method_note.setWordWrap(True)
        note_font = self.method_note.font()
        note_font.setPointSizeF(note_font.pointSizeF() * 0.9)
        self.method_note.setFont(note_font)
        self.class_box = QComboBox()
        self.class_box.setToolTip("Explain the predicted class or any other class")
        self.class_box.addItem("Predicted class", None)
        self.class_box.currentIndexChanged.connect(lambda _i: self._refresh())
        self.layer_box = QComboBox()
        self.layer_box.setToolTip("Grad-CAM layer: the last one is the most class-specific")
        self.layer_box.currentIndexChanged.connect(lambda _i: self._refresh())

        self.compute_button = QPushButton("Compute heat map")
        self.compute_button.setToolTip("Explain the image on screen with the chosen model")
        self.compute_button.clicked.connect(self.compute)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.clicked.connect(self.cancel)
        self.cancel_button.hide()
        self.progress_bar = QProgressBar()
        self.progress_bar.hide()
        self.follow_box = QCheckBox("Follow the selected image")
        self.follow_box.setChecked(True)
        self.follow_box.setToolTip(
            "After the first map, compute one for every image you select (or show it from the "
            "cache)"
        )
        self.show_box = QCheckBox("Show heat map")
        self.show_box.setChecked(True)
        self.show_box.toggled.connect(self.layer.set_enabled)

        self.colormap_box = QComboBox()
        self.colormap_box.addItems(HEATMAP_COLORMAPS)
        self.colormap_box.currentTextChanged.connect(self.layer.set_colormap)
        self.opacity_slider, self.opacity_label = self._slider(
            50, lambda v: f"{v} %", self.layer.set_opacity
        )
        self.threshold_slider, self.threshold_label = self._slider(
            0, lambda v: f"{v / 100:.2f}", self.layer.set_threshold
        )
        self.threshold_slider.setToolTip("Hide weak evidence: map values below this are clear")
        self.info = QLabel("Pick a model, then Compute.")
        self.info.setWordWrap(True)
        self.info.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.export_button = QPushButton("Export heat map…")
        self.export_button.setToolTip("Save image + heat map as PNG and the raw map as TIFF")
        self.export_button.clicked.connect(self.export_dialog)
        self.features_button = QPushButton("Feature maps…")
        self.playground_button = QPushButton("Kernels…")
        self.playground_button.setToolTip("Kernel playground: try a 3 x 3 kernel and pooling")

        form = self._form = QFormLayout()
        form.addRow("Model", self.model_box)
        form.addRow(self.model_label)
        form.addRow("Method", self.method_box)
        form.addRow(self.method_note)
        form.addRow("Class", self.class_box)
        form.addRow("Layer", self.layer_box)
        buttons = QHBoxLayout()
        buttons.addWidget(self.compute_button, 1)
        buttons.addWidget(self.cancel_button)
        view = QFormLayout()
        view.addRow(self.show_box)
        view.addRow("Colours", self.colormap_box)
        view.addRow("Opacity", self._row(self.opacity_slider, self.opacity_label))
        view.addRow("Threshold", self._row(self.threshold_slider, self.threshold_label))
        tools = QHBoxLayout()
        tools.addWidget(self.features_button)
        tools.addWidget(self.playground_button)
        # Narrow enough to share the right-hand dock column with the others.
        combos = (self.model_box, self.method_box, self.class_box, self.layer_box)
        for box in (*combos, self.colormap_box):
            box.setSizeAdjustPolicy(
                QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon
            )
            box.setMinimumContentsLength(8)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addLayout(buttons)
        layout.addWidget(self.progress_bar)
        layout.addWidget(self.follow_box)
        layout.addLayout(view)
        layout.addWidget(self.info)
        layout.addWidget(self.export_button)
        layout.addLayout(tools)
        layout.addStretch(1)
        self._on_method()

    @staticmethod
    def _slider(value: int, text, apply) -> tuple[QSlider, QLabel]:
        """A 0..100 slider with a read-out label; ``apply(fraction)`` sets the layer."""
        slider = QSlider(Qt.Orientation.Horizontal)
        slider.setRange(0, 100)
        label = QLabel(text(value))
        label.setMinimumWidth(36)

        def changed(position: int) -> None:
            label.setText(text(position))
            apply(position / 100.0)

        slider.valueChanged.connect(changed)
        slider.setValue(value)
        changed(value)
        return slider, label

    @staticmethod
    def _row(*widgets: QWidget) -> QWidget:
        row = QWidget()
        layout = QHBoxLayout(row)
        layout.setContentsMargins(0, 0, 0, 0)
        for widget in widgets:
            layout.addWidget(widget)
        return row

    def _on_method(self, *_args) -> None:
        method = self.method
        self.method_note.setText(_METHOD_NOTES[method])
        self.layer_box.setEnabled(method in ("gradcam", "gradcam++"))
        self._refresh()

    # -- the model ---------------------------------------------------------------------------------

    def refresh_models(self) -> None:
        """Refill the model list (built-in and user bundles), keeping the selection."""
        current = self.model_box.currentData()
        self.model_box.blockSignals(True)
        self.model_box.clear()
        for row, path in enumerate(model_files()):
            self.model_box.addItem(path.stem, path)
            self.model_box.setItemData(row, str(path), Qt.ItemDataRole.ToolTipRole)
        index = self.model_box.findData(current)
        self.model_box.setCurrentIndex(max(0, index) if self.model_box.count() else -1)
        self.model_box.blockSignals(False)
        if not self._external_model:
            self.set_model_path(self.model_box.currentData())

    def _on_model_box(self, _index: int) -> None:
        if not self._external_model:
            self.set_model_path(self.model_box.currentData())

    def follow_model_source(self) -> None:
        """Another widget chooses the model (the model dock): hide this dock's own list."""
        self._external_model = True
        self._form.setRowVisible(self.model_box, False)
        self.model_label.show()

    def set_model_path(self, path: Path | str | None) -> None:
        """Explain with the bundle at ``path`` (``None``: no model)."""
        path = None if path in (None, "") else Path(path)
        if path == self.model_path:
            return
        self.model_path = path
        index = self.model_box.findData(path)
        if index >= 0 and index != self.model_box.currentIndex():
            self.model_box.blockSignals(True)
            self.model_box.setCurrentIndex(index)
            self.model_box.blockSignals(False)
        self.model_label.setText(f"Model: {path.stem}" if path else "No model chosen.")
        self._info_path = None
        self._set_classes([], [], True)
        if self.isVisible():
            self._load_model_info()
        self._update_enabled()
        self._refresh()

    def layer_names(self) -> list[str]:
        """Grad-CAM layers of the model, once its information has been loaded."""
        return [self.layer_box.itemText(i) for i in range(self.layer_box.count())]

    def _load_model_info(self) -> None:
        """Fill the class and layer lists on a worker (loading the model imports torch, which
        is why this waits until the dock is first seen or a map is computed)."""
        path = self.model_path
        if path is None or self._info_path == path:
            return
        self._info_path = path
        self.jobs.submit(
            lambda _cancel: model_layers(self.model_copy, path),
            f"Loading {path.stem}",
            lambda info, p=path: self._on_model_info(p, info),
            on_error=self._on_model_error,
            preempt=False,
            key=("model info", path),
        )

    def showEvent(self, event) -> None:
        self._load_model_info()
        super().showEvent(event)

    def _on_model_info(self, path: Path, info: tuple[list[str], list[str], bool]) -> None:
        if path == self.model_path:
            self._info_path = path
            if info[0] != self._class_names or info[1] != self.layer_names():
                self._set_classes(*info)
            self._update_enabled()

    def _on_model_error(self, error: Exception, _details: str) -> None:
        self.info.setText(f"The model could not be loaded: {error}")
        self._update_enabled()

    def _set_classes(self, classes: list[str], layers: list[str], exact_cam: bool) -> None:
        self._class_names = list(classes)
        kept_class = self.class_box.currentData()
        kept_layer = self.layer_box.currentText()
        for box in (self.class_box, self.layer_box):
            box.blockSignals(True)
        self.class_box.clear()
        self.class_box.addItem("Predicted class", None)
        for name in classes:
            self.class_box.addItem(name, name)
        self.class_box.setCurrentIndex(max(0, self.class_box.findData(kept_class)))
        self.layer_box.clear()
        self.layer_box.addItems(layers)
        keep = self.layer_box.findText(kept_layer)
        self.layer_box.setCurrentIndex(keep if keep >= 0 else self.layer_box.count() - 1)
        exact = self.method_box.model().item(self.method_box.findData("cam"))
        exact.setEnabled(exact_cam)
        if not exact_cam and self.method == "cam":
            self.method_box.setCurrentIndex(self.method_box.findData("auto"))
        for box in (self.class_box, self.layer_box):
            box.blockSignals(False)

    # -- the image ---------------------------------------------------------------------------------

    def set_image(self, key: tuple | None, micrograph: Micrograph | None, name: str = "") -> None:
        """The image on screen changed (``key`` identifies it in the cache)."""
        self.image_key = key if micrograph is not None else None
        self.micrograph = micrograph
        self.image_name = name
        self._update_enabled()
        self._refresh()

    # -- computing ---------------------------------------------------------------------------------

    @property
    def method(self) -> str:
        return self.method_box.currentData()

    @property
    def target(self) -> str | None:
        return self.class_box.currentData()

    def request(self) -> CamRequest | None:
        """What the controls ask for on the image on screen, or ``None`` if nothing can be done."""
        if self.micrograph is None or self.model_path is None or self.image_key is None:
            return None
        method = self.method
        layer = self.layer_box.currentText() or None if method in ("gradcam", "gradcam++") else None
        return CamRequest(
            image_key=self.image_key,
            model_path=self.model_path,
            method=method,
            target=self.target,
            layer=layer,
            frame=self.viewer.frame_index,
            run=self.run_settings(),
            micrograph=self.micrograph,
        )

    def compute(self) -> None:
        """Compute (or show from the cache) the map the controls ask for."""
        request = self.request()
        if request is None:
            self.info.setText("Open an image and pick a model first.")
            return
        self._armed = True
        if request.key in self.cache:
            self._show(request.key)
            return
        self._submit(request)

    def cancel(self) -> None:
        """Stop the running computation; the layer keeps whatever it showed."""
        if self.jobs.busy:
            self.info.setText("Cancelled.")
        self.jobs.cancel()

    def _submit(self, request: CamRequest) -> None:
        label = METHOD_LABELS[request.method]
        self.info.setText(f"Computing {label} for {self.image_name or 'the image'}…")
        # the job loads the class and layer lists too: a queued load of them is not needed
        self._info_path = request.model_path
        self.jobs.discard(("model info", request.model_path))

        def job(cancel):
            copy = self.model_copy  # read when the job starts: a fresh one after an abandon
            result = yield from cam_job(request, copy, cancel)
            return result, model_layers(copy, request.model_path)

        self.jobs.submit(
            job,
            f"Heat map of {self.image_name or 'image'}",
            lambda outcome, r=request: self._on_result(r, *outcome),
            on_error=self._on_error,
        )

    def _on_result(self, request: CamRequest, result, info) -> None:
        self._store(request.key, result)
        if request.layer is None and request.method in ("gradcam", "gradcam++"):
            # Asked before the layer list was known: it is also the map of the layer used.
            self._store(replace(request, layer=result.layer).key, result)
        self._on_model_info(request.model_path, info)
        current = self.request()
        if current is not None and current.key in self.cache:
            self._show(current.key)

    def _on_error(self, error: Exception, details: str) -> None:
        self.info.setText(f"The heat map failed: {error}")
        window = self.window()
        if hasattr(window, "show_job_error"):
            window.show_job_error("Heat map", error, details)

    def _store(self, key: tuple, result) -> None:
        self.cache[key] = result
        self.cache.move_to_end(key)
        while len(self.cache) > 1 and self._cache_bytes() > CACHE_BYTES:
            self.cache.popitem(last=False)  # the least recently shown

    def _cache_bytes(self) -> int:
        # A map stored under two keys (see _on_result) is one array, counted once.
        return sum({id(r.heatmap): r.heatmap.nbytes for r in self.cache.values()}.values())

    def _show(self, key: tuple) -> None:
        result = self.cache[key]
        self.cache.move_to_end(key)
        image = self.micrograph.frame(self.viewer.frame_index) if self.micrograph else None
        if image is None or result.heatmap.shape != image.shape[-2:]:
            self._clear("The heat map does not match the image on screen; compute it again.")
            return
        self.result = result
        self.layer.set_heatmap(result.heatmap, method=result.method)
        self.info.setText(self._describe(result))
        self._update_enabled()
        self.result_shown.emit(result)

    def _clear(self, message: str = "") -> None:
        if self.result is not None or self.layer.heatmap is not None:
            self.result = None
            self.layer.set_heatmap(None)
            self.result_shown.emit(None)
        if message:
            self.info.setText(message)
        self._update_enabled()

    def _describe(self, result) -> str:
        method = METHOD_NAMES.get(result.method, result.method)
        where = f" at layer {result.layer}" if result.layer and result.method != "cam" else ""
        chosen = "predicted" if self.target is None else "chosen"
        text = f"{method}{where} for class “{result.class_name}” ({chosen})"
        if result.probabilities is not None and len(result.probabilities) > result.target_class:
            text += f", p = {float(result.probabilities[result.target_class]):.2f}"
        tiles = f"{result.n_tiles} tiles" if result.n_tiles > 1 else "whole image"
        text += f" · {tiles}"
        if result.peak <= 0:
            text += " · no positive evidence for this class anywhere in the image"
        return text

    def _refresh(self) -> None:
        """Show what the controls ask for: from the cache, by computing (when following), or
        nothing."""
        request = self.request()
        if request is None:
            self._clear("Open an image and pick a model." if self._armed else "")
            return
        if request.key in self.cache:
            self._show(request.key)
            return
        self._clear()
        if self._armed and self.follow_box.isChecked() and self.show_box.isChecked():
            self._submit(request)
        else:
            self.info.setText("Press Compute to see where the network looked.")

    # -- busy state --------------------------------------------------------------------------------

    def _on_job_ended(self, kind: str) -> None:
        """Whatever ended the job, the dock now says what is true: the map of the image on
        screen, or that none is being computed. Never "Computing…" with nothing running."""
        if self.jobs.busy:
            return  # the next request is running and has said what it computes
        request = self.request()
        if request is not None and request.key in self.cache:
            if self.result is not self.cache[request.key]:
                self._show(request.key)
            return
        if kind == "cancelled":
            self.info.setText("Cancelled. Press Compute to compute the heat map again.")
        elif kind == "result" and request is not None:
            self.info.setText("Press Compute to see where the network looked.")
        self._update_enabled()

    def _on_job_abandoned(self) -> None:
        # The stuck job may still be inside the old copy's network: never share it.
        self.model_copy = ModelCopy()

    def _on_busy(self, busy: bool) -> None:
        self.cancel_button.setVisible(busy)
        self.progress_bar.setVisible(busy)
        self.progress_bar.setRange(0, 0)

    def _on_progress(self, event: Progress) -> None:
        if event.total > 0:
            self.progress_bar.setRange(0, event.total)
            self.progress_bar.setValue(min(event.done, event.total))
        else:
            self.progress_bar.setRange(0, 0)
        self.progress_bar.setToolTip(event.message)

    def _update_enabled(self) -> None:
        ready = self.micrograph is not None and self.model_path is not None
        self.compute_button.setEnabled(ready)
        self.export_button.setEnabled(self.result is not None)

    # -- export ------------------------------------------------------------------------------------

    def export_dialog(self) -> None:
        """Ask where to save, then write the overlay PNG and the raw float32 TIFF."""
        if self.result is None or self.micrograph is None:
            QMessageBox.information(self, "No heat map", "Compute a heat map first.")
            return
        stem = Path(self.image_name or "image").stem
        suggested = str(Path.home() / f"{stem}_cam.png")
        path, _ = QFileDialog.getSaveFileName(
            self, "Export heat map", suggested, "PNG image (*.png)"
        )
        if not path:
            return
        try:
            png, tiff = self.export_to(path)
        except (OSError, ValueError) as error:
            QMessageBox.critical(
                self,
                "Export failed",
                f"The heat map could not be saved to {path}: {error}\n\n"
                "Choose a folder you can write to, with enough free space.",
            )
            return
        self.info.setText(f"Saved {png.name} (picture) and {tiff.name} (raw map).")

    def export_to(self, png_path: str | Path) -> tuple[Path, Path]:
        """Write ``png_path`` (image + map + scale bar + legend) and the map as float32 TIFF
        beside it (same name, ``.tif``); returns both paths."""
        from crystalview.cam.export import render_overlay_png, save_cam_tiff

        if self.result is None or self.micrograph is None:
            raise ValueError("no heat map is shown")
        png_path = Path(png_path)
        if png_path.suffix.lower() != ".png":
            png_path = png_path.with_name(png_path.name + ".png")
        tiff_path = png_path.with_suffix(".tif")
        image = np.asarray(self.micrograph.frame(self.viewer.frame_index))
        if np.iscomplexobj(image):
            image = np.abs(image)
        result = self.result
        title = f"{self.image_name} · {METHOD_NAMES.get(result.method, result.method)}"
        title += f" · {result.class_name}"
        save_cam_tiff(tiff_path, result.heatmap)
        render_overlay_png(
            png_path,
            image,
            result.heatmap,
            self.micrograph,
            colormap=self.layer.colormap,
            opacity=self.layer.opacity,
            title=title,
            method=result.method,
        )
        return png_path, tiff_path

    def shutdown(self) -> None:
        """Stop computing (the window waits for the pool's threads itself)."""
        self.jobs.cancel()
