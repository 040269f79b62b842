"""Page 7: name the model and save it as a ``.cvmodel`` with its model card.

Saving never overwrites: the model goes into the user models folder under a versioned name
(``name``, ``name-2`` …), where the catalogue lists it at once; the wizard's ``model_saved``
signal tells the main window, whose model list refreshes so the model is selectable right away.
"""

from __future__ import annotations

import dataclasses
import logging
import re
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMessageBox,
    QPushButton,
    QTextBrowser,
    QVBoxLayout,
    QWizardPage,
)

from crystalview.core.errors import CrystalViewError
from crystalview.gui.wizard.keys import enter_acts_here
from crystalview.gui.wizard.widgets import GOOD_STYLE, message_label, set_message

if TYPE_CHECKING:
    from crystalview.gui.wizard.context import WizardContext

log = logging.getLogger(__name__)


def suggested_name(project_path: Path | None, class_names: list[str]) -> str:
    """A readable default: the project's folder and the classes, e.g. ``fibres-aligned-random``."""
    stem = project_path.parent.name if project_path is not None else "my-model"
    classes = "-".join(class_names[:3])
    raw = f"{stem}-{classes}" if classes else stem
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", raw).strip("-.")[:60] or "my-model"


class SavePage(QWizardPage):
    """Name, model card preview, Save; then the saved file's path."""

    def __init__(self, context: WizardContext):
        super().__init__()
        self._context = context
        self._saved_for = None
        self.setTitle("7 · Save")
        self.setSubTitle(
            "Save the model as a file you can use at once in CrystalView and send to a "
            "colleague. Earlier models are never overwritten."
        )
        self.name_edit = QLineEdit()
        self.name_edit.textChanged.connect(lambda _t: self._update_card())
        # Enter saves (what the field is for); it never finishes the wizard by itself.
        enter_acts_here(
            self.name_edit, lambda: self.save_button.isEnabled() and self.save_button.click()
        )
        self.save_button = QPushButton("Save model")
        self.save_button.setDefault(True)
        self.save_button.clicked.connect(self.save)
        row = QHBoxLayout()
        row.addWidget(QLabel("Model name:"))
        row.addWidget(self.name_edit, 1)
        row.addWidget(self.save_button)
        self.card_view = QTextBrowser()
        self.card_view.setOpenExternalLinks(False)
        self.saved_label = message_label(style=GOOD_STYLE)
        self.saved_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        layout = QVBoxLayout(self)
        layout.addLayout(row)
        layout.addWidget(QLabel("Model card (saved inside the file):"))
        layout.addWidget(self.card_view, 1)
        layout.addWidget(self.saved_label)

    def initializePage(self) -> None:
        result = self._context.result
        if result is None:
            return
        if self._saved_for is not result:
            set_message(self.saved_label, "")
            self.save_button.setEnabled(True)
        if not self.name_edit.text():
            self.name_edit.setText(
                suggested_name(self._context.project.path, list(result.class_names))
            )
        self._update_card()

    def cleanupPage(self) -> None:
        """Going back keeps the name."""

    def _named_result(self):
        result = self._context.result
        name = self.name_edit.text().strip() or "my-model"
        result.manifest = dataclasses.replace(result.manifest, name=name)
        return result

    def _update_card(self) -> None:
        if self._context.result is None:
            return
        from crystalview.training import model_card

        self.card_view.setMarkdown(model_card(self._named_result()))

    def save(self) -> Path | None:
        """Save the trained model under a versioned name; returns its path."""
        if self._context.result is None:
            return None
        from crystalview.training import save_trained_model

        result = self._named_result()
        try:
            path = save_trained_model(result)
        except (CrystalViewError, OSError) as error:
            QMessageBox.warning(self, "Cannot save the model", str(error))
            return None
        self._saved_for = result
        self._context.saved_path = path
        set_message(
            self.saved_label,
            f"Saved as <b>{path.stem}</b> in {path.parent}.<br>It is in the model list now: "
            "pick it in the Model panel to classify images.",
            GOOD_STYLE,
        )
        self.save_button.setEnabled(False)
        log.info("saved fine-tuned model %s", path)
        self._context.model_saved.emit(path)
        self.completeChanged.emit()
        return path

    def isComplete(self) -> bool:
        return self._saved_for is not None and self._saved_for is self._context.result
