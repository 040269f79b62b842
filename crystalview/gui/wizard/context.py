"""What the wizard's pages share, and nothing else of the wizard.

A page is given a `WizardContext`, not the `FineTuneWizard`: the project it edits, the job pool and
thumbnail caches it draws on, the last training result it reads or replaces, and the signals it
listens to or emits. `FineTuneWizard` is one; a test may hand a page a stand-in. Moving between
pages stays with Qt (`QWizardPage.wizard()`), and the one page that needs another page's choice
(training needs the model page's settings) is given that page explicitly.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from PySide6.QtCore import SignalInstance  # the protocol's signals are Qt's

if TYPE_CHECKING:
    from crystalview.core.labels import LabelProject
    from crystalview.gui.wizard.thumbnails import ThumbnailCache
    from crystalview.gui.workers import WorkerPool
    from crystalview.training import TrainingResult


class WizardContext(Protocol):
    """The state and services the pages of the fine-tune wizard use.

    Attributes
    ----------
    project
        The labelling project being worked on; replaced only through `set_project`.
    pool
        Runs the pages' long jobs; its jobs are cancelled and waited for when the wizard closes.
    thumbnails, previews
        Grid thumbnails and the labelling page's large preview, computed on ``pool``.
    open_images
        Images open in the main window, offered on the first page.
    result, result_key
        The last `TrainingResult` and what produced it (settings, samples, class names); the
        training page sets them, the later pages read them.
    saved_path
        Where the save page last wrote the model.
    project_changed, training_finished, model_saved
        The wizard's signals (see `FineTuneWizard`).
    """

    project: LabelProject
    pool: WorkerPool
    thumbnails: ThumbnailCache
    previews: ThumbnailCache
    open_images: list[Path]
    result: TrainingResult | None
    result_key: tuple[Any, ...] | None
    saved_path: Path | None
    project_changed: SignalInstance
    training_finished: SignalInstance
    model_saved: SignalInstance

    @property
    def closing(self) -> bool:
        """True once the wizard is shutting down: no new dialogs, no new jobs."""
        ...

    def set_project(self, project: LabelProject) -> None:
        """Work on ``project`` from now on (a new, opened or merged one)."""
        ...

    def resume(self) -> None:
        """Go to the first page that still needs work for the current project."""
        ...
