""" "Simulate training data from structures…": patterns of a lab's own phases, one class per CIF.

The dialog collects CIF files (one class each, named after the file), the pattern kind (rings of
a polycrystalline film or zone-axis spots), how many patterns and their size, and an output
folder; it then runs `crystalview.sim.export.write_structure_dataset` on the wizard's worker
pool with a progress bar and a cancel button. The result is a folder with one subfolder per
phase, which the images page imports as a labelled tree, so the user can fine-tune "phase A vs
phase B" and classify real patterns among their candidate phases.
"""

from __future__ import annotations

import logging
from pathlib import Path

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QMessageBox,
    QProgressBar,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from crystalview.core.errors import Cancelled, CrystalViewError
from crystalview.gui.workers import WorkerPool

log = logging.getLogger(__name__)

KINDS = (
    ("rings", "Ring patterns (polycrystalline film)"),
    ("spots", "Spot patterns (single crystal, zone axes)"),
)


class SimulateDialog(QDialog):
    """Choose CIFs and settings, simulate, and report the folder written (`finished_folder`)."""

    finished_folder = Signal(Path)

    def __init__(self, pool: WorkerPool, parent: QWidget | None = None, folder: Path | None = None):
        super().__init__(parent)
        self.setWindowTitle("Simulate training data from structures")
        self._pool = pool
        self._worker = None
        self.result_folder: Path | None = None

        intro = QLabel(
            "Each CIF file becomes one class. Patterns get the camera, beam-stop, noise and "
            "export variations of the built-in models' training data."
        )
        intro.setWordWrap(True)
        self.cif_list = QListWidget()
        self.cif_list.setMinimumHeight(110)
        self.add_button = QPushButton("Add CIF files…")
        self.remove_button = QPushButton("Remove")
        self.add_button.clicked.connect(self._choose_cifs)
        self.remove_button.clicked.connect(self._remove_selected)
        list_buttons = QHBoxLayout()
        list_buttons.addWidget(self.add_button)
        list_buttons.addWidget(self.remove_button)
        list_buttons.addStretch(1)

        self.kind_combo = QComboBox()
        for key, text in KINDS:
            self.kind_combo.addItem(text, key)
        self.count_spin = QSpinBox()
        self.count_spin.setRange(1, 5000)
        self.count_spin.setValue(100)
        self.count_spin.setSuffix(" per structure")
        self.size_spin = QSpinBox()
        self.size_spin.setRange(64, 1024)
        self.size_spin.setSingleStep(64)
        self.size_spin.setValue(256)
        self.size_spin.setSuffix(" px")
        self.folder_edit = QLineEdit(str(folder) if folder else "")
        self.folder_button = QPushButton("Choose…")
        self.folder_button.clicked.connect(self._choose_folder)
        folder_row = QHBoxLayout()
        folder_row.addWidget(self.folder_edit, 1)
        folder_row.addWidget(self.folder_button)
        form = QFormLayout()
        form.addRow("Patterns:", self.kind_combo)
        form.addRow("How many:", self.count_spin)
        form.addRow("Image size:", self.size_spin)
        form.addRow("Output folder:", folder_row)

        self.progress = QProgressBar()
        self.progress.setVisible(False)
        self.status_label = QLabel()
        self.status_label.setWordWrap(True)
        self.buttons = QDialogButtonBox()
        self.run_button = self.buttons.addButton("Simulate", QDialogButtonBox.ButtonRole.AcceptRole)
        self.cancel_button = self.buttons.addButton(QDialogButtonBox.StandardButton.Cancel)
        self.run_button.clicked.connect(self.start)
        self.cancel_button.clicked.connect(self._cancel)

        layout = QVBoxLayout(self)
        layout.addWidget(intro)
        layout.addWidget(self.cif_list)
        layout.addLayout(list_buttons)
        layout.addLayout(form)
        layout.addWidget(self.progress)
        layout.addWidget(self.status_label)
        layout.addWidget(self.buttons)
        self.resize(560, 460)
        self._update_buttons()

    # -- inputs ----------------------------------------------------------------------------------

    @property
    def cif_paths(self) -> list[Path]:
        return [Path(self.cif_list.item(i).text()) for i in range(self.cif_list.count())]

    def add_cifs(self, paths) -> None:
        known = {str(p) for p in self.cif_paths}
        for path in paths:
            if str(path) not in known:
                self.cif_list.addItem(str(path))
                known.add(str(path))
        self._update_buttons()

    def _choose_cifs(self) -> None:
        files, _ = QFileDialog.getOpenFileNames(
            self, "Structures (one class per file)", "", "Crystal structures (*.cif);;All (*)"
        )
        self.add_cifs(Path(f) for f in files)

    def _remove_selected(self) -> None:
        for item in self.cif_list.selectedItems():
            self.cif_list.takeItem(self.cif_list.row(item))
        self._update_buttons()

    def _choose_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Folder for the simulated patterns")
        if folder:
            self.folder_edit.setText(folder)
            self._update_buttons()

    def _update_buttons(self) -> None:
        running = self._worker is not None
        self.run_button.setEnabled(not running and self.cif_list.count() > 0)
        for widget in (self.add_button, self.remove_button, self.kind_combo, self.count_spin):
            widget.setEnabled(not running)
        self.cancel_button.setText("Stop" if running else "Close")

    # -- running ---------------------------------------------------------------------------------

    def start(self) -> None:
        """Read the CIFs, then simulate on the worker pool; errors are shown, never raised."""
        from crystalview.cli.simulate_cmd import read_structures
        from crystalview.sim.export import write_structure_dataset

        text = self.folder_edit.text().strip()
        if not text:
            self._show_error("Choose an output folder first.")
            return
        out = Path(text)
        if out.exists() and not out.is_dir():
            self._show_error(f"{out} exists and is not a folder.")
            return
        try:
            crystals = read_structures(self.cif_paths)
        except CrystalViewError as error:
            self._show_error(str(error))
            return
        kind = self.kind_combo.currentData()
        n = self.count_spin.value() * len(crystals)
        size = self.size_spin.value()
        self.progress.setRange(0, n)
        self.progress.setValue(0)
        self.progress.setVisible(True)
        self.status_label.setText(f"Simulating {n} patterns of {len(crystals)} structures…")
        self._worker = self._pool.submit(
            lambda cancel: write_structure_dataset(out, crystals, kind, n, size, 0, cancel),
            title="Simulating training data",
            report_errors=False,
        )
        self._worker.progress.connect(self._on_progress)
        self._worker.result.connect(lambda labels: self._on_done(out))
        self._worker.error.connect(lambda error, _tb: self._on_error(error))
        self._worker.cancelled.connect(self._on_cancelled)
        self._update_buttons()

    def _on_progress(self, event) -> None:
        self.progress.setValue(event.done)
        self.status_label.setText(event.message)

    def _on_done(self, out: Path) -> None:
        self._worker = None
        self.result_folder = out
        self.status_label.setText(f"Written to {out}.")
        self._update_buttons()
        self.finished_folder.emit(out)
        self.accept()

    def _on_error(self, error: Exception) -> None:
        self._worker = None
        self.progress.setVisible(False)
        self._update_buttons()
        if isinstance(error, Cancelled):
            return
        message = (
            str(error)
            if isinstance(error, CrystalViewError | ValueError | OSError)
            else (f"The simulation failed: {error!r}")
        )
        log.warning("simulation failed: %r", error)
        self._show_error(message)

    def _on_cancelled(self) -> None:
        self._worker = None
        self.progress.setVisible(False)
        self.status_label.setText("Stopped; the patterns written so far are kept.")
        self._update_buttons()

    def _cancel(self) -> None:
        if self._worker is not None:
            self._worker.cancel()
        else:
            self.reject()

    def _show_error(self, message: str) -> None:
        self.status_label.setText(message)
        QMessageBox.warning(self, "Cannot simulate", message)

    def closeEvent(self, event) -> None:
        if self._worker is not None:
            self._worker.cancel()
        super().closeEvent(event)
