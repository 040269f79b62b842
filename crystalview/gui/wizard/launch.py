"""Opening the fine-tune wizard from the main window (Model ▸ Fine-tune a Model…, Ctrl+T).

`install(window)` adds the menu action; it is a feature module like the docks (list it in
`crystalview.gui.docks.FEATURES` after ``crystalview.gui.docks.model``, whose Model menu it
joins). `open_wizard` prefills the wizard with the window's open images and, when a labelling
project already lives next to them, resumes it. A saved model is announced to the model dock,
which lists it and selects it at once.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QEvent, QObject, Qt
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QMenu, QMessageBox

from crystalview.core.errors import CrystalViewError
from crystalview.core.labels import LabelProject
from crystalview.gui.wizard.wizard import FineTuneWizard, existing_project_path

if TYPE_CHECKING:
    from crystalview.gui.main_window import MainWindow

log = logging.getLogger(__name__)

SHORTCUT = "Ctrl+T"


class _CloseWithWindow(QObject):
    """Closes the wizard (cancelling its jobs) when the main window closes."""

    def __init__(self, wizard: FineTuneWizard):
        super().__init__(wizard)
        self._wizard = wizard

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if event.type() == QEvent.Type.Close:
            self._wizard.close()
        return False


def open_wizard(window: MainWindow) -> FineTuneWizard:
    """Show the wizard for ``window`` (raising it if it is already open)."""
    existing = getattr(window, "finetune_wizard", None)
    if existing is not None:
        existing.show()
        existing.raise_()
        existing.activateWindow()
        return existing
    images = list(dict.fromkeys(e.path for e in window.gallery_model.entries))
    project = _project_next_to(images, window)
    wizard = FineTuneWizard(window, open_images=images, project=project)
    wizard.setWindowFlag(Qt.WindowType.Window, True)
    wizard.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
    window.finetune_wizard = wizard
    wizard.destroyed.connect(lambda *_args: setattr(window, "finetune_wizard", None))
    wizard.model_saved.connect(lambda path: _announce_model(window, Path(path)))
    window.installEventFilter(_CloseWithWindow(wizard))
    wizard.show()
    if project is not None:
        wizard.resume()
    elif images:
        wizard.images_page.add_paths(images)
    return wizard


def _project_next_to(images: list[Path], window: MainWindow) -> LabelProject | None:
    """The labelling project of the open images' folder, if there is one and it opens."""
    path = existing_project_path(images)
    if path is None:
        return None
    try:
        project = LabelProject.open(path)
    except CrystalViewError as error:
        QMessageBox.warning(
            window,
            "Cannot continue the labelling project",
            f"{error}\n\nThe wizard starts a new project; choose another file name for it.",
        )
        return None
    project.add_images(images)
    return project


def _announce_model(window: MainWindow, path: Path) -> None:
    """Tell the model dock (when installed) to list the new model and select it."""
    window.statusBar().showMessage(f"Saved model {path.stem}; it is in the model list", 10_000)
    dock = getattr(window, "model_dock", None)
    if dock is not None:
        dock.refresh_models(select=path.stem)


def install(window: MainWindow) -> None:
    """Add "Fine-tune a Model…" (Ctrl+T) to the window's Model menu (made if absent)."""
    bar = window.menuBar()
    menu = next(
        (
            a.menu()
            for a in bar.actions()
            if isinstance(a.menu(), QMenu) and a.text().replace("&", "") == "Model"
        ),
        None,
    )
    if menu is None:
        menu = QMenu("&Model", window)
        help_menu = next((a for a in bar.actions() if a.text() == "&Help"), None)
        if help_menu is not None:
            bar.insertMenu(help_menu, menu)
        else:
            bar.addMenu(menu)
    menu.addSeparator()
    action = QAction("&Fine-tune a Model…", window)
    action.setShortcut(QKeySequence(SHORTCUT))
    action.setStatusTip("Label your own images and train a model on them")
    action.triggered.connect(lambda: open_wizard(window))
    menu.addAction(action)
    window.addAction(action)
    window.finetune_action = action
    window.finetune_wizard = None
