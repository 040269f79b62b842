"""Reading a diffraction pattern about its beam centre: |g|, d and the azimuthal profile.

The beam centre itself comes from `crystalview.inference.diffraction.measuring_centre` (the
viewer and the CLI call it and pass it in).
The profile here is the plain azimuthal mean in one-pixel radial bins, linear in |g| as a
crystallographer plots it; ring radii are refined to a fraction of a bin with a parabola
through each peak, so d-spacings are read within 1 % of the camera's calibration.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import signal


@dataclass(frozen=True)
class RadialProfile:
    """Mean intensity against distance from the beam centre.

    ``radius`` (pixels) and ``g`` (1/nm, ``None`` without a calibration) are bin centres;
    ``counts`` is how many pixels each bin averages (0 where no pixel fell) and ``errors`` the
    standard error of each mean (the pixels' spread over the square root of their count).
    """

    radius: np.ndarray
    values: np.ndarray
    counts: np.ndarray
    pixel_size: float | None
    errors: np.ndarray | None = None

    @property
    def g(self) -> np.ndarray | None:
        return None if self.pixel_size is None else self.radius * self.pixel_size


@dataclass(frozen=True)
class Ring:
    """A peak of the radial profile: radius in pixels, |g| in 1/nm and d = 1/|g| in nm."""

    radius: float
    g: float | None
    d: float | None
    prominence: float


def azimuthal_profile(
    image: np.ndarray,
    centre: tuple[float, float],
    pixel_size: float | None = None,
    bin_width: float = 1.0,
    mask: np.ndarray | None = None,
) -> RadialProfile:
    """Azimuthal mean of ``image`` about ``centre`` = ``(row, col)``, in ``bin_width`` px bins.

    Every pixel counts once in the bin of its centre's distance; non-finite pixels and those
    where ``mask`` is False (a beam stop, a dead column) are left out. ``pixel_size`` is the
    reciprocal calibration in 1/nm per pixel.
    """
    data = np.asarray(image, dtype=np.float64)
    if data.ndim != 2:
        raise ValueError(f"expected a 2-D pattern, got shape {data.shape}")
    if not bin_width > 0:
        raise ValueError("bin_width must be positive")
    rows, cols = np.indices(data.shape)
    radius = np.hypot(rows - centre[0], cols - centre[1])
    used = np.isfinite(data)
    if mask is not None:
        used &= np.asarray(mask, dtype=bool)
    index = np.floor(radius[used] / bin_width).astype(np.int64)
    n_bins = int(index.max()) + 1 if index.size else 0
    counts = np.bincount(index, minlength=n_bins)
    sums = np.bincount(index, weights=data[used], minlength=n_bins)
    squares = np.bincount(index, weights=data[used] ** 2, minlength=n_bins)
    with np.errstate(invalid="ignore", divide="ignore"):
        n = np.maximum(counts, 1)
        values = np.where(counts > 0, sums / n, np.nan)
        variance = np.maximum(squares / n - values**2, 0.0) * n / np.maximum(n - 1, 1)
        errors = np.where(counts > 1, np.sqrt(variance / n), np.nan)
    centres = (np.arange(n_bins) + 0.5) * bin_width
    return RadialProfile(centres, values, counts, pixel_size, errors)


def _parabola_offset(before: float, peak: float, after: float) -> float:
    curvature = before - 2.0 * peak + after
    if curvature >= 0:
        return 0.0
    return float(np.clip(0.5 * (before - after) / curvature, -0.5, 0.5))


def find_rings(
    profile: RadialProfile,
    min_radius: float = 4.0,
    min_coverage: float = 0.25,
    prominence: float = 0.03,
    significance: float = 5.0,
    max_rings: int = 12,
) -> list[Ring]:
    """Peaks of the radial profile (rings or shells of spots), innermost first.

    Peaks are found on ``log1p`` of the profile above its minimum, so weak outer rings on the
    steep diffuse fall-off around the direct beam count as well as strong inner ones;
    ``prominence`` is a fraction of that log profile's range; a peak must also stand
    ``significance`` standard errors of its bin's mean above its surroundings, so the noise of
    a flat or falling profile is not read as rings. Bins nearer than ``min_radius``
    pixels (the direct beam) or covering less than ``min_coverage`` of their circle (the
    corners, where noise on a few pixels would pass for rings) are ignored. The ``max_rings``
    most prominent are kept.
    """
    values = profile.values
    bin_width = float(profile.radius[1] - profile.radius[0]) if profile.radius.size > 1 else 1.0
    full_circle = 2 * np.pi * profile.radius * bin_width  # pixels in a whole annulus
    valid = (
        (profile.counts >= min_coverage * full_circle)
        & np.isfinite(values)
        & (profile.radius >= min_radius)
    )
    if valid.sum() < 5:
        return []
    first, last = np.flatnonzero(valid)[[0, -1]]
    segment = values[first : last + 1].copy()
    holes = ~np.isfinite(segment)
    if holes.any():  # a masked bin in the middle: bridge it so it does not split a ring
        idx = np.arange(segment.size)
        segment[holes] = np.interp(idx[holes], idx[~holes], segment[~holes])
    log = np.log1p(segment - segment.min())
    span = float(log.max() - log.min())
    if span <= 0:
        return []
    peaks, props = signal.find_peaks(log, prominence=prominence * span)
    if profile.errors is not None and peaks.size:
        errors = np.nan_to_num(profile.errors[first : last + 1][peaks], nan=0.0)
        log_errors = errors / (1.0 + segment[peaks] - segment.min())  # d log1p(v) = dv / (1 + v)
        keep = props["prominences"] >= significance * np.sqrt(2.0) * log_errors
        peaks = peaks[keep]
        props = {key: value[keep] for key, value in props.items()}
    order = np.argsort(props["prominences"])[::-1][:max_rings]
    rings = []
    for k in sorted(order, key=lambda i: peaks[i]):
        p = int(peaks[k])
        offset = 0.0
        if 0 < p < segment.size - 1:
            offset = _parabola_offset(segment[p - 1], segment[p], segment[p + 1])
        radius = float(profile.radius[first + p] + offset * bin_width)
        g = radius * profile.pixel_size if profile.pixel_size is not None else None
        d = 1.0 / g if g else None
        rings.append(Ring(radius, g, d, float(props["prominences"][k] / span)))
    return rings


def beam_stop_threshold(image: np.ndarray) -> float:
    """A default level below which pixels are taken as beam-stop shadow: halfway from the
    darkest pixel to the median.

    A beam stop (or its arm) is the darkest thing on a pattern, well below the diffuse
    background that fills most of the frame, whatever the detector's offset (dark-subtracted
    frames go negative). The user can change the level; it only excludes pixels from the radial
    profile, never from the image.
    """
    finite = np.asarray(image, dtype=np.float64)
    finite = finite[np.isfinite(finite)]
    if not finite.size:
        return 0.0
    darkest, median = float(finite.min()), float(np.median(finite))
    return darkest + 0.5 * (median - darkest)


def reciprocal_position(
    x: float, y: float, centre: tuple[float, float], pixel_size: float | None
) -> tuple[float, float | None, float | None]:
    """Distance of ``(x, y)`` from the beam ``centre`` (row, col): pixels, |g| (1/nm), d (nm)."""
    radius = math.hypot(x - centre[1], y - centre[0])
    if pixel_size is None:
        return radius, None, None
    g = radius * pixel_size
    return radius, g, (1.0 / g if g > 0 else None)
