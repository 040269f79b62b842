"""The main window: gallery, viewer and docks, with file opening, drag-and-drop and jobs.

Later features plug in through small, stable hooks (see `crystalview.gui.docks.FEATURES` for
where a feature module is listed so that the window installs it):

- `MainWindow.add_dock` registers a dock (it gets a View-menu toggle, persists its place, and
  accepts dropped files like the rest of the window);
- `MainWindow.viewer.add_layer` draws over the image (tile grid, class overlays, heat maps);
- `MainWindow.gallery_model.set_badge` puts a prediction badge on a gallery tile;
- `MainWindow.pool.submit` runs a core generator with progress and cancel in the status bar;
- the ``current_changed`` signal says which image is on screen.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QByteArray, QEvent, QItemSelectionModel, QObject, Qt, QTimer, Signal
from PySide6.QtGui import QAction, QCloseEvent, QDragEnterEvent, QDropEvent, QKeySequence
from PySide6.QtWidgets import (
    QApplication,
    QDockWidget,
    QFileDialog,
    QLabel,
    QMainWindow,
    QMenu,
    QMessageBox,
    QProgressBar,
    QPushButton,
    QWidget,
)

from crystalview import __version__
from crystalview.core.errors import CrystalViewError, about, without_path
from crystalview.core.memory import memory_budget_bytes
from crystalview.core.progress import Progress
from crystalview.core.units import format_pixel_size
from crystalview.diagnostics import diagnostics_text
from crystalview.gui.docks import install_features
from crystalview.gui.docks.metadata import MetadataDock
from crystalview.gui.docks.tiles import TileOverlayDock
from crystalview.gui.drops import accept_if_files, dropped_paths
from crystalview.gui.gallery import ENTRY_ROLE, GalleryModel, GalleryView, ThumbnailService
from crystalview.gui.garbage import GuiThreadGarbageCollector
from crystalview.gui.settings import (
    Preferences,
    add_recent_paths,
    make_settings,
    recent_paths,
)
from crystalview.gui.viewer import ImageViewer
from crystalview.gui.workers import Worker, WorkerPool
from crystalview.jobs.library import (
    ImageEntry,
    LoadReport,
    evict_to_budget,
    load_images,
    reload_micrograph,
)
from crystalview.logs import log_file_path
from crystalview.measure.calibration import is_set_by_hand
from crystalview.paths import demo_paths

if TYPE_CHECKING:
    from crystalview.gui.cam import HeatmapFeature
    from crystalview.gui.docks.model import ModelDock
    from crystalview.gui.docks.results import ResultsDock
    from crystalview.gui.wizard import FineTuneWizard

log = logging.getLogger(__name__)

_DRAG_EVENTS = (QEvent.Type.DragEnter, QEvent.Type.DragMove, QEvent.Type.Drop)
# Shown images' pixels stay in memory up to this share of the reader memory budget.
_CACHE_SHARE = 0.5


class MainWindow(QMainWindow):
    """CrystalView's window. ``current_changed(ImageEntry | None)`` follows the viewer."""

    current_changed = Signal(object)

    # What the features of `crystalview.gui.docks.FEATURES` provide, declared here so that other
    # features read them as plain attributes (None while the feature is not installed).
    model_dock: ModelDock | None = None
    results_dock: ResultsDock | None = None
    heatmap: HeatmapFeature | None = None
    finetune_action: QAction | None = None
    finetune_wizard: FineTuneWizard | None = None

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setWindowTitle("CrystalView")
        self.setAcceptDrops(True)
        self.settings = make_settings()
        self.preferences = Preferences.load(self.settings)
        self.preferences.apply()
        self.pool = WorkerPool(parent=self)
        self.thumbnail_pool = WorkerPool(max_threads=2, parent=self)
        self.garbage_collector = GuiThreadGarbageCollector(self)
        self.current: ImageEntry | None = None
        self.notifications: list[QMessageBox] = []
        self.last_report: LoadReport | None = None
        self._docks: dict[str, QDockWidget] = {}

        self.viewer = ImageViewer(default_color_map=self.preferences.color_map)
        self.setCentralWidget(self.viewer)
        self.gallery_model = GalleryModel(self)
        self.gallery = GalleryView()
        self.gallery.setModel(self.gallery_model)
        self.thumbnails = ThumbnailService(self.gallery_model, self.thumbnail_pool)
        self.gallery.selectionModel().currentChanged.connect(self._on_gallery_current)
        self.gallery.remove_requested.connect(self.remove_entries)
        self.tile_dock = TileOverlayDock(self.viewer)
        self.metadata_dock = MetadataDock()

        self._build_status_bar()
        self._build_menus()
        self.add_dock("gallery", "Images", self.gallery, Qt.DockWidgetArea.LeftDockWidgetArea)
        self.add_dock("tiles", "Tiles", self.tile_dock, Qt.DockWidgetArea.RightDockWidgetArea)
        self.add_dock(
            "metadata", "Metadata", self.metadata_dock, Qt.DockWidgetArea.RightDockWidgetArea
        )
        self._route_drops(self.viewer)
        self.pool.job_started.connect(self._on_job_started)
        self.pool.job_finished.connect(self._on_job_finished)
        self.pool.job_failed.connect(self.show_job_error)
        install_features(self)
        self._install_combine_action()
        self._restore_layout()  # after the features, so their docks get their saved places

    # -- extension points -----------------------------------------------------------------------

    def menu(self, title: str) -> QMenu:
        """The menu-bar menu called ``title`` (``&`` ignored), made before Help when absent."""
        bar = self.menuBar()
        plain = title.replace("&", "")
        for action in bar.actions():
            if action.menu() is not None and action.text().replace("&", "") == plain:
                return action.menu()
        help_action = next((a for a in bar.actions() if a.text() == "&Help"), None)
        menu = QMenu(title, bar)
        bar.insertMenu(help_action, menu)
        return menu

    def add_dock(
        self,
        name: str,
        title: str,
        widget: QWidget,
        area: Qt.DockWidgetArea = Qt.DockWidgetArea.RightDockWidgetArea,
        tabify_with: str | None = None,
    ) -> QDockWidget:
        """Add a dock named ``name`` (unique; used to save its place) with a View-menu toggle."""
        if name in self._docks:
            raise ValueError(f"a dock named {name!r} already exists")
        dock = QDockWidget(title, self)
        dock.setObjectName(f"dock-{name}")
        dock.setWidget(widget)
        self.addDockWidget(area, dock)
        if tabify_with is None:
            same_side = [d for d in self._docks.values() if self.dockWidgetArea(d) == area]
            if same_side and area == Qt.DockWidgetArea.RightDockWidgetArea:
                tabify_with = next(k for k, d in self._docks.items() if d is same_side[0])
        if tabify_with is not None and tabify_with in self._docks:
            self.tabifyDockWidget(self._docks[tabify_with], dock)
        self._docks[name] = dock
        self.view_menu.addAction(dock.toggleViewAction())
        self._route_drops(dock)
        return dock

    def dock(self, name: str) -> QDockWidget:
        return self._docks[name]

    def set_device_text(self, text: str) -> None:
        """Status-bar slot saying which device computes (set by the model features)."""
        self.device_label.setText(text)
        self.device_label.setVisible(bool(text))

    # -- opening --------------------------------------------------------------------------------

    def open_paths(self, paths: Iterable[Path | str], remember: bool = True) -> Worker | None:
        """Open files and folders (recursively) on a worker thread; returns the job."""
        paths = [Path(p) for p in paths]
        if not paths:
            return None
        if remember:
            add_recent_paths(self.settings, paths)
        worker = self.pool.submit(lambda cancel: load_images(paths, cancel), "Opening images")
        worker.progress.connect(self._on_load_progress)
        worker.result.connect(self._on_load_finished)
        return worker

    def _on_load_progress(self, event: Progress) -> None:
        if not event.partial:
            return
        added = self.gallery_model.add_entries(event.partial)
        evict_to_budget(
            self.gallery_model.entries, int(memory_budget_bytes() * _CACHE_SHARE), self.current
        )
        if added and self.current is None:
            self.select_entry(added[0])
        self._update_loaded_label()

    def _on_load_finished(self, report: LoadReport) -> None:
        self.last_report = report
        message = f"Opened {report.n_images} image(s) from {report.n_files} file(s)"
        if report.skipped:
            message += f"; {len(report.skipped)} non-image file(s) skipped"
        self.statusBar().showMessage(message, 8000)
        if report.failures:
            self.notify_failures(report.failures)

    def notify_failures(self, failures: list[tuple[Path, str]]) -> QMessageBox:
        """One non-blocking message listing every file that could not be opened and why."""
        box = QMessageBox(self)
        box.setIcon(QMessageBox.Icon.Warning)
        box.setWindowTitle("Some files could not be opened")
        count = len(failures)
        box.setText(f"{count} file(s) could not be opened. The other images opened normally.")
        lines = [f"{Path(path).name}: {without_path(path, reason)}" for path, reason in failures]
        shown = lines[:8] + ([f"… and {count - 8} more (see Details)"] if count > 8 else [])
        box.setInformativeText(
            "\n".join(shown) + "\n\nCheck that each file is complete and in a supported format."
        )
        box.setDetailedText("\n".join(about(path, reason) for path, reason in failures))
        box.setModal(False)
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        box.finished.connect(lambda _r, b=box: self._forget_notification(b))
        self.notifications.append(box)
        box.show()
        return box

    def _forget_notification(self, box: QMessageBox) -> None:
        if box in self.notifications:
            self.notifications.remove(box)

    def show_job_error(self, title: str, error: Exception, details: str) -> QMessageBox:
        """Tell the user what failed and what to do; the window keeps running."""
        box = QMessageBox(self)
        box.setIcon(QMessageBox.Icon.Critical)
        box.setWindowTitle(f"{title or 'A task'} failed")
        if isinstance(error, CrystalViewError):
            box.setText(str(error))
            box.setInformativeText("Check the file or settings named above, then try again.")
        else:
            box.setText(f"{title or 'A task'} failed because of an unexpected error: {error}")
            box.setInformativeText(
                f"This is a bug in CrystalView. The details are in the log file {log_file_path()}"
                " — please send it to the developers. Your open images are not affected."
            )
        box.setDetailedText(details)
        box.setModal(False)
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        box.finished.connect(lambda _r, b=box: self._forget_notification(b))
        self.notifications.append(box)
        box.show()
        return box

    def open_files_dialog(self) -> None:
        files, _ = QFileDialog.getOpenFileNames(
            self, "Open images", self._last_folder(), "All files (*)"
        )
        self.open_paths(files)

    def open_folder_dialog(self) -> None:
        folder = QFileDialog.getExistingDirectory(
            self, "Open a folder of images", self._last_folder()
        )
        if folder:
            self.open_paths([folder])

    def open_demo(self) -> None:
        self.open_paths(demo_paths(), remember=False)

    def _last_folder(self) -> str:
        recent = recent_paths(self.settings)
        if not recent:
            return str(Path.home())
        return str(recent[0] if recent[0].is_dir() else recent[0].parent)

    # -- showing --------------------------------------------------------------------------------

    def select_entry(self, entry: ImageEntry) -> None:
        """Make ``entry`` the current gallery item (which shows it in the viewer)."""
        row = self.gallery_model.row_of(entry)
        if row >= 0:
            self.gallery.selectionModel().setCurrentIndex(
                self.gallery_model.index(row),
                QItemSelectionModel.SelectionFlag.ClearAndSelect,
            )

    def _on_gallery_current(self, current, _previous) -> None:
        entry = current.data(ENTRY_ROLE) if current.isValid() else None
        self.show_entry(entry)

    def show_entry(self, entry: ImageEntry | None) -> None:
        """Show an entry in the viewer, re-reading its pixels first if they were evicted."""
        self.current = entry
        if entry is not None and entry.micrograph is None:
            self.statusBar().showMessage(f"Reading {entry.name}…")
            worker = self.pool.submit(lambda _c: reload_micrograph(entry), f"Reading {entry.name}")
            worker.result.connect(lambda m, e=entry: self._on_reloaded(e, m))
            return
        micrograph = entry.micrograph if entry is not None else None
        self.viewer.set_micrograph(micrograph)
        self.metadata_dock.set_micrograph(micrograph)
        self.tile_dock.refresh()
        self._update_image_labels()
        self.current_changed.emit(entry)

    def _on_reloaded(self, entry: ImageEntry, micrograph) -> None:
        if self.gallery_model.row_of(entry) < 0:
            return  # closed while it was being read
        entry.micrograph = micrograph
        if entry is self.current:
            self.show_entry(entry)

    def remove_entries(self, entries: list[ImageEntry]) -> None:
        """Close images: drop them from the gallery (and the viewer, if shown)."""
        entries = list(entries)
        if not entries:
            return
        self.gallery_model.remove_entries(entries)
        if self.current in entries:
            index = self.gallery.currentIndex()
            self.show_entry(index.data(ENTRY_ROLE) if index.isValid() else None)
        self._update_loaded_label()

    def close_selected(self) -> None:
        self.remove_entries(self.gallery.selected_entries())

    def close_all(self) -> None:
        self.remove_entries(self.gallery_model.entries)

    def toggle_tile_grid(self) -> None:
        """Show or hide the tile grid, bringing its dock forward when it is turned on."""
        self.tile_dock.show_box.toggle()
        if self.tile_dock.show_box.isChecked():
            self._docks["tiles"].show()
            self._docks["tiles"].raise_()

    def step_image(self, step: int) -> None:
        count = self.gallery_model.rowCount()
        if count == 0:
            return
        row = self.gallery.currentIndex().row()
        self.select_entry(self.gallery_model.entry(max(0, min(count - 1, row + step))))

    # -- status bar ------------------------------------------------------------------------------

    def _build_status_bar(self) -> None:
        bar = self.statusBar()
        self.loaded_label = QLabel("No images open — drop files or folders here")
        self.pixel_label = QLabel()
        self.device_label = QLabel()
        self.device_label.hide()
        self.progress_bar = QProgressBar()
        self.progress_bar.setMaximumWidth(220)
        self.progress_bar.setTextVisible(True)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setToolTip("Stop the running task (Esc)")
        self.cancel_button.clicked.connect(self.cancel_jobs)
        for widget in (self.progress_bar, self.cancel_button):
            widget.hide()
        bar.addWidget(self.loaded_label)
        bar.addPermanentWidget(self.pixel_label)
        bar.addPermanentWidget(self.device_label)
        bar.addPermanentWidget(self.progress_bar)
        bar.addPermanentWidget(self.cancel_button)

    def cancel_jobs(self) -> None:
        """Cancel every foreground job (loading, reading, model runs)."""
        for worker in self.pool.active(include_background=False):
            worker.cancel()

    def _on_job_started(self, worker: Worker) -> None:
        if worker.background:
            return
        worker.progress.connect(lambda event, w=worker: self._show_progress(w, event))
        self._refresh_job_widgets()

    def _on_job_finished(self, _worker: Worker) -> None:
        self._refresh_job_widgets()

    def _show_progress(self, worker: Worker, event: Progress) -> None:
        if event.total > 0:
            self.progress_bar.setRange(0, event.total)
            self.progress_bar.setValue(min(event.done, event.total))
        else:
            self.progress_bar.setRange(0, 0)  # busy indicator
        self.progress_bar.setFormat(f"{worker.title}: %v/%m" if event.total else worker.title)
        self.progress_bar.setToolTip(event.message)

    def _refresh_job_widgets(self) -> None:
        running = self.pool.active(include_background=False)
        for widget in (self.progress_bar, self.cancel_button):
            widget.setVisible(bool(running))
        if running:
            self.progress_bar.setRange(0, 0)
            self.progress_bar.setFormat(running[-1].title)

    def _update_loaded_label(self) -> None:
        count = self.gallery_model.rowCount()
        if count == 0:
            self.loaded_label.setText("No images open — drop files or folders here")
        elif self.current is not None:
            self.loaded_label.setText(f"{count} image(s) open — {self.current.name}")
        else:
            self.loaded_label.setText(f"{count} image(s) open")

    def refresh_image_labels(self) -> None:
        """Re-read the shown image's size and scale into the status bar (after Set Scale)."""
        self._update_image_labels()

    def _update_image_labels(self) -> None:
        self._update_loaded_label()
        entry = self.current
        if entry is None:
            self.pixel_label.setText("")
            return
        height, width = entry.shape
        scale = (
            format_pixel_size(entry.pixel_size, entry.pixel_unit)
            if entry.pixel_size is not None
            else "no scale in file"
        )
        if entry.micrograph is not None and is_set_by_hand(entry.micrograph):
            scale += " (set by hand)"
        self.pixel_label.setText(f"{entry.modality} · {width} x {height} px · {scale}")

    # -- menus -----------------------------------------------------------------------------------

    def _action(self, menu, text: str, slot, shortcut=None, tip: str = "") -> QAction:
        action = QAction(text, self)
        if shortcut is not None:
            action.setShortcut(QKeySequence(shortcut))
        if tip:
            action.setStatusTip(tip)
        action.triggered.connect(slot)
        menu.addAction(action)
        self.addAction(action)  # shortcuts work whichever widget has focus
        return action

    def _build_menus(self) -> None:
        bar = self.menuBar()
        file_menu = bar.addMenu("&File")
        self._action(file_menu, "&Open…", self.open_files_dialog, "Ctrl+O")
        self._action(file_menu, "Open &Folder…", self.open_folder_dialog, "Ctrl+Shift+O")
        self.recent_menu = file_menu.addMenu("Open &Recent")
        self.recent_menu.aboutToShow.connect(self._fill_recent_menu)
        self._action(file_menu, "Open &Demo Images", self.open_demo, "Ctrl+D")
        file_menu.addSeparator()
        close = self._action(file_menu, "&Close Image", self.close_selected, "Ctrl+W")
        self._action(file_menu, "Close &All", self.close_all, "Ctrl+Shift+W")
        file_menu.addSeparator()
        # explicit keys: the platform's standard Preferences/Quit keys are empty on Linux/Windows
        self._action(file_menu, "&Preferences…", self.edit_preferences, "Ctrl+,")
        file_menu.addSeparator()
        self._action(file_menu, "&Quit", self.close, "Ctrl+Q")

        view_menu = bar.addMenu("&View")
        self._action(view_menu, "&Fit Image", self.viewer.fit, "F")
        self._action(view_menu, "&Auto Contrast", self.viewer.auto_contrast, "A")
        self._action(view_menu, "&Log Contrast", self.viewer.log_box.toggle, "L")
        self._action(view_menu, "Show &Tile Grid", self.toggle_tile_grid, "T")
        self._action(view_menu, "&Next Image", lambda: self.step_image(1), "PgDown")
        self._action(view_menu, "&Previous Image", lambda: self.step_image(-1), "PgUp")
        self._action(view_menu, "Cancel Running Task", self.cancel_jobs, "Esc")
        view_menu.addSeparator()
        self.view_menu = view_menu

        help_menu = bar.addMenu("&Help")
        self._action(help_menu, "Copy &Diagnostics", self.copy_diagnostics)
        self._action(help_menu, "&About CrystalView", self.show_about)
        self.gallery.addAction(close)

    def _install_combine_action(self) -> None:
        """Model ▸ Combine Selected Patterns (and the gallery's context menu)."""
        titles = {a.text().replace("&", ""): a for a in self.menuBar().actions()}
        model_menu = titles.get("Model")
        menu = model_menu.menu() if model_menu is not None else self.view_menu
        menu.addSeparator()
        self.combine_action = self._action(
            menu,
            "Com&bine Selected Patterns",
            self.combine_selected,
            "Ctrl+Shift+B",
            "One verdict for a sample from the results of the selected images",
        )
        self.gallery.addAction(self.combine_action)

    def combine_selected(self) -> list:
        """Combine the selected images' results into one verdict per model and show it.

        Returns the `CombinedVerdict` of each model that classified some of the selection
        (empty when none was classified: the user is told to run a model first).
        """
        from crystalview.gui.docks.results import prediction_of
        from crystalview.inference.combine import combine_predictions

        entries = self.gallery.selected_entries()
        by_model: dict[str, list] = {}
        for entry in entries:
            prediction = prediction_of(entry)
            if prediction is not None:
                by_model.setdefault(prediction.model_name, []).append((entry, prediction))
        if not by_model:
            text = (
                "Select the images of one sample in the gallery first."
                if not entries
                else "None of the selected images has a result yet: run a model on them first."
            )
            self._show_combined("Combine selected patterns", text)
            return []
        verdicts, lines = [], []
        unclassified = len(entries) - sum(len(v) for v in by_model.values())
        for model_name, pairs in by_model.items():
            predictions = [p for _, p in pairs]
            verdict = combine_predictions(
                predictions, predictions[0].unsure_below, [str(e.path) for e, _ in pairs]
            )
            verdicts.append(verdict)
            answer = (
                f"{verdict.label} ({verdict.confidence:.1%})"
                if verdict.status == "ok"
                else f"{verdict.status}"
                + (
                    f", best guess {verdict.label} ({verdict.confidence:.1%})"
                    if verdict.label
                    else ""
                )
            )
            lines.append(f"{model_name}: {answer} — {verdict.reason}.")
        if unclassified:
            lines.append(f"{unclassified} selected image(s) without a result were left out.")
        self._show_combined("Combined verdict", "\n".join(lines))
        return verdicts

    def _show_combined(self, title: str, text: str) -> None:
        box = QMessageBox(QMessageBox.Icon.Information, title, text, parent=self)
        box.setModal(False)
        box.finished.connect(lambda _r, b=box: self._forget_notification(b))
        self.notifications.append(box)
        self.last_combined_text = text
        box.show()

    def _fill_recent_menu(self) -> None:
        self.recent_menu.clear()
        paths = recent_paths(self.settings)
        if not paths:
            self.recent_menu.addAction("(none)").setEnabled(False)
        for path in paths:
            action = self.recent_menu.addAction(str(path))
            action.triggered.connect(lambda _checked=False, p=path: self._open_recent(p))

    def _open_recent(self, path: Path) -> None:
        if not path.exists():
            QMessageBox.warning(
                self, "Not found", f"{path} no longer exists. It was moved, renamed or deleted."
            )
            return
        self.open_paths([path])

    def edit_preferences(self) -> None:
        from crystalview.gui.preferences import PreferencesDialog

        dialog = PreferencesDialog(self.preferences, self)
        if dialog.exec() == PreferencesDialog.DialogCode.Accepted:
            self.preferences = dialog.preferences()
            self.preferences.save(self.settings)
            self.preferences.apply()
            self.viewer.set_color_map(self.preferences.color_map)

    def copy_diagnostics(self) -> str:
        """Put versions, device, settings and recent errors on the clipboard for a bug report."""
        text = diagnostics_text(self.device_label.text() or None)
        QApplication.clipboard().setText(text)
        self.statusBar().showMessage(
            "Diagnostics copied to the clipboard: paste them into your bug report.", 8000
        )
        return text

    def show_about(self) -> None:
        QMessageBox.about(
            self,
            "About CrystalView",
            f"<b>CrystalView {__version__}</b><br>Display, classify and explain electron-"
            "microscopy images.<br>Licence: GPL-3.0-or-later.<br>"
            f"Log file: {log_file_path()}",
        )

    # -- drag and drop ---------------------------------------------------------------------------

    def _route_drops(self, root: QWidget) -> None:
        """Let file drops on any child (graphics views, line edits) reach the window."""
        for widget in [root, *root.findChildren(QWidget)]:
            if widget.acceptDrops():
                widget.installEventFilter(self)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if event.type() in _DRAG_EVENTS and event.mimeData().hasUrls():
            if event.type() == QEvent.Type.Drop:
                self.dropEvent(event)
            else:
                self.dragEnterEvent(event)
            return True
        return super().eventFilter(watched, event)

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        accept_if_files(event)

    def dragMoveEvent(self, event) -> None:
        self.dragEnterEvent(event)

    def dropEvent(self, event: QDropEvent) -> None:
        paths = dropped_paths(event)
        if not paths:
            event.ignore()
            return
        event.acceptProposedAction()
        # Open after the drop returns, so the source application is not blocked meanwhile.
        QTimer.singleShot(0, lambda: self.open_paths(paths))

    # -- persistence and shutdown ----------------------------------------------------------------

    def _restore_layout(self) -> None:
        geometry = self.settings.value("window/geometry")
        if isinstance(geometry, QByteArray) and not geometry.isEmpty():
            self.restoreGeometry(geometry)
        else:
            self.resize(1400, 900)
        state = self.settings.value("window/state")
        if isinstance(state, QByteArray) and not state.isEmpty():
            self.restoreState(state)
        else:  # first run: room for two columns of thumbnails and a readable metadata tree
            self.resizeDocks(
                [self._docks["gallery"], self._docks["metadata"]],
                [330, 340],
                Qt.Orientation.Horizontal,
            )

    def closeEvent(self, event: QCloseEvent) -> None:
        self.settings.setValue("window/geometry", self.saveGeometry())
        self.settings.setValue("window/state", self.saveState())
        self.settings.sync()
        self.pool.shutdown()
        self.thumbnail_pool.shutdown()
        self.viewer.detail.shutdown()
        self.garbage_collector.stop()
        for box in list(self.notifications):
            box.close()
        super().closeEvent(event)
