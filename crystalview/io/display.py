"""Contrast for display: robust levels and the mapping of an image to 0..1 for the screen.

Display is a *view* setting: these functions never modify the array they are given. Levels are
percentiles of the finite pixels only, so NaN/Inf in float data (dead pixels, divide-by-zero in a
processed image) neither break the view nor squash the contrast. Diffraction patterns span many
decades between the central beam and the weak reflections, so they are shown on a log scale.
"""

from __future__ import annotations

import numpy as np

from crystalview.core.micrograph import Modality

# Percentiles used for ordinary images and, after the log transform, for diffraction.
DEFAULT_PERCENTILES = (0.5, 99.5)
# Levels are estimated on at most this many pixels: percentiles of a regular subsample of a
# 16k x 16k image match the full ones to well under a grey level, at a fraction of the cost.
_MAX_LEVEL_SAMPLES = 1_000_000


def _as_is_diffraction(modality_or_flag: Modality | str | bool | None) -> bool:
    if isinstance(modality_or_flag, bool):
        return modality_or_flag
    if modality_or_flag is None:
        return False
    return str(modality_or_flag) == str(Modality.SAED)


def _grey_view(image: np.ndarray) -> np.ndarray:
    """Real-valued 2-D view of ``image``: magnitude for complex data (an FFT)."""
    array = np.asarray(image)
    if np.iscomplexobj(array):
        array = np.abs(array)
    if array.dtype == np.bool_:
        array = array.astype(np.uint8)
    return array


def _sample(array: np.ndarray) -> np.ndarray:
    """A regular subsample with at most ``_MAX_LEVEL_SAMPLES`` values (no copy of big data)."""
    if array.size <= _MAX_LEVEL_SAMPLES:
        return array.ravel()
    step = int(np.ceil(np.sqrt(array.size / _MAX_LEVEL_SAMPLES)))
    if array.ndim >= 2:
        return array[..., ::step, ::step].ravel()
    return array.ravel()[:: step * step]


def auto_levels(
    image: np.ndarray,
    modality: Modality | str | bool | None = None,
    percentiles: tuple[float, float] = DEFAULT_PERCENTILES,
) -> tuple[float, float]:
    """Robust display levels ``(lo, hi)`` in the image's own value units.

    Parameters
    ----------
    image
        Any 2-D (or N-D) numeric array; non-finite values are ignored.
    modality
        A `Modality`, its string, or a bool ``is_diffraction``. For diffraction the percentiles are
        taken on ``log1p`` of the data and mapped back, so the weak reflections keep contrast
        while the levels stay in data units (the GUI's histogram shows data values).
    percentiles
        Lower and upper percentile of the finite pixels.

    Returns
    -------
    (lo, hi)
        With ``hi > lo`` always (a flat image gets ``hi = lo + 1``), so callers may divide.
    """
    array = _sample(_grey_view(image))
    values = array[np.isfinite(array)] if array.dtype.kind == "f" else array
    if values.size == 0:
        return 0.0, 1.0
    low_pct, high_pct = percentiles
    if _as_is_diffraction(modality):
        offset = float(values.min())
        logged = np.log1p(values.astype(np.float64) - offset)
        lo_log, hi_log = np.percentile(logged, [low_pct, high_pct])
        lo, hi = float(np.expm1(lo_log) + offset), float(np.expm1(hi_log) + offset)
    else:
        lo, hi = (float(v) for v in np.percentile(values, [low_pct, high_pct]))
    if not hi > lo:
        # Mostly flat image (a blank frame, a binary mask): fall back to the full finite range.
        lo, hi = float(values.min()), float(values.max())
    if not hi > lo:
        hi = lo + 1.0
    return lo, hi


def to_display(
    image: np.ndarray,
    levels: tuple[float, float] | None = None,
    log: bool = False,
) -> np.ndarray:
    """Map ``image`` to float32 in 0..1 for the screen (a new array; the input is untouched).

    Parameters
    ----------
    image
        Numeric array (complex data are shown as magnitude).
    levels
        ``(lo, hi)`` in data units, e.g. from `auto_levels`; computed when ``None``.
    log
        Use a logarithmic ramp between the levels (diffraction). Pass the same ``log`` value to
        `auto_levels` (``modality=True``) to get matching levels.

    Returns
    -------
    numpy.ndarray
        float32, same shape, values in 0..1; NaN shows as 0 (black), +Inf as 1, -Inf as 0.
    """
    array = _grey_view(image)
    if levels is None:
        levels = auto_levels(array, log)
    lo, hi = float(levels[0]), float(levels[1])
    if not hi > lo:
        hi = lo + 1.0
    values = array.astype(np.float64, copy=True)
    with np.errstate(invalid="ignore", over="ignore", divide="ignore"):
        if log:
            scaled = np.log1p(np.clip(values, lo, hi) - lo) / np.log1p(hi - lo)
        else:
            scaled = (values - lo) / (hi - lo)
    scaled = np.nan_to_num(scaled, nan=0.0, posinf=1.0, neginf=0.0)
    return np.clip(scaled, 0.0, 1.0).astype(np.float32)
