"""Page 1: which images to label, and where the labelling project file lives.

Images come from drag-and-drop (files or folders), file dialogs, the main window's open images,
or an already labelled folder tree (one subfolder per class, labels taken from the folder
names). Until the user goes on, the images gather in an in-memory project; "Next" writes it to
the chosen project file — or, when a project already exists there, merges into it and carries
on with its labels, so dropping the same folder again never starts labelling from scratch.
"""

from __future__ import annotations

import html
import logging
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import Qt
from PySide6.QtGui import QDragEnterEvent, QDropEvent, QGuiApplication
from PySide6.QtWidgets import (
    QFileDialog,
    QFrame,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QMessageBox,
    QPushButton,
    QVBoxLayout,
    QWizardPage,
)

from crystalview.core.errors import CrystalViewError
from crystalview.core.labels import LabelProject
from crystalview.gui.drops import accept_if_files, dropped_paths
from crystalview.gui.wizard.keys import enter_acts_here
from crystalview.gui.wizard.widgets import ERROR_STYLE, message_label, set_message
from crystalview.jobs.project_paths import default_project_path

if TYPE_CHECKING:
    from crystalview.gui.wizard.context import WizardContext

log = logging.getLogger(__name__)

_DROP_STYLE = (
    "QLabel { border: 2px dashed #8a8f98; border-radius: 8px; color: #4a4f57;"
    " font-size: 15px; padding: 18px; background: #f5f6f8; }"
)


def _is_image(path: Path) -> bool:
    from crystalview.io import is_supported_path

    return is_supported_path(path)


