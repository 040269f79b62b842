"""Model dock: choose a model, set how it runs, and classify the current, selected or all images.

Installed by `install` (listed in `crystalview.gui.docks.FEATURES`), which also adds the
results dock (`crystalview.gui.docks.results`) and a Model menu.

API for other features
----------------------
``window.model_dock`` is the `ModelDock`:

- ``current_model_entry() -> ModelEntry | None``: the model chosen in the dock.
- ``model_changed(object)``: emitted with the new `ModelEntry` (or None) whenever the choice
  changes, by the user or automatically (SAED images preselect ``saed-crystal-system``).
- ``refresh_models(select: str | None = None) -> Worker``: list the built-in and user models
  again (on a worker thread, since listing imports torch); ``select`` picks a model by name
  once listed. The fine-tune wizard calls it after saving a model.
- ``models_listed(list)``: the `ModelEntry` list after each refresh.
- ``select_model(name: str) -> bool``: choose a listed model by name.
- ``prediction_for(entry) -> ImagePrediction | None``: the latest prediction of an image.
- ``prediction_ready(object, object)``: ``(ImageEntry, ImagePrediction)`` as each image
  finishes (the prediction is None when that image could not be classified).
- ``run_settings() -> InferenceSettings``: how the chosen model runs (tile size, overlap, batch
  size, device); ``settings_changed(object)`` is emitted with the new settings whenever they or
  the model change, and ``set_run_settings(settings)`` changes them (the Tiles dock does, when
  it follows this dock). Other features observe these instead of reading this dock's widgets.
- ``run_on(entries) -> RunRequest | None``: classify images with the current settings.
- ``run_started(object)`` / ``run_finished(object)``: a `RunRequest` starts; a `RunSummary`
  (or None when the run was cancelled or failed) ends.

Only one classification runs at a time. Pressing Run while one is going *queues* the new run
(the dock says how many wait); cancelling (status-bar Cancel or Esc) stops the running one and
drops the queued ones. The dock's runs own their loaded model (a `ModelCache`); CAM and training
load their own copies. Which device really ran the model (after any GPU out-of-memory fallback)
comes back with each prediction and is shown here and in the status bar.
"""

from __future__ import annotations

import html
from collections import deque
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QFrame,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QScrollArea,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from crystalview.core.progress import Progress
from crystalview.core.units import format_pixel_size
from crystalview.gui.docks.results import PREDICTION_KEY, ResultsDock, prediction_of
from crystalview.gui.gallery import prediction_badge
from crystalview.gui.tile_classes import class_colour
from crystalview.gui.workers import Worker
from crystalview.inference.settings import DEVICES, InferenceSettings
from crystalview.jobs.classify import (
    EntryPrediction,
    RunRequest,
    RunSummary,
    classify_entries,
)
from crystalview.jobs.library import ImageEntry
from crystalview.models.cache import ModelCache

if TYPE_CHECKING:
    from crystalview.gui.main_window import MainWindow
    from crystalview.inference.predict import ImagePrediction
    from crystalview.models.catalog import ModelEntry

PREFERRED_BUILTINS: dict[str, tuple[str, ...]] = {
    "SAED": ("saed-crystal-system", "saed-zone-lattice"),
}
"""Built-in models offered first for images of a modality, best first."""


def preferred_model(models: Iterable[ModelEntry], modality: str) -> ModelEntry | None:
    """The model to preselect for an image of ``modality``, or None to keep the current one.

    The named built-ins of `PREFERRED_BUILTINS` come first, then any model trained for that
    modality (built-ins before user models, as listed).
    """
    models = list(models)
    for name in PREFERRED_BUILTINS.get(modality, ()):
        for model in models:
            if model.builtin and model.name == name:
                return model
    for model in models:
        if model.manifest.modality == modality:
            return model
    return None


def _list_models(_cancel) -> list[ModelEntry]:
    # on a worker thread: the catalogue imports torch, which takes seconds the first time
    from crystalview.models.catalog import list_models

    return list_models()


# How a diffraction model's input transform reads in the model summary.
_VIEW_WORDS = {
    "log_polar": "log-polar view about the beam centre",
    "log_polar_mean": "radial profile about the beam centre",
    "autocorrelation": "autocorrelation (spot-net) view",
    "polar_autocorrelation": "polar autocorrelation (spot-net) view",
}


