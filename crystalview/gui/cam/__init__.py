"""Where the network looked, in the window: heat-map layer and dock, feature maps, kernels.

`install(window)` is the feature hook (see `crystalview.gui.docks.FEATURES`): it adds the
heat-map dock, the File ▸ Export Heat Map… action and the Tools menu's feature-map browser and
kernel playground. Nothing here imports torch at start-up; models load on worker threads when
first needed.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, Qt
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QMenu, QWidget

from crystalview.gui.cam.dock import HeatmapDock
from crystalview.gui.cam.jobs import RunSettings

if TYPE_CHECKING:
    from crystalview.gui.cam.feature_browser import FeatureBrowser
    from crystalview.gui.cam.playground import KernelPlayground
    from crystalview.gui.main_window import MainWindow

DOCK_NAME = "heatmap"


class HeatmapFeature(QObject):
    """Ties the heat-map dock and the two dialogs to the window's current image."""

    def __init__(self, window: MainWindow):
        super().__init__(window)
        self.window = window
        self.dock = HeatmapDock(window.viewer, window.pool)
        self.feature_browser: FeatureBrowser | None = None
        self.playground: KernelPlayground | None = None
        window.add_dock(DOCK_NAME, "Heat map", self.dock, Qt.DockWidgetArea.RightDockWidgetArea)
        window.current_changed.connect(self.on_current_changed)
        self.dock.features_button.clicked.connect(self.open_feature_browser)
        self.dock.playground_button.clicked.connect(self.open_playground)
        self._add_actions()
        model_dock = getattr(window, "model_dock", None)
        if model_dock is not None:
            self.follow_model_dock(model_dock)
        else:  # a window without the model feature: the dock lists the models itself
            self.dock.refresh_models()
        results = getattr(window, "results_dock", None)
        if results is not None:
            self.take_turns_with_class_overlay(results.overlay_box)
        self.on_current_changed(window.current)

    def take_turns_with_class_overlay(self, overlay_box) -> None:
        """The heat map and the per-tile class overlay colour the same pixels: one at a time.

        Showing a heat map turns the class overlay off, and turning the overlay on hides the
        heat map (its "Show heat map" box is unticked, so either comes back with one click).
        """
        show_box = self.dock.show_box

        def heatmap_shown(result) -> None:
            if result is not None and show_box.isChecked() and overlay_box.isChecked():
                overlay_box.setChecked(False)

        def overlay_toggled(on: bool) -> None:
            if on and show_box.isChecked() and self.dock.result is not None:
                show_box.setChecked(False)

        def heatmap_toggled(on: bool) -> None:
            heatmap_shown(self.dock.result if on else None)

        self.dock.result_shown.connect(heatmap_shown)
        overlay_box.toggled.connect(overlay_toggled)
        show_box.toggled.connect(heatmap_toggled)

    def follow_model_dock(self, model_dock) -> None:
        """Explain the model chosen in the model dock, run with that dock's settings."""
        self.dock.follow_model_source()
        model_dock.model_changed.connect(
            lambda entry: self.dock.set_model_path(entry.path if entry is not None else None)
        )
        current = model_dock.current_model_entry()
        self.dock.set_model_path(current.path if current is not None else None)
        self.dock.run_settings = lambda: model_run_settings(model_dock)

    def _add_actions(self) -> None:
        window = self.window
        self.export_action = QAction("Export &Heat Map…", window)
        self.export_action.setStatusTip("Save image + heat map as PNG and the raw map as TIFF")
        self.export_action.triggered.connect(self.dock.export_dialog)
        file_menu = _menu(window, "&File")
        preferences = next(
            (a for a in file_menu.actions() if a.text().startswith("&Preferences")), None
        )
        file_menu.insertAction(preferences, self.export_action)
        tools = _menu(window, "&Tools")
        self.features_action = tools.addAction("&Feature Maps…")
        self.features_action.triggered.connect(self.open_feature_browser)
        self.playground_action = tools.addAction("&Kernel Playground…")
        self.playground_action.triggered.connect(self.open_playground)

    def on_current_changed(self, entry) -> None:
        if entry is None or entry.micrograph is None:
            self.dock.set_image(None, None)
        else:
            self.dock.set_image(entry.key, entry.micrograph, entry.name)
        if self.playground is not None:
            self.playground.set_source()

    def open_feature_browser(self) -> FeatureBrowser:
        from crystalview.gui.cam.feature_browser import FeatureBrowser

        if self.feature_browser is None:
            self.feature_browser = FeatureBrowser(
                self.window.viewer,
                self.window.pool,
                lambda: self.dock.model_path,
                self.dock.layer_names,
                parent=self.window,
            )
        _bring_up(self.feature_browser)
        return self.feature_browser

    def open_playground(self) -> KernelPlayground:
        from crystalview.gui.cam.playground import KernelPlayground

        if self.playground is None:
            self.playground = KernelPlayground(self.window.viewer, parent=self.window)
        self.playground.set_source()
        _bring_up(self.playground)
        return self.playground


def model_run_settings(model_dock) -> RunSettings:
    """The model dock's tile size, overlap, batch size and device (what inference used)."""
    tiled = model_dock.tile_box.isEnabled()
    return RunSettings(
        tile_size=model_dock.tile_box.value() if tiled else None,
        overlap=model_dock.overlap_box.value() / 100.0,
        batch_size=model_dock.batch_box.value(),
        device=model_dock.device_box.currentText(),
    )


def _bring_up(dialog: QWidget) -> None:
    """Show a non-modal dialog, or bring it to the front when it is already open."""
    if dialog.isVisible():
        dialog.raise_()
        dialog.activateWindow()
    else:
        dialog.show()


def _menu(window: MainWindow, title: str) -> QMenu:
    """The menu-bar menu called ``title``, created (before Help) when it does not exist yet."""
    bar = window.menuBar()
    for action in bar.actions():
        if action.menu() is not None and action.text() == title:
            return action.menu()
    help_action = next((a for a in bar.actions() if a.text() == "&Help"), None)
    menu = QMenu(title, bar)
    bar.insertMenu(help_action, menu)
    return menu


def install(window: MainWindow) -> HeatmapFeature:
    """Add the heat-map feature to ``window`` (kept as ``window.heatmap``)."""
    feature = HeatmapFeature(window)
    window.heatmap = feature
    return feature