class ImagesPage(QWizardPage):
    """Gather images (drop, dialogs, open images, labelled tree) and choose the project file."""

    def __init__(self, context: WizardContext):
        super().__init__()
        self._context = context
        self._path_edited = False
        self.setTitle("1 · Images")
        self.setSubTitle(
            "Drop image files or folders here, add the images open in CrystalView, or import a "
            "folder already sorted into one subfolder per class."
        )
        self.setAcceptDrops(True)

        self.drop_label = QLabel(
            "Drop images or folders here\n(folders are searched, subfolders included)"
        )
        self.drop_label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.drop_label.setStyleSheet(_DROP_STYLE)
        self.drop_label.setMinimumHeight(90)

        self.add_files_button = QPushButton("Add files…")
        self.add_folder_button = QPushButton("Add folder…")
        self.add_open_button = QPushButton()
        self.import_tree_button = QPushButton("Import labelled folder tree…")
        self.import_tree_button.setToolTip(
            "A folder with one subfolder per class (e.g. good/, bad/): each image is labelled "
            "with the name of its subfolder."
        )
        self.simulate_button = QPushButton("Simulate training data from structures…")
        self.simulate_button.setToolTip(
            "Simulated diffraction patterns of your own phases, one class per CIF file, with "
            "the camera variations of the built-in models' training data."
        )
        self.simulate_button.clicked.connect(self.open_simulate_dialog)
        self.open_project_button = QPushButton("Open existing project…")
        self.open_project_button.setToolTip("Continue a labelling project saved earlier.")
        self.add_files_button.clicked.connect(self._choose_files)
        self.add_folder_button.clicked.connect(self._choose_folder)
        self.add_open_button.clicked.connect(lambda: self.add_paths(self._context.open_images))
        self.import_tree_button.clicked.connect(self._choose_tree)
        self.open_project_button.clicked.connect(self._choose_project)
        buttons = QHBoxLayout()
        for button in (
            self.add_files_button,
            self.add_folder_button,
            self.add_open_button,
            self.import_tree_button,
        ):
            buttons.addWidget(button)
        buttons.addStretch(1)
        buttons.addWidget(self.open_project_button)
        simulate_row = QHBoxLayout()
        simulate_row.addWidget(self.simulate_button)
        simulate_row.addStretch(1)

        self.summary_label = QLabel()
        self.summary_label.setTextFormat(Qt.TextFormat.RichText)
        self.image_list = QListWidget()
        self.image_list.setUniformItemSizes(True)
        self.image_list.setAlternatingRowColors(True)
        self.missing_label = message_label(style=ERROR_STYLE)

        self.path_edit = QLineEdit()
        self.path_edit.setAcceptDrops(False)
        self.path_edit.textEdited.connect(self._on_path_edited)
        enter_acts_here(self.path_edit)  # editing the path is not "go to the next page"
        self.path_edit.setToolTip(
            "The labels are saved here after every change (in your CrystalView data folder "
            "unless you choose another place)."
        )
        self.choose_path_button = QPushButton("Choose…")
        self.choose_path_button.clicked.connect(self._choose_project_path)
        path_row = QHBoxLayout()
        path_row.addWidget(QLabel("Project file:"))
        path_row.addWidget(self.path_edit, 1)
        path_row.addWidget(self.choose_path_button)

        line = QFrame()
        line.setFrameShape(QFrame.Shape.HLine)
        layout = QVBoxLayout(self)
        layout.addWidget(self.drop_label)
        layout.addLayout(buttons)
        layout.addLayout(simulate_row)
        layout.addWidget(self.summary_label)
        layout.addWidget(self.image_list, 1)
        layout.addWidget(self.missing_label)
        layout.addWidget(line)
        layout.addLayout(path_row)
        context.project_changed.connect(self._refresh)
        self._refresh()

    # -- adding images ---------------------------------------------------------------------------

    def add_paths(self, paths: Iterable[Path]) -> int:
        """Add image files and every image inside folders; returns how many were new."""
        from crystalview.io import find_images

        paths = [Path(p) for p in paths]
        if not paths:
            return 0
        QGuiApplication.setOverrideCursor(Qt.CursorShape.WaitCursor)
        try:
            discovery = find_images(paths)
        finally:
            QGuiApplication.restoreOverrideCursor()
        # Microscope files we cannot read are found too (so that they are never dropped
        # silently); they cannot be labelled, so they are named here instead of added.
        readable = [p for p in discovery.files if _is_image(p)]
        self._refused = [p for p in discovery.files if not _is_image(p)]
        added = self._context.project.add_images(readable)
        if discovery.errors:
            log.warning(
                "could not search %d folder(s): %s", len(discovery.errors), discovery.errors
            )
        self._suggest_path()
        self._refresh()
        return added

    def import_tree(self, root: Path) -> int:
        """Import a folder tree whose subfolders name the classes; returns images labelled."""
        try:
            labelled = self._context.project.import_folder_tree(root, is_image=_is_image)
        except CrystalViewError as error:
            QMessageBox.warning(self, "Cannot import the folder", str(error))
            return 0
        if not self._path_edited and self._context.project.path is None:
            suggestion = default_project_path(self._context.project.images) or default_project_path(
                [Path(root) / "images"]
            )
            self.path_edit.setText(str(suggestion))
        self._refresh()
        return labelled

    def open_project(self, path: Path) -> bool:
        """Continue an existing project (its images, classes, labels and history)."""
        try:
            project = LabelProject.open(path)
        except CrystalViewError as error:
            QMessageBox.warning(self, "Cannot open the project", str(error))
            return False
        project.add_images(self._context.project.images)  # keep anything added before
        self._context.set_project(project)
        self._refresh()
        return True

    def open_simulate_dialog(self):
        """Simulate patterns of the user's structures, then import them as a labelled tree."""
        from crystalview.gui.wizard.simulate_dialog import SimulateDialog

        dialog = SimulateDialog(
            self._context.pool, self, folder=Path.home() / "crystalview-simulated"
        )
        dialog.finished_folder.connect(self.import_tree)
        dialog.open()
        return dialog

    def _choose_files(self) -> None:
        files, _ = QFileDialog.getOpenFileNames(self, "Add images", "", "All files (*)")
        self.add_paths(Path(f) for f in files)

    def _choose_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Add a folder of images")
        if folder:
            self.add_paths([Path(folder)])

    def _choose_tree(self) -> None:
        folder = QFileDialog.getExistingDirectory(
            self, "Folder with one subfolder of images per class"
        )
        if folder:
            self.import_tree(Path(folder))

    def _choose_project(self) -> None:
        path, _ = QFileDialog.getOpenFileName(
            self, "Open a labelling project", "", "Labelling projects (*.json *.cvlabels)"
        )
        if path and self.open_project(Path(path)):
            self._context.resume()

    def _choose_project_path(self) -> None:
        path, _ = QFileDialog.getSaveFileName(
            self, "Save the labelling project as", self.path_edit.text(), "JSON (*.json)"
        )
        if path:
            self.path_edit.setText(path)
            self._path_edited = True

    def _on_path_edited(self, _text: str) -> None:
        self._path_edited = True

    def _suggest_path(self) -> None:
        if self._path_edited or self._context.project.path is not None:
            return
        suggestion = default_project_path(self._context.project.images)
        self.path_edit.setText(str(suggestion) if suggestion else "")

    # -- drag and drop ----------------------------------------------------------------------------

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
        self.add_paths(paths)

    # -- state ------------------------------------------------------------------------------------

    def _refresh(self) -> None:
        project = self._context.project
        n_open = len(self._context.open_images)
        self.add_open_button.setText(f"Add the {n_open} open image(s)")
        self.add_open_button.setEnabled(n_open > 0)
        images = project.images
        labelled = len(project.labels)
        text = f"<b>{len(images)}</b> image(s) in the project"
        if project.classes:
            text += f", <b>{labelled}</b> labelled in {len(project.classes)} class(es)"
        if project.path is not None:
            text += f" — saved in <i>{project.path.name}</i>"
        refused = getattr(self, "_refused", [])
        if refused:
            names = ", ".join(html.escape(p.name) for p in refused[:5])
            more = f" and {len(refused) - 5} more" if len(refused) > 5 else ""
            text += (
                f"<br>{len(refused)} file(s) not added: CrystalView cannot read them "
                f"({names}{more})"
            )
        self.summary_label.setText(text)
        if self.isVisible() or self.image_list.count() != len(images):
            labels = project.labels
            self.image_list.clear()
            self.image_list.addItems(
                [f"{p}   [{labels[p]}]" if p in labels else str(p) for p in images]
            )
        missing = project.missing_files()
        set_message(
            self.missing_label,
            f"{len(missing)} image(s) of the project no longer exist (moved or deleted); they "
            "are left out of training: " + ", ".join(p.name for p in missing[:5])
            if missing
            else "",
        )
        fixed = project.path is not None
        if fixed:
            self.path_edit.setText(str(project.path))
        self.path_edit.setReadOnly(fixed)
        self.choose_path_button.setEnabled(not fixed)
        self.completeChanged.emit()

    def initializePage(self) -> None:
        self._refresh()

    def isComplete(self) -> bool:
        return bool(self._context.project.images)

    def validatePage(self) -> bool:
        """Write the project to its file (or merge into the project already there)."""
        project = self._context.project
        if project.path is not None:
            return True
        text = self.path_edit.text().strip()
        if not text:
            QMessageBox.warning(self, "No project file", "Choose where to save the labels.")
            return False
        target = Path(text).expanduser()
        try:
            if target.exists():
                self._context.set_project(_merged_into(LabelProject.open(target), project))
            else:
                project.save_as(target)
                self._context.set_project(project)
        except (CrystalViewError, OSError) as error:
            QMessageBox.warning(self, "Cannot save the labelling project", str(error))
            return False
        self._refresh()
        return True


def _merged_into(existing: LabelProject, new: LabelProject) -> LabelProject:
    """Add ``new``'s images, classes and labels to ``existing`` (one undo step) and return it."""
    with existing.batch():
        existing.add_images(new.images)
        for label_class in new.classes:
            if label_class.name not in existing.class_names:
                existing.add_class(label_class.name, label_class.color)
        for path, name in new.labels.items():
            existing.set_label(path, name)
    return existing
