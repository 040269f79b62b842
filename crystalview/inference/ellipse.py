"""The elliptical distortion of a ring pattern, measured from the rings themselves.

Projector lenses draw a ring of radius r as an ellipse: r(θ) ≈ r (1 + ε cos 2(θ - φ)), with ε of
one to a few per cent on real microscopes. An azimuthal average over such an ellipse smears every
ring over a band 2ε wide in radius, which at 3 % is wider than the split of a pseudo-cubic or
pseudo-hexagonal orthorhombic ring pair: the profile then reads like a higher symmetry. In
log-radius the distortion is a shift of each direction's profile by ``ε cos 2(θ - φ)``, the same
for every ring, so it is measured by cross-correlating the profiles of angular sectors with their
mean and fitting that shift's second harmonic; `radial_profile` then bins each pixel at its
corrected radius. Ring intensities (and spottiness) do not enter: only where the rings are.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage

SECTORS = 16
# Sector profiles: a column counts when its sector holds at least this many pixels.
_MIN_PIXELS = 3
# High-pass width (columns) that leaves the rings and removes the diffuse fall-off.
_BACKGROUND_COLUMNS = 15
_MAX_LAG = 8  # columns, about 10 % in radius at 256 columns
# A sector's shift is used when its profile correlates at least this well with the mean.
_MIN_CORRELATION = 0.3
_MIN_SECTORS = 6
# Distortions beyond this are not ellipticity (a wrong centre, no rings): no correction.
MAX_ELLIPTICITY = 0.08


@dataclass(frozen=True)
class Ellipse:
    """``log r`` of the pattern is ``log r_true + amplitude * cos 2(θ - angle)``.

    ``θ = atan2(y - cy, x - cx)`` in array coordinates (y down), radians; ``amplitude`` is the
    ellipticity ε (fractional change of radius).
    """

    amplitude: float = 0.0
    angle: float = 0.0

    def log_shift(self, theta: np.ndarray) -> np.ndarray:
        return self.amplitude * np.cos(2.0 * (theta - self.angle))


NO_ELLIPSE = Ellipse()


def pixel_polar(
    shape: tuple[int, int], centre: tuple[float, float]
) -> tuple[np.ndarray, np.ndarray]:
    """Radius (px, at least 1e-6) and angle ``atan2(dy, dx)`` of every pixel about ``centre``."""
    yy, xx = np.indices(shape, dtype=np.float32)
    dy, dx = yy - np.float32(centre[0]), xx - np.float32(centre[1])
    return np.maximum(np.hypot(dy, dx), 1e-6), np.arctan2(dy, dx)


def fit_ellipse(
    image: np.ndarray,
    centre: tuple[float, float],
    n_radii: int,
    log_range: tuple[float, float],
    mask: np.ndarray | None = None,
) -> Ellipse:
    """The pattern's ellipticity from the shifts of its sector profiles (two refinements).

    ``log_range`` is the (low, high) log-radius of the profile's columns. Returns `NO_ELLIPSE`
    when too few sectors show rings (a spot pattern, a beam stop over most angles, noise) or the
    fit is not an ellipticity.
    """
    data = np.asarray(image, dtype=np.float32)
    radius, theta = pixel_polar(data.shape, centre)
    log_lo, log_hi = log_range
    scale = n_radii / (log_hi - log_lo)
    column = np.floor((np.log(radius) - log_lo) * scale).astype(np.int64)
    counted = (column >= 0) & (column < n_radii) & np.isfinite(data)
    if mask is not None:
        counted &= ~mask
    sector = (np.floor((theta + np.pi) / (2.0 * np.pi) * SECTORS).astype(np.int64)) % SECTORS
    index = sector[counted] * n_radii + column[counted]
    counts = np.bincount(index, minlength=SECTORS * n_radii).reshape(SECTORS, n_radii)
    sums = np.bincount(index, weights=data[counted], minlength=SECTORS * n_radii)
    with np.errstate(invalid="ignore", divide="ignore"):
        profiles = np.where(counts >= _MIN_PIXELS, sums.reshape(SECTORS, n_radii) / counts, np.nan)
    profiles = _high_pass(profiles)
    sector_angles = -np.pi + (np.arange(SECTORS) + 0.5) * 2.0 * np.pi / SECTORS
    shifts = np.zeros(SECTORS)
    for _ in range(2):
        measured, weights = _sector_shifts(profiles, shifts)
        if np.count_nonzero(weights) < _MIN_SECTORS:
            return NO_ELLIPSE
        ellipse = _fit_second_harmonic(sector_angles, measured / scale, weights)
        if ellipse.amplitude > MAX_ELLIPTICITY:
            return NO_ELLIPSE
        shifts = ellipse.log_shift(sector_angles) * scale
    return ellipse


def _high_pass(profiles: np.ndarray) -> np.ndarray:
    """Each row minus its NaN-aware moving mean over `_BACKGROUND_COLUMNS` (NaN stays NaN)."""
    valid = np.isfinite(profiles)
    size = (1, _BACKGROUND_COLUMNS)
    total = ndimage.uniform_filter(np.where(valid, profiles, 0.0), size, mode="constant")
    count = ndimage.uniform_filter(valid.astype(float), size, mode="constant")
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(valid, profiles - total / count, np.nan)


def _shifted(row: np.ndarray, shift: float) -> np.ndarray:
    """``row`` moved by ``-shift`` columns (linear interpolation, NaN outside)."""
    x = np.arange(row.size, dtype=float)
    valid = np.isfinite(row)
    if valid.sum() < 2:
        return np.full_like(row, np.nan)
    return np.interp(x + shift, x[valid], row[valid], left=np.nan, right=np.nan)


def _sector_shifts(profiles: np.ndarray, current: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each sector's shift (columns) against the mean of all sectors aligned by ``current``."""
    aligned = np.stack([_shifted(row, s) for row, s in zip(profiles, current, strict=True)])
    seen = np.isfinite(aligned)
    reference = np.where(
        seen.any(axis=0),
        np.where(seen, aligned, 0.0).sum(axis=0) / np.maximum(seen.sum(0), 1),
        np.nan,
    )
    lags = np.arange(-_MAX_LAG, _MAX_LAG + 1)
    scores = np.stack([_correlations(profiles, reference, lag) for lag in lags], axis=1)
    shifts, weights = np.zeros(len(profiles)), np.zeros(len(profiles))
    for s, row_scores in enumerate(scores):
        if not np.isfinite(row_scores).any():
            continue
        best = int(np.nanargmax(row_scores))
        if row_scores[best] < _MIN_CORRELATION or best in (0, len(lags) - 1):
            continue
        before, peak, after = row_scores[best - 1], row_scores[best], row_scores[best + 1]
        curvature = before - 2.0 * peak + after
        offset = 0.5 * (before - after) / curvature if curvature < 0 else 0.0
        shifts[s], weights[s] = lags[best] + offset, peak
    return shifts, weights


