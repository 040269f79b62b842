"""Export the view as a figure: the image as displayed, overlays, scale bar and colour bar.

The image is rendered from the viewer's own scene (so contrast, colour map, heat maps, class
overlays and measurement lines look exactly as on screen) over the whole image at a chosen
resolution, whatever part of it is zoomed in. A scale bar and a colour bar are then painted
at print size onto the picture.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import (
    QColor,
    QFont,
    QFontMetricsF,
    QImage,
    QLinearGradient,
    QPainter,
    QPen,
)
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QGraphicsItem,
    QWidget,
)

from crystalview.gui.scalebar import nice_length, scale_bar_label
from crystalview.gui.viewer import ImageViewer, color_map

SCALES = (("Native resolution", 1.0), ("2 x", 2.0), ("4 x", 4.0), ("Half", 0.5))
_MAX_SIDE = 16384  # QImage and printers cope; beyond this a figure makes no sense


@dataclass
class ExportOptions:
    scale: float = 1.0
    overlays: bool = True
    scale_bar: bool = True
    colour_bar: bool = False


def render_view(viewer: ImageViewer, options: ExportOptions) -> QImage:
    """The shown frame as the viewer displays it, at ``options.scale`` x its pixel size."""
    data = viewer.frame_data
    if data is None:
        raise ValueError("No image is shown.")
    height, width = data.shape[-2:]
    scale = min(options.scale, _MAX_SIDE / max(width, height))
    out_w, out_h = max(1, round(width * scale)), max(1, round(height * scale))
    font = QFont()
    font.setPixelSize(max(12, round(min(out_w, out_h) / 28)))
    metrics = QFontMetricsF(font)
    bar_margin = round(metrics.horizontalAdvance("-0.000e+00") + font.pixelSize() * 2.5)
    total_w = out_w + (bar_margin if options.colour_bar else 0)
    picture = QImage(total_w, out_h, QImage.Format.Format_ARGB32)
    picture.fill(QColor("#000000"))

    view_box = viewer.view_box
    shown = [
        item
        for name in viewer.layer_names()
        if (item := viewer.layer(name)) is not None and item.isVisible()
    ]
    # Text labels keep their screen size (they ignore the view's scaling), which scene.render
    # cannot reproduce at another resolution: they are painted afterwards at print size.
    labels = [item for item in shown if isinstance(item, pg.TextItem)]
    hidden = shown if not options.overlays else labels
    bar_visible = viewer.scale_bar.isVisible()
    clips = bool(view_box.flags() & QGraphicsItem.GraphicsItemFlag.ItemClipsChildrenToShape)
    painter = QPainter(picture)
    try:
        for item in hidden:
            item.hide()
        viewer.scale_bar.hide()
        view_box.setFlag(QGraphicsItem.GraphicsItemFlag.ItemClipsChildrenToShape, False)
        source = view_box.mapViewToScene(QRectF(0, 0, width, height)).boundingRect()
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, False)
        view_box.scene().render(
            painter, QRectF(0, 0, out_w, out_h), source, Qt.AspectRatioMode.IgnoreAspectRatio
        )
        if options.overlays:
            for label in labels:
                _paint_label(painter, font, label, scale)
        m = viewer.micrograph
        if options.scale_bar and m is not None and m.pixel_size is not None:
            _paint_scale_bar(painter, font, out_w, out_h, width, m.pixel_size, m.pixel_unit)
        if options.colour_bar:
            _paint_colour_bar(painter, font, viewer, QRectF(out_w, 0, bar_margin, out_h))
    finally:
        painter.end()
        view_box.setFlag(QGraphicsItem.GraphicsItemFlag.ItemClipsChildrenToShape, clips)
        for item in hidden:
            item.show()
        viewer.scale_bar.setVisible(bar_visible)
    return picture


def _paint_label(painter: QPainter, font: QFont, label: pg.TextItem, scale: float) -> None:
    """A measurement label: its text in a dark box, above and right of its anchor point."""
    text = label.textItem.toPlainText()
    if not text:
        return
    small = QFont(font)
    small.setPixelSize(max(10, round(font.pixelSize() * 0.7)))
    metrics = QFontMetricsF(small)
    pad = small.pixelSize() * 0.3
    anchor = label.pos() * scale
    box = QRectF(
        anchor.x(),
        anchor.y() - metrics.height() - 2 * pad,
        metrics.horizontalAdvance(text) + 2 * pad,
        metrics.height() + 2 * pad,
    )
    painter.setPen(label.border if isinstance(label.border, QPen) else QPen(Qt.PenStyle.NoPen))
    painter.setBrush(QColor(0, 0, 0, 170))
    painter.drawRect(box)
    painter.setPen(QColor("white"))
    painter.setFont(small)
    painter.drawText(box, Qt.AlignmentFlag.AlignCenter, text)


def _paint_scale_bar(painter, font, out_w, out_h, width_px, pixel_size, unit) -> None:
    physical = nice_length(width_px * 0.2 * pixel_size)
    length = physical / pixel_size * out_w / width_px
    text = scale_bar_label(physical, unit)
    metrics = QFontMetricsF(font)
    pad = font.pixelSize() * 0.6
    bar_h = max(3.0, font.pixelSize() * 0.45)
    box_w = max(length, metrics.horizontalAdvance(text)) + 2 * pad
    box_h = bar_h + metrics.height() + 3 * pad
    box = QRectF(out_w - box_w - pad * 2, out_h - box_h - pad * 2, box_w, box_h)
    painter.setPen(Qt.PenStyle.NoPen)
    painter.setBrush(QColor(0, 0, 0, 170))
    painter.drawRoundedRect(box, pad / 2, pad / 2)
    painter.setBrush(QColor("white"))
    painter.drawRect(QRectF(box.center().x() - length / 2, box.top() + pad, length, bar_h))
    painter.setPen(QColor("white"))
    painter.setFont(font)
    text_box = QRectF(box.left(), box.top() + 2 * pad + bar_h, box.width(), metrics.height())
    painter.drawText(text_box, Qt.AlignmentFlag.AlignCenter, text)


def _paint_colour_bar(painter, font, viewer: ImageViewer, area: QRectF) -> None:
    lo, hi = viewer.levels()
    cmap = color_map(viewer.cmap_box.currentText())
    pad = font.pixelSize() * 0.8
    strip = QRectF(area.left() + pad, area.top() + pad * 2, pad * 1.2, area.height() - pad * 4)
    gradient = QLinearGradient(QPointF(0, strip.bottom()), QPointF(0, strip.top()))
    for t in np.linspace(0.0, 1.0, 16):
        gradient.setColorAt(float(t), cmap.map(float(t), mode="qcolor"))
    painter.setPen(QColor("white"))
    painter.setBrush(gradient)
    painter.drawRect(strip)
    painter.setFont(font)
    metrics = QFontMetricsF(font)
    x = strip.right() + pad * 0.4
    painter.drawText(QPointF(x, strip.top() + metrics.ascent() / 2), f"{hi:.4g}")
    painter.drawText(QPointF(x, strip.bottom() + metrics.ascent() / 2), f"{lo:.4g}")
    if viewer.log_box.isChecked():
        painter.drawText(QPointF(x, strip.center().y()), "log")


class ExportViewDialog(QDialog):
    """Resolution and what to include; the caller asks where to save."""

    def __init__(self, viewer: ImageViewer, parent: QWidget | None = None):
        super().__init__(parent)
        self.setWindowTitle("Export View as PNG")
        height, width = viewer.frame_data.shape[-2:] if viewer.frame_data is not None else (0, 0)
        self.scale_box = QComboBox()
        for name, factor in SCALES:
            self.scale_box.addItem(
                f"{name} ({round(width * factor)} x {round(height * factor)})", factor
            )
        self.overlays_box = QCheckBox("Overlays (heat map, tile classes, measurements)")
        self.overlays_box.setChecked(True)
        calibrated = viewer.micrograph is not None and viewer.micrograph.pixel_size is not None
        self.scale_bar_box = QCheckBox("Scale bar")
        self.scale_bar_box.setChecked(calibrated)
        self.scale_bar_box.setEnabled(calibrated)
        if not calibrated:
            self.scale_bar_box.setToolTip("The image has no scale: use Measure ▸ Set Scale first")
        self.colour_bar_box = QCheckBox("Colour bar")
        self.colour_bar_box.setChecked(viewer.cmap_box.currentText() != "grey")
        form = QFormLayout(self)
        form.addRow("Size:", self.scale_box)
        form.addRow(self.overlays_box)
        form.addRow(self.scale_bar_box)
        form.addRow(self.colour_bar_box)
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Save | QDialogButtonBox.StandardButton.Cancel
        )
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        form.addRow(buttons)

    def options(self) -> ExportOptions:
        return ExportOptions(
            scale=float(self.scale_box.currentData()),
            overlays=self.overlays_box.isChecked(),
            scale_bar=self.scale_bar_box.isChecked() and self.scale_bar_box.isEnabled(),
            colour_bar=self.colour_bar_box.isChecked(),
        )
