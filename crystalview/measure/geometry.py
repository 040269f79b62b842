"""Lengths and angles of segments drawn on an image, in pixels and physical units."""

from __future__ import annotations

import math
from collections.abc import Sequence

from crystalview.core.micrograph import RECIPROCAL_UNIT
from crystalview.core.units import format_length

Point = Sequence[float]


def _scales(pixel_size: float | None, pixel_size_y: float | None) -> tuple[float, float]:
    if pixel_size is None:
        return 1.0, 1.0
    return pixel_size, pixel_size_y if pixel_size_y is not None else pixel_size


def segment_length(
    start: Point, end: Point, pixel_size: float | None = None, pixel_size_y: float | None = None
) -> float:
    """Length from ``start`` to ``end`` (``(x, y)`` pixels) in the pixel-size unit, or pixels.

    ``pixel_size_y`` is the row spacing when it differs from the column spacing.
    """
    sx, sy = _scales(pixel_size, pixel_size_y)
    return math.hypot((end[0] - start[0]) * sx, (end[1] - start[1]) * sy)


def segment_angle(
    start: Point, end: Point, pixel_size: float | None = None, pixel_size_y: float | None = None
) -> float:
    """Direction of ``start -> end`` in degrees, counter-clockwise from +x as seen on screen.

    Image rows grow downwards, so a segment drawn up and to the right reads +45°. The range is
    (-180, 180].
    """
    sx, sy = _scales(pixel_size, pixel_size_y)
    angle = math.degrees(math.atan2(-(end[1] - start[1]) * sy, (end[0] - start[0]) * sx))
    return 180.0 if angle == -180.0 else angle + 0.0  # + 0.0: no "-0.0°" for a level line


def angle_between(
    vertex: Point,
    first: Point,
    second: Point,
    pixel_size: float | None = None,
    pixel_size_y: float | None = None,
) -> float:
    """Angle at ``vertex`` between the arms to ``first`` and ``second``, in degrees [0, 180].

    Returns ``nan`` when an arm has zero length.
    """
    sx, sy = _scales(pixel_size, pixel_size_y)
    ax, ay = (first[0] - vertex[0]) * sx, (first[1] - vertex[1]) * sy
    bx, by = (second[0] - vertex[0]) * sx, (second[1] - vertex[1]) * sy
    if math.hypot(ax, ay) == 0 or math.hypot(bx, by) == 0:
        return math.nan
    return abs(math.degrees(math.atan2(ax * by - ay * bx, ax * bx + ay * by)))


def format_distance(length: float, unit: str | None, digits: int = 4) -> str:
    """``"12.35 nm"``, ``"2.1 1/nm"`` or, without a calibration, ``"143.2 px"``."""
    if unit is None:
        return f"{length:.1f} px"
    return format_length(length, reciprocal=unit == RECIPROCAL_UNIT, digits=digits)


def format_d_spacing(g: float, digits: int = 4) -> str:
    """The real-space period ``d = 1/|g|`` of a spatial frequency ``g`` (1/nm) for people.

    Below 1 nm, lattice spacings are read in ångström as well: ``"0.3905 nm (3.905 Å)"``.
    """
    if not (g > 0 and math.isfinite(g)):
        return "—"
    d = 1.0 / g
    text = format_length(d, digits=digits)
    if d < 1.0:
        text = f"{d:.{digits}g} nm ({d * 10:.{digits}g} Å)"
    return text