# What a model's evidence stack measures on the whole pattern (`crystalview.inference.evidence`).
_EVIDENCE_WORDS = {"spot_lattice": "the spot net measured on the full pattern"}


def model_card_html(model: ModelEntry) -> str:
    """A short summary of what a model expects: classes, input, modality, pixel size."""
    manifest = model.manifest
    origin = "built-in" if model.builtin else "your model"
    mode = "whole image resized" if manifest.input_mode == "whole" else "tiles"
    view = _VIEW_WORDS.get(manifest.transform)
    if view:
        mode = f"whole pattern, {view}"
    if manifest.evidence:
        mode += f", plus {_EVIDENCE_WORDS.get(manifest.evidence['method'], 'measured geometry')}"
    if manifest.pixel_size is not None:
        scale = f"trained at {format_pixel_size(manifest.pixel_size, manifest.pixel_unit)}"
    else:
        scale = "any pixel size"
    trained_on = (
        "any kind of image" if manifest.modality == "unknown" else f"{manifest.modality} images"
    )
    swatches = ", ".join(
        f"<span style='color:{class_colour(i).name()}'>■</span>&nbsp;{html.escape(name)}"
        for i, name in enumerate(manifest.classes)
    )
    lines = [
        f"<b>{html.escape(manifest.name or model.name)}</b> ({origin}, {manifest.architecture})",
        f"Classes: {swatches}",
        f"Input: {manifest.input_size} x {manifest.input_size} px, {mode}",
        f"Trained on: {trained_on}, {scale}",
    ]
    if manifest.description:
        text = manifest.description.strip().replace("\n", " ")
        lines.append(f"<i>{html.escape(text[:240])}{'…' if len(text) > 240 else ''}</i>")
    return "<br>".join(lines)


