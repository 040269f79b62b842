"""The Set Scale dialog: type the real length of the line just drawn."""

from __future__ import annotations

from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QWidget,
)

from crystalview.core.units import format_pixel_size
from crystalview.measure.calibration import SCALE_UNITS, pixel_size_from_line


class SetScaleDialog(QDialog):
    """Known length and unit for a line ``length_px`` long; ``remove_requested`` on Remove.

    ``result_scale()`` gives ``(pixel_size, unit)`` once accepted.
    """

    def __init__(
        self,
        length_px: float,
        diffraction: bool,
        set_by_hand: bool,
        current: tuple[float | None, str | None],
        parent: QWidget | None = None,
    ):
        super().__init__(parent)
        self.setWindowTitle("Set Scale")
        self.length_px = length_px
        self.remove_requested = False
        self.length_box = QDoubleSpinBox()
        self.length_box.setDecimals(4)
        self.length_box.setRange(1e-4, 1e9)
        self.length_box.setValue(10.0 if diffraction else 100.0)
        self.unit_box = QComboBox()
        self.unit_box.addItems(SCALE_UNITS)
        self.unit_box.setCurrentText("1/nm" if diffraction else "nm")
        self.result_label = QLabel()
        row = QHBoxLayout()
        row.addWidget(self.length_box, 1)
        row.addWidget(self.unit_box)
        form = QFormLayout(self)
        intro = QLabel(
            "Type the real length of the line you drew (for a diffraction pattern, the "
            "distance between the two spots in 1/nm). The scale is kept for this file in "
            "your CrystalView data folder; the file itself is not changed."
        )
        intro.setWordWrap(True)
        self.setMinimumWidth(420)
        form.addRow(intro)
        form.addRow("Line:", QLabel(f"{length_px:.2f} px"))
        form.addRow("Known length:", row)
        form.addRow("Pixel size:", self.result_label)
        form.addRow(
            "Now:", QLabel(format_pixel_size(*current) + (" (set by hand)" if set_by_hand else ""))
        )
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        self.ok_button = buttons.button(QDialogButtonBox.StandardButton.Ok)
        self.ok_button.setText("Set Scale")
        if set_by_hand:
            remove = QPushButton("Remove Hand-Set Scale")
            remove.setToolTip("Go back to the file's own calibration (or none)")
            remove.clicked.connect(self._remove)
            buttons.addButton(remove, QDialogButtonBox.ButtonRole.ResetRole)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        form.addRow(buttons)
        self.length_box.valueChanged.connect(self._update)
        self.unit_box.currentTextChanged.connect(self._update)
        self._update()

    def _remove(self) -> None:
        self.remove_requested = True
        self.accept()

    def result_scale(self) -> tuple[float, str]:
        return pixel_size_from_line(
            self.length_px, self.length_box.value(), self.unit_box.currentText()
        )

    def _update(self) -> None:
        try:
            size, unit = self.result_scale()
        except ValueError as error:
            self.result_label.setText(str(error))
            self.ok_button.setEnabled(False)
            return
        self.ok_button.setEnabled(True)
        self.result_label.setText(format_pixel_size(size, unit))
