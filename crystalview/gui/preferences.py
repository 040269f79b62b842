"""Preferences dialog: the defaults a lab changes (device, threads, memory budget, colour map)."""

from __future__ import annotations

import os

from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QSpinBox,
    QWidget,
)

from crystalview.core.memory import format_bytes, total_ram_bytes
from crystalview.gui.settings import Preferences
from crystalview.gui.viewer import COLOR_MAPS
from crystalview.inference.settings import DEVICES


class PreferencesDialog(QDialog):
    """Edits a `Preferences`; `preferences()` returns the edited copy."""

    def __init__(self, preferences: Preferences, parent: QWidget | None = None):
        super().__init__(parent)
        self.setWindowTitle("Preferences")
        self.device_box = QComboBox()
        self.device_box.addItems(DEVICES)
        self.device_box.setCurrentText(preferences.device)
        self.device_box.setToolTip("auto: NVIDIA GPU if present, then Apple GPU, then CPU")
        self.threads_box = QSpinBox()
        self.threads_box.setRange(0, max(1, os.cpu_count() or 1))
        self.threads_box.setSpecialValueText("automatic (all cores but one)")
        self.threads_box.setValue(preferences.threads)
        self.memory_box = QSpinBox()
        self.memory_box.setRange(0, max(1, total_ram_bytes() // 1024**2))
        self.memory_box.setSingleStep(256)
        self.memory_box.setSuffix(" MB")
        self.memory_box.setSpecialValueText(
            f"automatic (half the RAM, {format_bytes(total_ram_bytes() // 2)})"
        )
        self.memory_box.setValue(preferences.memory_budget_mb)
        self.cmap_box = QComboBox()
        self.cmap_box.addItems(COLOR_MAPS)
        self.cmap_box.setCurrentText(preferences.color_map)
        form = QFormLayout(self)
        form.addRow("Compute device", self.device_box)
        form.addRow("CPU threads", self.threads_box)
        form.addRow("Largest image", self.memory_box)
        form.addRow("Default colour map", self.cmap_box)
        note = QLabel("Device and threads apply to the next model run.")
        note.setWordWrap(True)
        form.addRow(note)
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        form.addRow(buttons)

    def preferences(self) -> Preferences:
        return Preferences(
            device=self.device_box.currentText(),
            threads=self.threads_box.value(),
            memory_budget_mb=self.memory_box.value(),
            color_map=self.cmap_box.currentText(),
        )
