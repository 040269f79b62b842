"""Page 2: the classes to label with — add, rename, colour, reorder, remove.

Keyboard keys 1-9 follow the order of the list, so moving a class up or down changes its key;
the key is drawn on each class's colour swatch so the labelling page's shortcuts are learnt here.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import QSize, Qt
from PySide6.QtGui import QColor
from PySide6.QtWidgets import (
    QColorDialog,
    QGridLayout,
    QHBoxLayout,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QMessageBox,
    QPushButton,
    QVBoxLayout,
    QWizardPage,
)

from crystalview.core.errors import CrystalViewError
from crystalview.gui.wizard.keys import enter_acts_here
from crystalview.gui.wizard.widgets import class_icon, message_label, set_message

if TYPE_CHECKING:
    from crystalview.gui.wizard.context import WizardContext

_ICON_SIZE = QSize(24, 24)


class ClassesPage(QWizardPage):
    """Edit the project's classes; at least two are needed to go on."""

    def __init__(self, context: WizardContext):
        super().__init__()
        self._context = context
        self._filling = False
        self.setTitle("2 · Classes")
        self.setSubTitle(
            "Name the classes you want the model to tell apart. Keys 1-9 follow this order; "
            "double-click a class to rename it."
        )
        self.class_list = QListWidget()
        self.class_list.setIconSize(_ICON_SIZE)
        self.class_list.setStyleSheet(
            "QListWidget { font-size: 14px; } QListWidget::item { padding: 4px; }"
        )
        self.class_list.itemChanged.connect(self._on_item_changed)
        self.class_list.currentRowChanged.connect(lambda _row: self._update_buttons())

        self.name_edit = QLineEdit()
        self.name_edit.setPlaceholderText("New class name, e.g. 'amorphous'")
        enter_acts_here(self.name_edit, self.add_from_edit)
        self.add_button = QPushButton("Add class")
        self.add_button.clicked.connect(self.add_from_edit)
        add_row = QHBoxLayout()
        add_row.addWidget(self.name_edit, 1)
        add_row.addWidget(self.add_button)

        self.rename_button = QPushButton("Rename")
        self.color_button = QPushButton("Colour…")
        self.up_button = QPushButton("Move up")
        self.down_button = QPushButton("Move down")
        self.remove_button = QPushButton("Remove")
        self.rename_button.clicked.connect(self._rename_current)
        self.color_button.clicked.connect(self._choose_color)
        self.up_button.clicked.connect(lambda: self._move_current(-1))
        self.down_button.clicked.connect(lambda: self._move_current(1))
        self.remove_button.clicked.connect(self._remove_current)
        side = QVBoxLayout()
        for button in (
            self.rename_button,
            self.color_button,
            self.up_button,
            self.down_button,
            self.remove_button,
        ):
            side.addWidget(button)
        side.addStretch(1)

        self.hint_label = message_label()
        grid = QGridLayout(self)
        grid.addLayout(add_row, 0, 0)
        grid.addWidget(self.class_list, 1, 0)
        grid.addLayout(side, 1, 1)
        grid.addWidget(self.hint_label, 2, 0, 1, 2)
        context.project_changed.connect(self._refresh)
        self._refresh()

    # -- actions ----------------------------------------------------------------------------------

    def add_class(self, name: str) -> bool:
        try:
            self._context.project.add_class(name)
        except CrystalViewError as error:
            QMessageBox.warning(self, "Cannot add the class", str(error))
            return False
        self.class_list.setCurrentRow(self.class_list.count() - 1)
        return True

    def add_from_edit(self) -> None:
        if self.add_class(self.name_edit.text()):
            self.name_edit.clear()

    def _current_name(self) -> str | None:
        item = self.class_list.currentItem()
        return None if item is None else item.data(Qt.ItemDataRole.UserRole)

    def _rename_current(self) -> None:
        item = self.class_list.currentItem()
        if item is not None:
            self.class_list.editItem(item)

    def _on_item_changed(self, item: QListWidgetItem) -> None:
        if self._filling:
            return
        old, new = item.data(Qt.ItemDataRole.UserRole), item.text().strip()
        if new == old:
            return
        try:
            self._context.project.rename_class(old, new)
        except CrystalViewError as error:
            QMessageBox.warning(self, "Cannot rename the class", str(error))
            self._refresh()

    def _choose_color(self) -> None:
        name = self._current_name()
        if name is None:
            return
        current = next(c.color for c in self._context.project.classes if c.name == name)
        color = QColorDialog.getColor(QColor(current), self, f"Colour of '{name}'")
        if color.isValid():
            self._context.project.set_class_color(name, color.name())

    def _move_current(self, step: int) -> None:
        name, row = self._current_name(), self.class_list.currentRow()
        if name is None:
            return
        self._context.project.move_class(name, row + step)
        self.class_list.setCurrentRow(max(0, min(self.class_list.count() - 1, row + step)))

    def _remove_current(self) -> None:
        name = self._current_name()
        if name is None:
            return
        count = self._context.project.counts().get(name, 0)
        if count:
            answer = QMessageBox.question(
                self,
                "Remove the class?",
                f"{count} image(s) are labelled '{name}'; they become unlabelled. "
                "You can undo this on the labelling page (Ctrl+Z).",
            )
            if answer != QMessageBox.StandardButton.Yes:
                return
        self._context.project.remove_class(name)

    # -- state ------------------------------------------------------------------------------------

    def _refresh(self) -> None:
        project = self._context.project
        row = self.class_list.currentRow()
        counts = project.counts()
        self._filling = True
        self.class_list.clear()
        for label_class in project.classes:
            item = QListWidgetItem(class_icon(label_class, _ICON_SIZE.width()), label_class.name)
            item.setData(Qt.ItemDataRole.UserRole, label_class.name)
            item.setFlags(item.flags() | Qt.ItemFlag.ItemIsEditable)
            key = f"key {label_class.key}" if label_class.key else "no key"
            item.setToolTip(f"{key} · {counts.get(label_class.name, 0)} image(s) labelled")
            self.class_list.addItem(item)
        self._filling = False
        if self.class_list.count():
            self.class_list.setCurrentRow(max(0, min(row, self.class_list.count() - 1)))
        n = len(project.classes)
        if n < 2:
            set_message(self.hint_label, "Add at least two classes to go on.")
        elif n > 9:
            set_message(self.hint_label, "Only the first nine classes get a keyboard key.")
        else:
            set_message(self.hint_label, "")
        self._update_buttons()
        self.completeChanged.emit()

    def _update_buttons(self) -> None:
        row, count = self.class_list.currentRow(), self.class_list.count()
        has = row >= 0
        for button in (self.rename_button, self.color_button, self.remove_button):
            button.setEnabled(has)
        self.up_button.setEnabled(has and row > 0)
        self.down_button.setEnabled(has and row < count - 1)

    def isComplete(self) -> bool:
        return len(self._context.project.classes) >= 2
