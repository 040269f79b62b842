"""The fine-tune wizard (issue 7): label images, train, evaluate and save a model, no code.

`FineTuneWizard` is the dialog; `crystalview.gui.wizard.launch.open_wizard` builds it for the
main window (Model ▸ Fine-tune a Model…), prefilled with the window's open images and resuming
the labelling project that lives next to them.
"""

from crystalview.gui.wizard.wizard import FineTuneWizard
from crystalview.jobs.project_paths import default_project_path

__all__ = ["FineTuneWizard", "default_project_path"]
