"""The diffractogram of a real-space region: windowed power spectrum with its 1/nm axis.

An HRTEM lattice image with fringes of spacing ``d`` shows spots at ``|g| = 1/d`` in its
Fourier transform. A Hann window suppresses the streaks the region's hard edges would add, and
a Gaussian (log-parabola) fit through a spot and its neighbours locates it to a small fraction
of a frequency pixel, so ``d`` is read well within 1 % on regions of a few hundred pixels.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Diffractogram:
    """``power`` is log(1 + |FFT|²), zero frequency at ``centre`` = ``(row, col)``.

    ``step_x``/``step_y`` are the frequencies of one spectrum pixel along columns/rows, in 1/nm
    when the image is calibrated in nm, else in cycles per image pixel (``unit`` ``None``).
    """

    power: np.ndarray
    centre: tuple[int, int]
    step_x: float
    step_y: float
    unit: str | None


@dataclass(frozen=True)
class Spot:
    """A point of the diffractogram read as a spatial frequency.

    ``gx``/``gy`` are signed components (``gy`` positive upwards on screen), ``g`` the length,
    ``d = 1/g`` the real-space period, ``angle`` the direction in degrees counter-clockwise
    from +x.
    """

    row: float
    col: float
    gx: float
    gy: float
    g: float
    d: float
    angle: float


def hann_window(shape: tuple[int, int]) -> np.ndarray:
    """Separable 2-D Hann window."""
    return np.outer(np.hanning(shape[0]), np.hanning(shape[1]))


def diffractogram(
    region: np.ndarray, pixel_size: float | None = None, pixel_size_y: float | None = None
) -> Diffractogram:
    """Power spectrum of a real-space ``region`` (mean removed, Hann-windowed, log scale).

    ``pixel_size`` is in nm (a real-space calibration); without it frequencies are in cycles
    per pixel.
    """
    data = np.asarray(region, dtype=np.float64)
    if data.ndim != 2 or min(data.shape) < 8:
        raise ValueError(f"the region must be 2-D and at least 8 x 8 pixels, got {data.shape}")
    data = np.nan_to_num(data, nan=float(np.nanmean(data)) if np.isfinite(data).any() else 0.0)
    windowed = (data - data.mean()) * hann_window(data.shape)
    spectrum = np.fft.fftshift(np.fft.fft2(windowed))
    power = np.log1p(np.abs(spectrum) ** 2).astype(np.float32)
    h, w = data.shape
    sx = pixel_size if pixel_size is not None else 1.0
    sy = pixel_size_y if pixel_size_y is not None else sx
    return Diffractogram(
        power=power,
        centre=(h // 2, w // 2),
        step_x=1.0 / (w * sx),
        step_y=1.0 / (h * sy),
        unit="1/nm" if pixel_size is not None else None,
    )


def _log_parabola_offset(before: float, peak: float, after: float) -> float:
    """Sub-pixel offset of a peak from three log-power samples (a Gaussian's vertex)."""
    curvature = before - 2.0 * peak + after
    if curvature >= 0:
        return 0.0
    return float(np.clip(0.5 * (before - after) / curvature, -0.5, 0.5))


def refine_spot(power: np.ndarray, row: float, col: float, radius: int = 3) -> tuple[float, float]:
    """The brightest pixel within ``radius`` of ``(row, col)``, refined to sub-pixel.

    ``power`` is a log power spectrum (as `diffractogram` returns), where a Hann-windowed spot
    is close to a parabola, so a three-point fit along each axis finds its centre.
    """
    h, w = power.shape
    r0, c0 = round(row), round(col)
    top, bottom = max(0, r0 - radius), min(h, r0 + radius + 1)
    left, right = max(0, c0 - radius), min(w, c0 + radius + 1)
    if top >= bottom or left >= right:
        return float(row), float(col)
    window = power[top:bottom, left:right]
    iy, ix = np.unravel_index(int(np.argmax(window)), window.shape)
    pr, pc = top + int(iy), left + int(ix)
    dr = dc = 0.0
    if 0 < pr < h - 1:
        dr = _log_parabola_offset(power[pr - 1, pc], power[pr, pc], power[pr + 1, pc])
    if 0 < pc < w - 1:
        dc = _log_parabola_offset(power[pr, pc - 1], power[pr, pc], power[pr, pc + 1])
    return pr + dr, pc + dc


def read_spot(gram: Diffractogram, row: float, col: float) -> Spot:
    """|g|, d and direction of the spectrum position ``(row, col)``."""
    gx = (col - gram.centre[1]) * gram.step_x
    gy = -(row - gram.centre[0]) * gram.step_y
    g = math.hypot(gx, gy)
    d = 1.0 / g if g > 0 else math.inf
    return Spot(row, col, gx, gy, g, d, math.degrees(math.atan2(gy, gx)))


def angle_between_spots(first: Spot, second: Spot) -> float:
    """Angle between two reciprocal vectors, degrees in [0, 180] (``nan`` at the centre)."""
    if first.g == 0 or second.g == 0:
        return math.nan
    cross = first.gx * second.gy - first.gy * second.gx
    dot = first.gx * second.gx + first.gy * second.gy
    return abs(math.degrees(math.atan2(cross, dot)))


def strongest_spots(
    gram: Diffractogram, count: int = 6, min_radius: int = 3, separation: int = 3
) -> list[Spot]:
    """The ``count`` brightest local maxima away from the centre, one of each Friedel pair.

    A real image's spectrum is centrosymmetric, so only spots in the upper half-plane (and the
    positive half of the horizontal axis) are returned.
    """
    from scipy import ndimage

    power = gram.power
    peaks = power == ndimage.maximum_filter(power, size=2 * separation + 1)
    rows, cols = np.indices(power.shape)
    dr, dc = rows - gram.centre[0], cols - gram.centre[1]
    far = np.hypot(dr, dc) >= min_radius
    upper = (dr < 0) | ((dr == 0) & (dc > 0))
    border = (rows > 0) & (rows < power.shape[0] - 1) & (cols > 0) & (cols < power.shape[1] - 1)
    candidates = np.flatnonzero(peaks & far & upper & border)
    order = candidates[np.argsort(power.ravel()[candidates])[::-1]][:count]
    spots = []
    for index in order:
        r, c = np.unravel_index(int(index), power.shape)
        spots.append(read_spot(gram, *refine_spot(power, r, c, radius=1)))
    return spots
