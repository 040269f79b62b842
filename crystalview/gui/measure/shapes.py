"""The measurement shapes drawn on the image: a line, an angle, a square FFT region.

Each shape wraps a pyqtgraph ROI (draggable handles, movable as a whole) living in image
coordinates, plus a text label, and reports its geometry in array coordinates (pixel centres
on integers, as `crystalview.measure` expects: the image item's pixel ``i`` spans
``[i, i + 1]``, so 0.5 is subtracted).
"""

from __future__ import annotations

import math

import pyqtgraph as pg
from PySide6.QtCore import QPointF, QRectF
from PySide6.QtGui import QColor

LINE_COLOUR = "#ffd400"
ANGLE_COLOUR = "#39e0ff"
FFT_COLOUR = "#7dff6b"


def label_item(colour: str) -> pg.TextItem:
    item = pg.TextItem("", color="w", fill=pg.mkBrush(0, 0, 0, 170), anchor=(0, 1))
    item.setZValue(60)
    border = QColor(colour)
    item.border = pg.mkPen(border)
    return item


def _to_array(point: QPointF) -> tuple[float, float]:
    return point.x() - 0.5, point.y() - 0.5


class LineShape:
    """A two-handle line segment."""

    def __init__(self, start: QPointF, end: QPointF, colour: str = LINE_COLOUR):
        self.roi = pg.LineSegmentROI([start, end], pen=pg.mkPen(colour, width=2))
        self.roi.setZValue(50)
        self.label = label_item(colour)

    def set_end(self, point: QPointF, finish: bool = False) -> None:
        handle = self.roi.getHandles()[1]
        self.roi.movePoint(handle, point, finish=finish, coords="parent")

    def points(self) -> tuple[QPointF, QPointF]:
        a, b = (self.roi.mapToParent(h.pos()) for h in self.roi.getHandles())
        return a, b

    def endpoints(self) -> tuple[tuple[float, float], tuple[float, float]]:
        """Start and end in array coordinates."""
        a, b = self.points()
        return _to_array(a), _to_array(b)

    def place_label(self, text: str) -> None:
        self.label.setText(text)
        self.label.setPos(self.points()[1])


class AngleShape:
    """Two arms from one vertex: points are (first end, vertex, second end)."""

    def __init__(self, vertex: QPointF, end: QPointF, colour: str = ANGLE_COLOUR):
        self.roi = pg.PolyLineROI(
            [end, vertex, self._second_arm(vertex, end)],
            closed=False,
            pen=pg.mkPen(colour, width=2),
        )
        self.roi.setZValue(50)
        self.label = label_item(colour)

    @staticmethod
    def _second_arm(vertex: QPointF, end: QPointF) -> QPointF:
        """The second arm starts at 60° to the first, the same length (the user then moves it)."""
        dx, dy = end.x() - vertex.x(), end.y() - vertex.y()
        if math.hypot(dx, dy) < 1e-9:
            dx, dy = 20.0, 0.0
        c, s = math.cos(math.radians(-60)), math.sin(math.radians(-60))
        return QPointF(vertex.x() + c * dx - s * dy, vertex.y() + s * dx + c * dy)

    def set_first_end(self, point: QPointF, finish: bool = False) -> None:
        """While drawing: move the first arm's end and keep the second at 60° to it."""
        handles = self.roi.getHandles()
        vertex = self.roi.mapToParent(handles[1].pos())
        self.roi.movePoint(handles[0], point, finish=False, coords="parent")
        second = self._second_arm(vertex, point)
        self.roi.movePoint(handles[2], second, finish=finish, coords="parent")

    def points(self) -> list[QPointF]:
        return [self.roi.mapToParent(h.pos()) for h in self.roi.getHandles()]

    def arms(self) -> tuple[tuple[float, float], tuple[float, float], tuple[float, float]]:
        """Vertex, first end, second end in array coordinates."""
        first, vertex, second = self.points()
        return _to_array(vertex), _to_array(first), _to_array(second)

    def place_label(self, text: str) -> None:
        self.label.setText(text)
        self.label.setPos(self.points()[1])


class SquareRegion:
    """A square region that keeps inside the image; resized from its corner, aspect locked."""

    def __init__(self, x: float, y: float, size: float, bounds: QRectF, colour: str = FFT_COLOUR):
        self.roi = pg.ROI(
            [x, y], [size, size], pen=pg.mkPen(colour, width=2), maxBounds=bounds, snapSize=1
        )
        self.roi.addScaleHandle([1, 1], [0, 0], lockAspect=True)
        self.roi.addScaleHandle([0, 0], [1, 1], lockAspect=True)
        self.roi.setZValue(50)
        self.label = label_item(colour)

    def bounds(self) -> tuple[int, int, int, int]:
        """``(top, left, size_rows, size_cols)`` in whole pixels."""
        pos, size = self.roi.pos(), self.roi.size()
        left, top = round(pos.x()), round(pos.y())
        side = round(min(size.x(), size.y()))
        return top, left, side, side

    def place_label(self, text: str) -> None:
        self.label.setText(text)
        pos = self.roi.pos()
        self.label.setPos(pos)