class ModelDock(QWidget):
    """Model choice, run settings and Run buttons (see the module docstring for the API)."""

    model_changed = Signal(object)
    settings_changed = Signal(object)
    models_listed = Signal(list)
    prediction_ready = Signal(object, object)
    run_started = Signal(object)
    run_finished = Signal(object)

    def __init__(self, window: MainWindow, parent: QWidget | None = None):
        super().__init__(parent)
        self.main = window
        self._models: list[ModelEntry] = []
        self._current: ModelEntry | None = None
        self._user_chose = False
        self._holder = ModelCache()
        self._worker: Worker | None = None
        self._queue: deque[RunRequest] = deque()
        self.device_text = ""

        self.model_box = QComboBox()
        self.model_box.setToolTip("The model that classifies the images")
        self.model_box.setSizeAdjustPolicy(
            QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon
        )
        self.model_box.setMinimumContentsLength(14)
        self.refresh_button = QPushButton("Refresh")
        self.refresh_button.setToolTip("List the built-in and your models again")
        self.import_button = QPushButton("Import model file…")
        self.import_button.setToolTip("Add a .cvmodel file (e.g. from a colleague) to your models")
        self.card = QLabel("Looking for models…")
        self.card.setWordWrap(True)
        self.card.setTextFormat(Qt.TextFormat.RichText)
        self.card.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.mismatch = QLabel()
        self.mismatch.setWordWrap(True)
        self.mismatch.setTextFormat(Qt.TextFormat.PlainText)
        self.mismatch.setStyleSheet("color: #c77800")
        self.mismatch.hide()
        self.sibling_hint = QLabel()
        self.sibling_hint.setWordWrap(True)
        self.sibling_hint.setTextFormat(Qt.TextFormat.RichText)
        self.sibling_hint.linkActivated.connect(self.select_model)
        self.sibling_hint.hide()

        self.device_box = QComboBox()
        self.device_box.addItems(DEVICES)
        self.device_box.setCurrentText(window.preferences.device)
        self.device_box.setToolTip("auto: NVIDIA GPU if present, then Apple GPU, then CPU")
        self.device_label = QLabel("Runs on: (not run yet)")
        self.device_label.setWordWrap(True)
        self.tile_box = QSpinBox()
        self.tile_box.setRange(8, 16384)
        self.tile_box.setSuffix(" px")
        self.tile_box.setToolTip(
            "Tile side in the model's pixels (images calibrated like the model are first "
            "resampled to its pixel size); each tile is scaled to the model's input size"
        )
        self.overlap_box = QDoubleSpinBox()
        self.overlap_box.setRange(0, 90)
        self.overlap_box.setDecimals(0)
        self.overlap_box.setSuffix(" %")
        self.overlap_box.setValue(25)
        self.batch_box = QSpinBox()
        self.batch_box.setRange(1, 1024)
        self.batch_box.setValue(32)
        self.batch_box.setToolTip("Tiles per forward pass; lower it if the GPU runs out of memory")
        self.grid_box = QCheckBox("Show the tile grid in the viewer")
        self.grid_box.setToolTip("Draw exactly the tiles this run will classify (Tiles dock)")
        self.matching_box = QCheckBox("Only images of the model's kind")
        self.matching_box.setChecked(True)
        self.matching_box.setToolTip(
            "Skip images whose modality differs from the one the model was trained for "
            "(images of unknown modality are still classified)"
        )

        self.run_current_button = QPushButton("Run on current")
        self.run_current_button.setToolTip("Classify the image in the viewer (Ctrl+R)")
        self.run_selected_button = QPushButton("Run on selected")
        self.run_selected_button.setToolTip("Classify the images selected in the gallery")
        self.run_all_button = QPushButton("Run on all")
        self.run_all_button.setToolTip("Classify every open image (Ctrl+Shift+R)")
        self.queue_label = QLabel()
        self.queue_label.setWordWrap(True)

        self._build_layout()
        self._connect()
        self._on_model_selected(-1)

    def _build_layout(self) -> None:
        choose = QHBoxLayout()
        choose.addWidget(self.model_box, 1)
        choose.addWidget(self.refresh_button)
        form = QFormLayout()
        form.addRow("Device", self.device_box)
        form.addRow(self.device_label)
        form.addRow("Tile size", self.tile_box)
        form.addRow("Overlap", self.overlap_box)
        form.addRow("Batch size", self.batch_box)
        form.addRow(self.grid_box)
        form.addRow(self.matching_box)
        buttons = QGridLayout()
        buttons.addWidget(self.run_current_button, 0, 0)
        buttons.addWidget(self.run_selected_button, 0, 1)
        buttons.addWidget(self.run_all_button, 1, 0, 1, 2)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addLayout(choose)
        layout.addWidget(self.import_button)
        layout.addWidget(self.card)
        layout.addWidget(self.mismatch)
        layout.addWidget(self.sibling_hint)
        layout.addLayout(form)
        layout.addLayout(buttons)
        layout.addWidget(self.queue_label)
        layout.addStretch(1)

    def _connect(self) -> None:
        self.model_box.activated.connect(self._on_user_choice)
        self.model_box.currentIndexChanged.connect(self._on_model_selected)
        self.refresh_button.clicked.connect(lambda: self.refresh_models())
        self.import_button.clicked.connect(lambda: self.import_model_file())
        self.run_current_button.clicked.connect(self.run_current)
        self.run_selected_button.clicked.connect(self.run_selected)
        self.run_all_button.clicked.connect(self.run_all)
        for signal in (
            self.tile_box.valueChanged,
            self.overlap_box.valueChanged,
            self.batch_box.valueChanged,
            self.device_box.currentTextChanged,
        ):
            signal.connect(self._emit_settings)
        self.main.current_changed.connect(self.on_current_changed)

    # -- the model list -------------------------------------------------------------------------

    def models(self) -> list[ModelEntry]:
        """The models listed by the last refresh."""
        return list(self._models)

    def current_model_entry(self) -> ModelEntry | None:
        return self._current

    def refresh_models(self, select: str | None = None) -> Worker:
        """List models on a worker thread; ``select`` (a name) is chosen once they are listed."""
        worker = self.main.pool.submit(_list_models, "Listing models", background=True)
        worker.result.connect(lambda models, s=select: self._on_models_listed(models, s))
        return worker

    def _on_models_listed(self, models: list[ModelEntry], select: str | None) -> None:
        previous = self._current
        self._models = list(models)
        self.model_box.blockSignals(True)
        self.model_box.clear()
        for model in self._models:
            suffix = "" if model.builtin else "  (yours)"
            self.model_box.addItem(f"{model.name}{suffix}")
            self.model_box.setItemData(
                self.model_box.count() - 1, str(model.path), Qt.ItemDataRole.ToolTipRole
            )
        self.model_box.blockSignals(False)
        names = [m.name for m in self._models]
        current = self.main.current
        preferred = preferred_model(self._models, current.modality) if current else None
        if select is not None and select in names:
            chosen = names.index(select)
            self._user_chose = True
        elif preferred is not None and not self._user_chose:
            chosen = self._models.index(preferred)
        elif previous is not None and previous.name in names:
            chosen = names.index(previous.name)
        else:
            chosen = 0 if self._models else -1
        self.model_box.setCurrentIndex(chosen)
        self._on_model_selected(chosen)
        if not self._models:
            self.card.setText(
                "No models found. Import a .cvmodel file, or train one with the fine-tune wizard."
            )
        self.models_listed.emit(self.models())

    def select_model(self, name: str) -> bool:
        """Choose the listed model called ``name`` (it then stays chosen); False if unlisted."""
        for row, model in enumerate(self._models):
            if model.name == name:
                self._user_chose = True
                self.model_box.setCurrentIndex(row)
                return True
        return False

    def _on_user_choice(self, _row: int) -> None:
        self._user_chose = True  # from now on the image's modality no longer picks the model

    def _on_model_selected(self, row: int) -> None:
        model = self._models[row] if 0 <= row < len(self._models) else None
        changed = model != self._current
        self._current = model
        has_model = model is not None
        for button in (self.run_current_button, self.run_selected_button, self.run_all_button):
            button.setEnabled(has_model)
        if model is None:
            self.card.setText("No model chosen.")
        else:
            self.card.setText(model_card_html(model))
            tiled = model.manifest.input_mode == "tiles"
            if changed:
                self.tile_box.setValue(model.manifest.input_size)
            for widget in (self.tile_box, self.overlap_box, self.grid_box):
                widget.setEnabled(tiled)
            modality = model.manifest.modality
            self.matching_box.setText(f"Only {modality} images")
            self.matching_box.setVisible(modality != "unknown")
        self._update_mismatch()
        if changed:
            self.model_changed.emit(model)
        self._emit_settings()

    def on_current_changed(self, entry: ImageEntry | None) -> None:
        """Follow the image on screen: preselect a model for its kind, warn on a mismatch."""
        if entry is not None and not self._user_chose:
            wanted = preferred_model(self._models, entry.modality)
            if wanted is not None and wanted != self._current:
                self.model_box.setCurrentIndex(self._models.index(wanted))
        self._update_mismatch()

    def _update_mismatch(self) -> None:
        """Warn when the image is of another kind than the model's; offer sibling built-ins."""
        entry, model = self.main.current, self._current
        self.sibling_hint.setVisible(False)
        if entry is None or model is None:
            self.mismatch.hide()
            return
        wanted = model.manifest.modality
        if "unknown" not in (entry.modality, wanted) and entry.modality != wanted:
            self.mismatch.setText(
                f"This is a {entry.modality} image; {model.name} was trained on "
                f"{wanted} images, so its answer may mean little."
            )
            self.mismatch.show()
        else:
            self.mismatch.hide()
        siblings = [
            m
            for m in self._models
            if m.builtin
            and m.name in PREFERRED_BUILTINS.get(entry.modality, ())
            and m.name != model.name
        ]
        if model.builtin and model.name in PREFERRED_BUILTINS.get(entry.modality, ()) and siblings:
            links = ", ".join(f"<a href='{m.name}'>{m.name}</a>" for m in siblings)
            self.sibling_hint.setText(f"Also for {entry.modality} images: {links}")
            self.sibling_hint.setToolTip(
                "\n".join(f"{m.name}: {m.manifest.description}" for m in siblings)
            )
            self.sibling_hint.setVisible(True)

    # -- importing ------------------------------------------------------------------------------

    def import_model_file(self, path: str | Path | None = None) -> Worker | None:
        """Validate a bundle and copy it into the user's models (asks for the file if None).

        A broken file is reported in a dialog (through the window's job errors) and nothing is
        copied; a good one is listed and chosen.
        """
        if path is None:
            path, _ = QFileDialog.getOpenFileName(
                self, "Import a model", str(Path.home()), "CrystalView models (*.cvmodel);;All (*)"
            )
            if not path:
                return None
        source = Path(path)

        def job(_cancel):
            from crystalview.models.catalog import import_model

            return import_model(source)

        worker = self.main.pool.submit(job, f"Importing model {source.name}")
        worker.result.connect(self._on_imported)
        return worker

    def _on_imported(self, model: ModelEntry) -> None:
        self.main.statusBar().showMessage(f"Imported model {model.name}", 8000)
        self.refresh_models(select=model.name)

    # -- run settings ---------------------------------------------------------------------------

    def run_settings(self) -> InferenceSettings:
        """How the chosen model runs; ``tile_size`` is None for a whole-image model."""
        model = self._current
        tiled = model is not None and model.manifest.input_mode == "tiles"
        return InferenceSettings(
            tile_size=self.tile_box.value() if tiled else None,
            overlap=self.overlap_box.value() / 100.0,
            batch_size=self.batch_box.value(),
            device=self.device_box.currentText(),
        )

    def set_run_settings(self, settings: InferenceSettings) -> None:
        """Show ``settings`` in the controls (one `settings_changed` follows)."""
        boxes = (self.tile_box, self.overlap_box, self.batch_box, self.device_box)
        for box in boxes:
            box.blockSignals(True)
        if settings.tile_size is not None:
            self.tile_box.setValue(settings.tile_size)
        self.overlap_box.setValue(round(settings.overlap * 100.0))
        self.batch_box.setValue(settings.batch_size)
        self.device_box.setCurrentText(settings.device)
        for box in boxes:
            box.blockSignals(False)
        self._emit_settings()

    def _emit_settings(self, *_args) -> None:
        self.settings_changed.emit(self.run_settings())

    # -- running --------------------------------------------------------------------------------

    @staticmethod
    def prediction_for(entry: ImageEntry | None) -> ImagePrediction | None:
        """The latest prediction of ``entry`` (None when it was never classified)."""
        return prediction_of(entry)

    def is_running(self) -> bool:
        return self._worker is not None

    def queued_runs(self) -> int:
        return len(self._queue)

    def run_current(self) -> RunRequest | None:
        current = self.main.current
        return self.run_on([current] if current is not None else [], "the current image")

    def run_selected(self) -> RunRequest | None:
        return self.run_on(self.main.gallery.selected_entries(), "the selected images")

    def run_all(self) -> RunRequest | None:
        return self.run_on(self.main.gallery_model.entries, "the open images")

    def run_on(self, entries: Iterable[ImageEntry], what: str = "the images") -> RunRequest | None:
        """Classify ``entries`` with the current model and settings (queued if one runs)."""
        model = self._current
        if model is None:
            self._message("Choose a model first.")
            return None
        entries = list(entries)
        kept = self._matching(entries, model)
        if not kept:
            skipped = f" ({len(entries)} of another kind skipped)" if entries else ""
            self._message(f"Nothing to classify in {what}{skipped}.")
            return None
        if len(kept) < len(entries):
            self._message(
                f"Skipping {len(entries) - len(kept)} image(s) that are not "
                f"{model.manifest.modality} images."
            )
        request = RunRequest(
            model_path=model.path,
            model_name=model.name,
            entries=tuple(kept),
            settings=self.run_settings(),
        )
        if self._worker is not None:
            self._queue.append(request)
            self._show_queue()
            return request
        self._start(request)
        return request

    def _matching(self, entries: list[ImageEntry], model: ModelEntry) -> list[ImageEntry]:
        wanted = model.manifest.modality
        if not self.matching_box.isChecked() or wanted == "unknown":
            return entries
        return [e for e in entries if e.modality in (wanted, "unknown")]

    def _start(self, request: RunRequest) -> None:
        holder = self._holder
        count = len(request.entries)
        title = f"Classifying {count} image(s) with {request.model_name}"
        worker = self.main.pool.submit(
            lambda cancel: classify_entries(holder, request, cancel), title
        )
        self._worker = worker
        worker.progress.connect(self._on_progress)
        worker.result.connect(self._on_run_result)
        worker.cancelled.connect(self._on_run_cancelled)
        worker.error.connect(lambda *_args: self.run_finished.emit(None))
        worker.finished.connect(self._on_run_finished)
        self._show_queue()
        self.run_started.emit(request)

    def _on_progress(self, event: Progress) -> None:
        if isinstance(event.partial, EntryPrediction):
            self._store(event.partial)

    def _store(self, result: EntryPrediction) -> None:
        prediction = result.prediction
        if prediction is None:  # an older result would no longer match the badge
            result.entry.extra.pop(PREDICTION_KEY, None)
            self.main.gallery_model.set_badge(result.entry, ("failed", "#777777"))
            self.prediction_ready.emit(result.entry, None)
            return
        result.entry.extra[PREDICTION_KEY] = prediction
        self.main.gallery_model.set_badge(result.entry, prediction_badge(prediction))
        self._show_device(result.device_text)
        self.prediction_ready.emit(result.entry, prediction)

    def _show_device(self, text: str) -> None:
        if text and text != self.device_text:
            self.device_text = text
            self.device_label.setText(f"Runs on: {text}")
            self.main.set_device_text(f"Model on {text}")

    def _on_run_result(self, summary: RunSummary) -> None:
        done = len(summary.results) - len(summary.failures)
        message = f"Classified {done} image(s) with {summary.request.model_name}"
        if self.device_text:
            message += f" on {self.device_text}"
        if summary.notes:
            message += " — " + "; ".join(summary.notes)
            self.device_label.setText(f"Runs on: {self.device_text} ({summary.notes[-1]})")
        self._message(message)
        if summary.failures:
            self.main.notify_failures(summary.failures)
        self.run_finished.emit(summary)

    def _on_run_cancelled(self) -> None:
        dropped = len(self._queue)
        self._queue.clear()
        extra = f"; {dropped} queued run(s) dropped" if dropped else ""
        self._message(f"Classification cancelled{extra}.")
        self.run_finished.emit(None)

    def _on_run_finished(self) -> None:
        self._worker = None
        if self._queue:
            self._start(self._queue.popleft())
        self._show_queue()

    def _show_queue(self) -> None:
        waiting = len(self._queue)
        self.queue_label.setText(
            f"{waiting} run(s) queued; they start when the current one ends." if waiting else ""
        )

    def _message(self, text: str) -> None:
        self.main.statusBar().showMessage(text, 8000)


