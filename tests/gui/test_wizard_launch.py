"""Opening the fine-tune wizard from the main window: menu action, prefilled images, resuming
the project beside them, announcing a saved model to the model dock, closing with the window."""

from __future__ import annotations

from pathlib import Path

import pytest

from crystalview.core.labels import LabelProject
from crystalview.gui.wizard.launch import open_wizard
from crystalview.gui.wizard.wizard import IMAGES, LABELLING
from crystalview.paths import user_data_dir


@pytest.fixture
def opened(qtbot, window, image_folder):
    """The window with the three images of ``image_folder`` open."""
    window.open_paths([image_folder], remember=False)
    qtbot.waitUntil(lambda: window.gallery_model.rowCount() == 3, timeout=10_000)
    return window


# the headless test platform cannot raise windows; that is not a problem of the wizard
@pytest.mark.qt_log_ignore(
    r"This plugin does not support raise\(\)", r"This plugin does not support propagateSizeHints"
)
def test_menu_action_opens_the_wizard_prefilled(qtbot, opened, image_folder):
    action = opened.finetune_action  # installed by the window itself
    assert action.shortcut().toString() == "Ctrl+T"
    menus = [a.text() for a in opened.menuBar().actions()]
    assert "&Model" in menus and menus[-1] == "&Help"
    action.trigger()
    wizard = opened.finetune_wizard
    assert wizard is not None and wizard.isVisible()
    assert wizard.currentId() == IMAGES
    assert sorted(wizard.project.images) == sorted(e.path for e in opened.gallery_model.entries)
    suggested = Path(wizard.images_page.path_edit.text())
    assert suggested.parent == user_data_dir() / "projects"  # not next to the images
    assert suggested.name.startswith(image_folder.name)
    assert open_wizard(opened) is wizard  # a second trigger raises the same wizard

    opened.close()  # closing the window closes the wizard and stops its jobs
    assert not wizard.isVisible()
    assert wizard.pool.active() == []


def test_wizard_resumes_the_project_next_to_the_open_images(qtbot, opened, image_folder):
    images = sorted(e.path for e in opened.gallery_model.entries)
    project = LabelProject.create(image_folder / "crystalview-labels.json", images, ["a", "b"])
    project.set_label(images[0], "b")
    wizard = open_wizard(opened)
    assert wizard.currentId() == LABELLING
    assert wizard.project.path == project.path
    assert wizard.project.label_of(images[0]) == "b"
    wizard.close()


def test_saved_model_is_listed_and_selected_in_the_model_dock(qtbot, opened, tmp_path):
    import torch

    from crystalview import paths
    from crystalview.gui.docks import install_features
    from crystalview.models.bundle import save_bundle
    from crystalview.models.manifest import ModelManifest
    from crystalview.models.registry import build_model

    if getattr(opened, "model_dock", None) is None:  # the window installs it when listed
        install_features(opened, ("crystalview.gui.docks.model",))
    dock = opened.model_dock
    wizard = open_wizard(opened)
    torch.manual_seed(0)
    manifest = ModelManifest(
        architecture="diffraction_cnn", classes=["x", "y"], input_size=32, name="from-wizard"
    )
    target = paths.user_models_dir() / "from-wizard-launch-test.cvmodel"
    path = save_bundle(target, build_model("diffraction_cnn", num_classes=2), manifest)
    wizard.model_saved.emit(path)
    qtbot.waitUntil(
        lambda: (
            dock.current_model_entry() is not None and dock.current_model_entry().name == path.stem
        ),
        timeout=20_000,
    )
    wizard.close()
