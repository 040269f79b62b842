"""The wizard's small manners: Enter in a field stays in the field; projects go to user data."""

from __future__ import annotations

import numpy as np
import tifffile
from PySide6.QtCore import Qt

from crystalview.gui.wizard import FineTuneWizard
from crystalview.gui.wizard.wizard import CLASSES, default_project_path, existing_project_path
from crystalview.paths import user_data_dir


def test_enter_in_the_class_name_field_adds_the_class_and_stays(qtbot, tmp_path):
    image = tmp_path / "pics" / "a.tif"
    image.parent.mkdir()
    tifffile.imwrite(image, np.zeros((16, 16), np.uint8))
    wizard = FineTuneWizard(open_images=[image])
    qtbot.addWidget(wizard)
    wizard.show()
    if not wizard.project.images:
        wizard.images_page.add_paths([image])
    wizard.next()
    assert wizard.currentId() == CLASSES
    edit = wizard.classes_page.name_edit
    for name in ("amorphous", "crystalline", "mixed"):
        edit.setFocus()
        qtbot.keyClicks(edit, name)
        qtbot.keyClick(edit, Qt.Key.Key_Return)
        assert wizard.currentId() == CLASSES, f"Enter after {name!r} left the page"
    assert wizard.project.class_names == ["amorphous", "crystalline", "mixed"]
    wizard.close()


def test_new_projects_go_to_the_user_data_folder(tmp_path):
    samples = tmp_path / "install" / "samples"
    other = tmp_path / "elsewhere" / "samples"
    path = default_project_path([samples / "x.tif", samples / "y.dm3"])
    assert path.parent == user_data_dir() / "projects" and path.name.startswith("samples-")
    assert default_project_path([samples / "z.tif"]) == path  # the same folder: found again
    assert default_project_path([other / "x.tif"]) != path  # same name, other folder
    assert default_project_path([]) is None


def test_projects_saved_next_to_the_images_are_still_resumed(tmp_path):
    images = [tmp_path / "a.tif"]
    assert existing_project_path(images) is None
    legacy = tmp_path / "crystalview-labels.json"
    legacy.write_text("{}")
    assert existing_project_path(images) == legacy
