"""Wizard pages depend on the narrow `WizardContext`, not on the whole `FineTuneWizard`."""

from __future__ import annotations

import ast
from pathlib import Path

from PySide6.QtCore import QObject, Qt, Signal

import crystalview.gui.wizard as wizard_package
from crystalview.core.labels import LabelProject
from crystalview.gui.wizard.page_classes import ClassesPage


class StandInContext(QObject):
    """Only what `WizardContext` declares, with no wizard behind it."""

    project_changed = Signal()
    training_finished = Signal(object)
    model_saved = Signal(object)

    def __init__(self) -> None:
        super().__init__()
        self.project = LabelProject(None)
        self.pool = None
        self.thumbnails = None
        self.previews = None
        self.open_images = []
        self.result = None
        self.result_key = None
        self.saved_path = None
        self.closing = False

    def set_project(self, project: LabelProject) -> None:
        self.project = project
        project.add_listener(lambda: self.project_changed.emit())
        self.project_changed.emit()

    def resume(self) -> None:
        raise AssertionError("a page outside a wizard must not navigate")


def test_a_page_works_on_a_stand_in_context(qtbot):
    context = StandInContext()
    context.set_project(LabelProject(None))
    page = ClassesPage(context)
    qtbot.addWidget(page)
    for name in ("ferrite", "pearlite"):
        qtbot.keyClicks(page.name_edit, name)
        qtbot.mouseClick(page.add_button, Qt.MouseButton.LeftButton)
    assert context.project.class_names == ["ferrite", "pearlite"]
    assert page.isComplete()

    other = LabelProject(None)
    other.add_class("bainite")
    context.set_project(other)  # the page follows the context's project, not a copy of it
    assert [page.class_list.item(i).text() for i in range(page.class_list.count())] == ["bainite"]
    assert not page.isComplete()


def test_no_page_imports_the_wizard():
    """Pages (and their helpers) are given a context; only the wizard module builds them."""
    folder = Path(wizard_package.__file__).parent
    offenders = []
    for source in sorted(folder.glob("*.py")):
        if source.name in ("wizard.py", "launch.py", "__init__.py"):
            continue
        for node in ast.walk(ast.parse(source.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module == "crystalview.gui.wizard.wizard":
                offenders.append(source.name)
    assert offenders == []
