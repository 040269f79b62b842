"""A scale bar in physical units that keeps a sensible length as the user zooms.

The bar lives in the view box's own (screen) coordinates, anchored bottom-right, and is redrawn
whenever the visible range changes: its length is the largest 1-2-5 x 10^n physical length that
fits in about a fifth of the visible width, so it reads "200 nm" rather than "187.3 nm".
"""

from __future__ import annotations

import math

import pyqtgraph as pg
from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QFont, QFontMetricsF, QPainter, QPen
from PySide6.QtWidgets import QGraphicsObject

from crystalview.core.units import format_length

_TARGET_FRACTION = 0.2
_MARGIN_PX = 14.0
_BAR_HEIGHT_PX = 6.0


def nice_length(max_length: float) -> float:
    """Largest ``1, 2 or 5 x 10^n`` not above ``max_length`` (which must be positive)."""
    if not (math.isfinite(max_length) and max_length > 0):
        raise ValueError(f"length must be positive and finite, got {max_length}")
    exponent = math.floor(math.log10(max_length))
    base = 10.0**exponent
    for step in (5.0, 2.0, 1.0):
        if step * base <= max_length * (1 + 1e-9):
            return step * base
    return base  # pragma: no cover - unreachable, 1 x base always fits


def scale_bar_label(length: float, unit: str) -> str:
    """Text under the bar: ``"200 nm"``, ``"2 µm"`` or ``"5 1/nm"``."""
    return format_length(float(f"{length:.6g}"), reciprocal=unit == "1/nm")


class ScaleBar(QGraphicsObject):
    """Bottom-right scale bar drawn in screen pixels over a `pyqtgraph.ViewBox`.

    Call `set_calibration` with the pixel size and unit of the shown image, or ``None`` to hide it
    (an uncalibrated image gets no bar rather than a made-up one).
    """

    def __init__(self, view_box: pg.ViewBox):
        super().__init__()
        self._view_box = view_box
        self._pixel_size: float | None = None
        self._unit: str | None = None
        self._length_px = 0.0
        self.text = ""
        self._font = QFont()
        self._font.setPointSizeF(10.0)
        self._font.setBold(True)
        self.setParentItem(view_box)
        self.setZValue(1_000_000)
        view_box.sigRangeChanged.connect(self.update_geometry)
        view_box.sigResized.connect(self.update_geometry)
        self.hide()

    def set_calibration(self, pixel_size: float | None, unit: str | None) -> None:
        self._pixel_size, self._unit = pixel_size, unit
        self.update_geometry()

    def update_geometry(self, *_args) -> None:
        """Re-pick the bar length for the current zoom and move to the bottom-right corner."""
        if self._pixel_size is None or self._unit is None:
            self.text = ""
            self.hide()
            return
        (x0, x1), _ = self._view_box.viewRange()
        width_screen = self._view_box.width()
        width_data = x1 - x0
        if width_screen <= 0 or width_data <= 0:
            self.hide()
            return
        screen_per_data_px = width_screen / width_data
        physical = nice_length(width_data * _TARGET_FRACTION * self._pixel_size)
        self.prepareGeometryChange()
        self._length_px = physical / self._pixel_size * screen_per_data_px
        self.text = scale_bar_label(physical, self._unit)
        rect = self.boundingRect()
        self.setPos(
            QPointF(
                width_screen - rect.width() - _MARGIN_PX,
                self._view_box.height() - rect.height() - _MARGIN_PX,
            )
        )
        self.show()
        self.update()

    def boundingRect(self) -> QRectF:
        metrics = QFontMetricsF(self._font)
        width = max(self._length_px, metrics.horizontalAdvance(self.text)) + 12
        return QRectF(0, 0, width, metrics.height() + _BAR_HEIGHT_PX + 12)

    def paint(self, painter: QPainter, _option, _widget=None) -> None:
        rect = self.boundingRect()
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(QColor(0, 0, 0, 150))
        painter.drawRoundedRect(rect, 4, 4)
        bar_x = (rect.width() - self._length_px) / 2
        painter.setBrush(QColor("white"))
        painter.drawRect(QRectF(bar_x, 6, self._length_px, _BAR_HEIGHT_PX))
        painter.setPen(QPen(QColor("white")))
        painter.setFont(self._font)
        text_rect = QRectF(0, 6 + _BAR_HEIGHT_PX, rect.width(), rect.height() - 6 - _BAR_HEIGHT_PX)
        painter.drawText(text_rect, Qt.AlignmentFlag.AlignCenter, self.text)