def _correlations(rows: np.ndarray, reference: np.ndarray, lag: int) -> np.ndarray:
    """Pearson correlation of each ``rows[s, j + lag]`` with ``reference[j]`` over the columns
    both have (NaN where fewer than 20)."""
    if lag >= 0:
        a, b = rows[:, lag:], reference[None, : reference.size - lag]
    else:
        a, b = rows[:, :lag], reference[None, -lag:]
    both = np.isfinite(a) & np.isfinite(b)
    n = both.sum(axis=1)
    a, b = np.where(both, a, 0.0), np.where(both, b, 0.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        a = np.where(both, a - a.sum(1, keepdims=True) / n[:, None], 0.0)
        b = np.where(both, b - b.sum(1, keepdims=True) / n[:, None], 0.0)
        r = (a * b).sum(1) / np.sqrt((a * a).sum(1) * (b * b).sum(1))
    return np.where((n >= 20) & np.isfinite(r), r, np.nan)


def _fit_second_harmonic(angles: np.ndarray, shifts: np.ndarray, weights: np.ndarray) -> Ellipse:
    """Weighted least squares of ``shifts = c + a cos 2θ + b sin 2θ``."""
    design = np.stack([np.ones_like(angles), np.cos(2 * angles), np.sin(2 * angles)], axis=1)
    w = np.sqrt(weights)
    (_, a, b), *_ = np.linalg.lstsq(design * w[:, None], shifts * w, rcond=None)
    return Ellipse(float(np.hypot(a, b)), float(0.5 * np.arctan2(b, a)))
