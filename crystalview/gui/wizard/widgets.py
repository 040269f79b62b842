"""Small widgets and helpers the wizard's pages share: class swatches, hints, warnings."""

from __future__ import annotations

import html

from PySide6.QtCore import QRect, Qt
from PySide6.QtGui import QColor, QFont, QIcon, QPainter, QPixmap
from PySide6.QtWidgets import QLabel, QWidget

from crystalview.core.labels import LabelClass

WARNING_STYLE = (
    "QLabel { background: #fff4d6; color: #5a4300; border: 1px solid #e0b84a;"
    " border-radius: 4px; padding: 6px; }"
)
ERROR_STYLE = (
    "QLabel { background: #fde2e1; color: #6b1510; border: 1px solid #d9635b;"
    " border-radius: 4px; padding: 6px; }"
)
GOOD_STYLE = (
    "QLabel { background: #e2f4e1; color: #1c4d1a; border: 1px solid #7dbb79;"
    " border-radius: 4px; padding: 6px; }"
)


def class_pixmap(color: str, key: str | None, size: int = 22) -> QPixmap:
    """A rounded square in the class colour with its keyboard key written on it."""
    pixmap = QPixmap(size, size)
    pixmap.fill(Qt.GlobalColor.transparent)
    painter = QPainter(pixmap)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    painter.setPen(Qt.PenStyle.NoPen)
    painter.setBrush(QColor(color))
    painter.drawRoundedRect(QRect(0, 0, size, size), 4, 4)
    if key:
        font = QFont(painter.font())
        font.setBold(True)
        font.setPixelSize(int(size * 0.62))
        painter.setFont(font)
        painter.setPen(QColor("white"))
        painter.drawText(QRect(0, 0, size, size), Qt.AlignmentFlag.AlignCenter, key)
    painter.end()
    return pixmap


def class_icon(label_class: LabelClass, size: int = 22) -> QIcon:
    return QIcon(class_pixmap(label_class.color, label_class.key, size))


def swatch_html(color: str, key: str | None) -> str:
    """Inline HTML of a class swatch with its key, for rich-text labels."""
    text = html.escape(key or " ")
    return (
        f'<span style="background:{color}; color:white; font-weight:bold;">'
        f"&nbsp;{text}&nbsp;</span>"
    )


def message_label(text: str = "", style: str = WARNING_STYLE, parent: QWidget | None = None):
    """A word-wrapped, framed label for warnings and results; hidden while empty."""
    label = QLabel(text, parent)
    label.setWordWrap(True)
    label.setStyleSheet(style)
    label.setTextFormat(Qt.TextFormat.RichText)
    label.setVisible(bool(text))
    return label


def set_message(label: QLabel, text: str, style: str | None = None) -> None:
    """Show ``text`` (rich text) in a `message_label`, hiding it when empty."""
    if style is not None:
        label.setStyleSheet(style)
    label.setText(text)
    label.setVisible(bool(text))
