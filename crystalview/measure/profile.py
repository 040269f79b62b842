"""Intensity along a line, averaged across a width, as Fiji's line-profile tool does."""

from __future__ import annotations

import csv
import io
import math
from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from crystalview.measure.geometry import Point, segment_length


@dataclass(frozen=True)
class LineProfile:
    """Values sampled along a line.

    ``distance`` runs from 0 at the start in ``unit`` (the image's pixel unit, or pixels when
    ``unit`` is ``None``); ``values`` are the mean of ``width`` parallel samples at each step.
    """

    distance: np.ndarray
    values: np.ndarray
    unit: str | None
    width: float

    def to_csv(self) -> str:
        """Two columns, ``distance_<unit>`` and ``value``, with a header line."""
        name = "distance_px" if self.unit is None else f"distance_{self.unit}"
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow([name, "value"])
        for d, v in zip(self.distance, self.values, strict=True):
            writer.writerow([f"{d:.6g}", f"{v:.6g}"])
        return out.getvalue()


def line_profile(
    image: np.ndarray,
    start: Point,
    end: Point,
    width: float = 1.0,
    pixel_size: float | None = None,
    unit: str | None = None,
    pixel_size_y: float | None = None,
) -> LineProfile:
    """Sample ``image`` from ``start`` to ``end`` (``(x, y)``, pixel centres on integers).

    One sample per pixel of length (bilinear interpolation), each the mean over ``width``
    parallel lines one pixel apart, centred on the drawn line, so a wider line averages noise
    across a lattice fringe or an edge. Samples outside the image are left out of the mean
    (``nan`` when all are outside).
    """
    data = np.asarray(image, dtype=np.float64)
    if data.ndim != 2:
        raise ValueError(f"expected a 2-D image, got shape {data.shape}")
    if not width >= 1:
        raise ValueError(f"width must be at least 1 pixel, got {width}")
    x0, y0 = float(start[0]), float(start[1])
    x1, y1 = float(end[0]), float(end[1])
    length_px = math.hypot(x1 - x0, y1 - y0)
    n = max(2, math.ceil(length_px) + 1)
    t = np.linspace(0.0, 1.0, n)
    xs, ys = x0 + t * (x1 - x0), y0 + t * (y1 - y0)
    if length_px > 0:
        nx, ny = -(y1 - y0) / length_px, (x1 - x0) / length_px  # unit normal
    else:
        nx, ny = 0.0, 0.0
    n_lines = max(1, round(width))
    offsets = np.arange(n_lines) - (n_lines - 1) / 2.0
    sample_x = xs[None, :] + offsets[:, None] * nx
    sample_y = ys[None, :] + offsets[:, None] * ny
    h, w = data.shape
    inside = (sample_x >= -0.5) & (sample_x <= w - 0.5) & (sample_y >= -0.5) & (sample_y <= h - 0.5)
    values = ndimage.map_coordinates(
        np.nan_to_num(data), [sample_y.ravel(), sample_x.ravel()], order=1, mode="nearest"
    ).reshape(sample_x.shape)
    values = np.where(inside, values, np.nan)
    with np.errstate(invalid="ignore"):
        counts = inside.sum(axis=0)
        mean = np.where(counts > 0, np.nansum(values, axis=0) / np.maximum(counts, 1), np.nan)
    total = segment_length(start, end, pixel_size if unit else None, pixel_size_y)
    return LineProfile(distance=t * total, values=mean, unit=unit, width=float(n_lines))
