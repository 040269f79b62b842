"""The fine-tune wizard: seven pages from images to a saved model, resumable at any time.

The labelling project file (`crystalview.core.labels.LabelProject`) is the wizard's state: it
holds the images, classes, labels and undo history and is saved after every change. Opening the
wizard on an existing project goes straight to the first page that still needs work, so a
scientist who closed it half way through labelling carries on where they stopped. Training
results live only as long as the wizard: they become permanent when saved as a model file.

Every long job (thumbnails, training, heat maps, uncertainty ranking) runs on the wizard's own
`WorkerPool`; closing the wizard cancels those jobs and waits for them, so no thread outlives it.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from pathlib import Path

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QWidget, QWizard

from crystalview.core.labels import LabelProject
from crystalview.gui.wizard.thumbnails import ThumbnailCache
from crystalview.gui.workers import WorkerPool

log = logging.getLogger(__name__)

GRID_THUMB_SIZE = 128
PREVIEW_SIZE = 640

IMAGES, CLASSES, LABELLING, MODEL, TRAINING, EVALUATION, SAVE = range(7)


class FineTuneWizard(QWizard):
    """Label images, pick a base model and strategy, train, evaluate and save a model.

    The wizard is the `WizardContext` its pages are given: they see its project, pool, caches,
    last result and signals, and nothing else of it.

    Parameters
    ----------
    open_images
        Images open in the main window, offered on the first page ("Add the open images").
    project
        A labelling project to continue (the wizard resumes at the first unfinished page).

    Signals
    -------
    project_changed()
        The project was replaced or changed (a label, a class, an image).
    training_finished(object)
        A `TrainingResult` (also after a cancelled run that kept a checkpoint).
    model_saved(object)
        Path of a newly saved ``.cvmodel``; the model dock refreshes its list on it.
    """

    project_changed = Signal()
    training_finished = Signal(object)
    model_saved = Signal(object)

    def __init__(
        self,
        parent: QWidget | None = None,
        open_images: Iterable[Path] = (),
        project: LabelProject | None = None,
    ):
        super().__init__(parent)
        self.setWindowTitle("Fine-tune a model")
        self.setWizardStyle(QWizard.WizardStyle.ClassicStyle)
        self.setOption(QWizard.WizardOption.NoBackButtonOnStartPage, True)
        self.setOption(QWizard.WizardOption.NoCancelButtonOnLastPage, True)
        self.resize(1180, 800)
        self.open_images = [Path(p) for p in open_images]
        self.pool = WorkerPool(max_threads=2, parent=self)
        self.thumbnails = ThumbnailCache(self.pool, GRID_THUMB_SIZE, self)
        self.previews = ThumbnailCache(self.pool, PREVIEW_SIZE, self)
        self.project: LabelProject = LabelProject(None)
        self.result = None  # TrainingResult of the last run
        self.result_key = None  # (config, samples, class names) that produced it
        self.saved_path: Path | None = None
        self._closing = False

        from crystalview.gui.wizard.page_classes import ClassesPage
        from crystalview.gui.wizard.page_evaluation import EvaluationPage
        from crystalview.gui.wizard.page_images import ImagesPage
        from crystalview.gui.wizard.page_labelling import LabellingPage
        from crystalview.gui.wizard.page_model import ModelPage
        from crystalview.gui.wizard.page_save import SavePage
        from crystalview.gui.wizard.page_training import TrainingPage

        self.images_page = ImagesPage(self)
        self.classes_page = ClassesPage(self)
        self.labelling_page = LabellingPage(self)
        self.model_page = ModelPage(self)
        self.training_page = TrainingPage(self, self.model_page)
        self.evaluation_page = EvaluationPage(self)
        self.save_page = SavePage(self)
        for page_id, page in enumerate(
            (
                self.images_page,
                self.classes_page,
                self.labelling_page,
                self.model_page,
                self.training_page,
                self.evaluation_page,
                self.save_page,
            )
        ):
            self.setPage(page_id, page)
        if project is not None:
            self.set_project(project)

    @property
    def closing(self) -> bool:
        """True once `shutdown` has begun."""
        return self._closing

    # -- the project ------------------------------------------------------------------------------

    def set_project(self, project: LabelProject) -> None:
        """Work on ``project`` from now on (a new, opened or merged one)."""
        self.project = project
        project.add_listener(lambda p=project: self._on_project_changed(p))
        self.project_changed.emit()

    def _on_project_changed(self, project: LabelProject) -> None:
        if project is self.project and not self._closing:
            self.project_changed.emit()

    def resume_page(self) -> int:
        """The first page that still needs work for the current project."""
        if not self.project.images:
            return IMAGES
        if len(self.project.classes) < 2:
            return CLASSES
        return LABELLING

    def resume(self) -> None:
        """Walk forward from the first page to `resume_page`, so Back still works from there."""
        target = self.resume_page()
        self.restart()
        while self.currentId() < target and self.currentPage().isComplete():
            before = self.currentId()
            self.next()
            if self.currentId() == before:
                break

    # -- closing ----------------------------------------------------------------------------------

    def shutdown(self) -> None:
        """Cancel every job, wait for the threads and make sure the labels are on disk."""
        if self._closing:
            return
        self._closing = True
        self.training_page.cancel_training()
        self.pool.shutdown()
        try:
            self.project.flush()
        except OSError as error:  # reported; the labels of earlier changes are already saved
            log.error("could not write the labelling project: %s", error)

    def done(self, result: int) -> None:
        self.shutdown()
        super().done(result)
