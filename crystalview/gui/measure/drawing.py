"""An invisible surface over the image that turns left-drags into tool gestures.

While a drawing tool is active the surface is shown and takes left-button drags (start, move,
finish, in image coordinates); otherwise it is hidden and the view pans and zooms as usual.
Right-drags and the wheel always reach the view box, so zooming works while drawing.
"""

from __future__ import annotations

from collections.abc import Callable

import pyqtgraph as pg
from PySide6.QtCore import QPointF, QRectF, Qt

DragHandler = Callable[[str, QPointF], None]
"""Called with ``"start"``, ``"move"`` or ``"finish"`` and the point in image coordinates."""


class DrawSurface(pg.GraphicsObject):
    """Covers the image; forwards left-drags to ``handler`` while one is set."""

    def __init__(self):
        super().__init__()
        self._rect = QRectF(0, 0, 1, 1)
        self.handler: DragHandler | None = None
        self.setCursor(Qt.CursorShape.CrossCursor)
        self.hide()

    def set_image_size(self, width: int, height: int) -> None:
        self.prepareGeometryChange()
        # a margin so a line can start right at the image's edge
        self._rect = QRectF(-0.1 * width, -0.1 * height, 1.2 * width, 1.2 * height)

    def set_handler(self, handler: DragHandler | None) -> None:
        self.handler = handler
        self.setVisible(handler is not None)

    def boundingRect(self) -> QRectF:
        return self._rect

    def paint(self, *_args) -> None:  # nothing to draw: the surface only listens
        return

    def mouseDragEvent(self, event) -> None:
        if self.handler is None or event.button() != Qt.MouseButton.LeftButton:
            event.ignore()
            return
        event.accept()
        if event.isStart():
            self.handler("start", self.mapToParent(event.buttonDownPos()))
        self.handler("finish" if event.isFinish() else "move", self.mapToParent(event.pos()))