def install(window: MainWindow) -> None:
    """Add the model and results docks and the Model menu to ``window`` (once)."""
    if window.model_dock is not None:
        return
    results = ResultsDock(window.viewer)
    dock = ModelDock(window)
    window.model_dock = dock
    window.results_dock = results
    window.add_dock("model", "Model", _scrollable(dock), Qt.DockWidgetArea.LeftDockWidgetArea)
    window.add_dock(
        "results", "Results", _scrollable(results), Qt.DockWidgetArea.RightDockWidgetArea
    )
    results.entries_for_export = lambda: window.gallery_model.entries
    results.message.connect(lambda text: window.statusBar().showMessage(text, 8000))
    dock.prediction_ready.connect(lambda entry, _prediction: results.update_entry(entry))
    dock.run_started.connect(lambda _request: window.dock("results").raise_())
    window.current_changed.connect(results.show_entry)
    _link_tile_overlay(window, dock)
    _add_menu(window, dock, results)
    dock.refresh_models()


def _link_tile_overlay(window: MainWindow, dock: ModelDock) -> None:
    """ "Show the tile grid" makes the Tiles dock draw (and edit) this dock's run settings."""
    tiles = window.tile_dock

    def show_grid(checked: bool) -> None:
        tiles.follow(dock if checked else None)
        tiles.set_shown(checked)

    def on_tiles_shown(shown: bool) -> None:
        if dock.grid_box.isEnabled() or not shown:  # a whole-image model has no grid
            dock.grid_box.setChecked(shown)

    dock.grid_box.toggled.connect(show_grid)
    tiles.shown_changed.connect(on_tiles_shown)
    dock.settings_changed.connect(lambda _settings: tiles.note_model(dock.current_model_entry()))


def _scrollable(widget: QWidget) -> QScrollArea:
    """Let a dock shrink below its controls' width (small screens) by scrolling instead."""
    area = QScrollArea()
    area.setWidgetResizable(True)
    area.setFrameShape(QFrame.Shape.NoFrame)
    area.setWidget(widget)
    return area


def _add_menu(window: MainWindow, dock: ModelDock, results: ResultsDock) -> None:
    menu = window.menu("&Model")
    if not menu.isEmpty():  # another feature made it first
        menu.addSeparator()
    entries = (
        ("Run on &Current Image", dock.run_current, "Ctrl+R"),
        ("Run on &Selected Images", dock.run_selected, None),
        ("Run on &All Images", dock.run_all, "Ctrl+Shift+R"),
        ("&Import Model File…", lambda: dock.import_model_file(), None),
        ("&Export Results (CSV)…", results.export_dialog, None),
    )
    for text, slot, shortcut in entries:
        action = QAction(text, window)
        if shortcut:
            action.setShortcut(QKeySequence(shortcut))
        action.triggered.connect(slot)
        menu.addAction(action)
        window.addAction(action)
