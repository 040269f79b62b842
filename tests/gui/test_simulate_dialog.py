"""The wizard's "Simulate training data from structures…" dialog writes one class per CIF and the
images page imports the result as a labelled tree."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QMessageBox

from crystalview.gui.wizard.simulate_dialog import SimulateDialog
from crystalview.gui.wizard.wizard import FineTuneWizard

DATA = Path(__file__).resolve().parent.parent / "data"
CIFS = [DATA / "NaCl.cif", DATA / "TiO2-rutile.cif"]


def _wizard(qtbot) -> FineTuneWizard:
    wizard = FineTuneWizard()
    qtbot.addWidget(wizard)
    wizard.show()
    return wizard


def test_dialog_simulates_one_folder_per_structure(qtbot, tmp_path):
    wizard = _wizard(qtbot)
    dialog = SimulateDialog(wizard.pool, wizard, folder=tmp_path / "sim")
    qtbot.addWidget(dialog)
    assert not dialog.run_button.isEnabled()  # nothing to simulate yet
    dialog.add_cifs(CIFS)
    dialog.add_cifs(CIFS[:1])  # the same file twice is one class
    assert dialog.cif_list.count() == 2 and dialog.run_button.isEnabled()
    dialog.count_spin.setValue(2)
    dialog.size_spin.setValue(64)
    with qtbot.waitSignal(dialog.finished_folder, timeout=120_000) as blocker:
        qtbot.mouseClick(dialog.run_button, Qt.MouseButton.LeftButton)
    out = blocker.args[0]
    assert sorted(p.name for p in out.iterdir() if p.is_dir()) == ["NaCl", "TiO2-rutile"]
    assert len(list((out / "NaCl").glob("*.tif"))) == 2
    assert (out / "labels.csv").is_file()
    wizard.close()
    assert wizard.pool.active() == []


def test_bad_cif_shows_an_error_and_keeps_the_dialog(qtbot, tmp_path, monkeypatch):
    shown = []
    monkeypatch.setattr(QMessageBox, "warning", lambda *args: shown.append(args[2]))
    wizard = _wizard(qtbot)
    dialog = SimulateDialog(wizard.pool, wizard, folder=tmp_path / "sim")
    qtbot.addWidget(dialog)
    broken = tmp_path / "broken.cif"
    broken.write_text("not a cif\n")
    dialog.add_cifs([broken])
    qtbot.mouseClick(dialog.run_button, Qt.MouseButton.LeftButton)
    assert shown and "broken.cif" in shown[0]
    assert dialog.run_button.isEnabled()  # nothing started; the user can fix the list
    wizard.close()


def test_images_page_imports_the_simulated_tree(qtbot, tmp_path):
    wizard = _wizard(qtbot)
    page = wizard.images_page
    assert page.simulate_button.text() == "Simulate training data from structures…"
    dialog = page.open_simulate_dialog()
    dialog.folder_edit.setText(str(tmp_path / "sim"))
    dialog.add_cifs(CIFS)
    dialog.count_spin.setValue(2)
    dialog.size_spin.setValue(64)
    with qtbot.waitSignal(dialog.finished_folder, timeout=120_000):
        dialog.start()
    qtbot.waitUntil(lambda: len(wizard.project.images) == 4, timeout=10_000)
    assert {c.name for c in wizard.project.classes} >= {"NaCl", "TiO2-rutile"}
    wizard.close()
    assert wizard.pool.active() == []
