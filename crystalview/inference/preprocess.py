"""Turning a raw micrograph into the numbers a model expects, identically for training and use.

Microscope data arrive as 8-bit, 16-bit, 32-bit integers or floats with arbitrary offsets, hot
pixels and NaNs, so a fixed division by 255 is wrong almost everywhere. We stretch between
robust percentiles (estimated on a subsample: the same answer for a fraction of the cost), clip,
optionally take the log first (diffraction: the central beam would otherwise drown every spot),
then apply the model's mean and standard deviation. When both the model and the image know their
pixel size, the image is resampled so that a model input covers the physical area it was trained
on.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from crystalview.core.errors import CrystalViewError
from crystalview.inference.diffraction import (
    PROFILE_TRIM,
    autocorrelation,
    beam_stop_mask,
    fill_masked,
    find_beam_centre,
    find_ring_centre,
    log_polar,
    profile_log_range,
    radial_profile,
    subtract_background,
)
from crystalview.inference.ellipse import fit_ellipse
from crystalview.inference.plan import physical_scale, resampled_shape, scaled_shape
from crystalview.models.manifest import ModelManifest

_SAMPLE_PIXELS = 1 << 20
MAX_RESAMPLED_PIXELS = 400_000_000
TRANSFORM_WORKING_SIDE = 256


def _sample(values: np.ndarray) -> np.ndarray:
    flat = values.reshape(-1)
    step = sample_positions(flat.size)
    sample = flat[::step].astype(np.float64)
    return sample[np.isfinite(sample)]


@dataclass(frozen=True)
class IntensityLevels:
    """The image-wide numbers of `normalize_intensity`: the log floor and the stretch range.

    ``lo``/``hi`` are None for an image without a finite pixel. Computing them once from a
    sample and applying them region by region (`apply_levels`) normalises an image larger than
    memory exactly as the whole image would be.
    """

    floor: float | None
    lo: float | None
    hi: float | None


def sample_positions(n_pixels: int) -> int:
    """The step of the flat subsample the levels are estimated on (every ``step``-th pixel)."""
    return max(1, n_pixels // _SAMPLE_PIXELS)


def intensity_levels(sample: np.ndarray, normalization: dict[str, Any]) -> IntensityLevels:
    """Levels from a float64 sample of finite pixels (see `_sample`)."""
    if sample.size == 0:
        return IntensityLevels(None, None, None)
    floor = None
    if normalization.get("log"):
        floor = float(np.float32(sample.min()))
        sample = np.log1p(np.maximum(sample - floor, 0.0))
    lo, hi = np.percentile(sample, [normalization["low"], normalization["high"]])
    return IntensityLevels(floor, float(lo), float(hi))


def apply_levels(
    image: np.ndarray, levels: IntensityLevels, normalization: dict[str, Any]
) -> np.ndarray:
    """Normalise ``image`` (all of it or one region) with image-wide ``levels``; new float32."""
    data = np.asarray(image)
    if data.dtype.kind not in "uifb":
        raise CrystalViewError(f"cannot classify image data of type {data.dtype}")
    mean, std = float(normalization["mean"]), float(normalization["std"])
    if levels.lo is None or levels.hi is None:  # no finite pixel at all
        return np.full(data.shape, -mean / std, dtype=np.float32)
    out = data.astype(np.float32, copy=True)
    if levels.floor is not None:
        np.subtract(out, np.float32(levels.floor), out=out)
        np.maximum(out, 0, out=out)
        np.log1p(out, out=out)
    span = levels.hi - levels.lo
    if not span > 0:  # flat image: all mid-grey rather than a division by zero
        out.fill(0.5)
    else:
        np.subtract(out, np.float32(levels.lo), out=out)
        np.multiply(out, np.float32(1.0 / span), out=out)
        np.clip(out, 0.0, 1.0, out=out)
    if data.dtype.kind == "f":
        np.nan_to_num(out, copy=False, nan=0.0)
    np.subtract(out, np.float32(mean), out=out)
    np.multiply(out, np.float32(1.0 / std), out=out)
    return out


def normalize_intensity(image: np.ndarray, normalization: dict[str, Any]) -> np.ndarray:
    """Percentile stretch (optionally of the log), clip to 0..1, then ``(x - mean) / std``.

    NaN pixels become the value of the lowest level; infinities clip to 0 or 1. Returns a new
    float32 array; ``image`` is never modified.
    """
    data = np.asarray(image)
    if data.dtype.kind not in "uifb":
        raise CrystalViewError(f"cannot classify image data of type {data.dtype}")
    return apply_levels(data, intensity_levels(_sample(data), normalization), normalization)


def resample(image: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Bilinear resize of a float32 image to ``shape``, antialiased when shrinking."""
    if tuple(image.shape) == tuple(shape):
        return image
    if shape[0] * shape[1] > MAX_RESAMPLED_PIXELS:
        raise CrystalViewError(
            f"resampling to {shape[1]} x {shape[0]} pixels would need too much memory; "
            "check the image's and the model's pixel sizes"
        )
    tensor = torch.from_numpy(np.ascontiguousarray(image, dtype=np.float32))[None, None]
    shrinking = shape[0] < image.shape[0] or shape[1] < image.shape[1]
    with torch.inference_mode():
        out = F.interpolate(
            tensor, size=tuple(shape), mode="bilinear", align_corners=False, antialias=shrinking
        )
    return out[0, 0].numpy()


def prepare_image(
    image2d: np.ndarray,
    manifest: ModelManifest,
    source_pixel_size: float | None = None,
    source_unit: str | None = None,
    zoom: float = 1.0,
) -> np.ndarray:
    """Normalised float32 image at the model's pixel size (times an extra ``zoom``).

    Parameters
    ----------
    source_pixel_size, source_unit
        The image's calibration; resampling happens only when the model has one too.
    zoom
        Extra scale factor, e.g. ``input_size / tile_size`` so that tiles of ``tile_size`` model
        pixels come out at exactly the network's input size.
    """
    if image2d.ndim != 2:
        raise CrystalViewError(f"expected a 2-D image, got shape {image2d.shape}")
    scale = physical_scale(manifest, source_pixel_size, source_unit) * zoom
    normalized = normalize_intensity(image2d, manifest.normalization)
    return resample(normalized, resampled_shape(normalized.shape, scale))


def working_copy(image: np.ndarray, max_side: int = TRANSFORM_WORKING_SIDE) -> np.ndarray:
    """``image`` shrunk (aspect kept) so its longer side is at most ``max_side`` pixels."""
    longest = max(image.shape)
    if longest <= max_side:
        return image
    return resample(image, scaled_shape(image.shape, max_side / longest))


def _stretch(values: np.ndarray, normalization: dict[str, Any]) -> np.ndarray:
    """Percentile stretch to 0..1 then the model's mean/std, as for intensities (no log)."""
    lo, hi = np.percentile(values, [normalization["low"], normalization["high"]])
    span = hi - lo
    out = np.clip((values - lo) / span, 0.0, 1.0) if span > 0 else np.full_like(values, 0.5)
    return ((out - normalization["mean"]) / normalization["std"]).astype(np.float32)


# The transforms whose view is taken about the pattern's centre.
POLAR_TRANSFORMS = ("log_polar", "log_polar_mean")
# The point a log-polar view is taken about, and the beam stop's mask found with it (None for
# the plain log-polar view, which masks nothing).
PolarCentre = tuple[tuple[float, float], np.ndarray | None]


def polar_centre(work: np.ndarray, manifest: ModelManifest) -> PolarCentre:
    """Where `transformed_view` centres a ``"log_polar"`` or ``"log_polar_mean"`` view of
    ``work``: the symmetry centre, or the ring centre with its beam stop. Found once, it can be
    passed to `transformed_view` and to the heat map's inverse, which must use the same point."""
    if manifest.transform == "log_polar_mean":
        return find_ring_centre(work)
    return find_beam_centre(work, log=False), None


def transformed_view(
    work: np.ndarray, manifest: ModelManifest, polar: PolarCentre | None = None
) -> np.ndarray:
    """The model input ``(input_size, input_size)`` of a normalised `working_copy`.

    ``"log_polar"``: the pattern around its beam centre in (angle, log-radius) coordinates;
    ``"log_polar_mean"``: the same with every row replaced by the mean over angles (the
    azimuthally averaged radial profile, far less noisy for ring patterns);
    ``"autocorrelation"``: the autocorrelation of its sharp features, lags up to a quarter of
    the side (a few spot spacings: the net's shape, at twice the resolution of all lags);
    ``"polar_autocorrelation"``: the autocorrelation (all lags up to half the side) in (angle,
    log-lag) coordinates around the zero lag, where a rotation of the pattern is a cyclic shift
    and the net's angles and length ratios are fixed offsets. See
    `crystalview.inference.diffraction`.

    The radial profile and the spot-net views first find a beam stop (`beam_stop_mask`):
    the profile is then a trimmed mean of the pixels the stop leaves visible, about a centre
    found without the stop; the autocorrelation is taken with the stop filled in smoothly from
    its surroundings, so its edges do not read as a spot net. ``polar`` is `polar_centre` of
    ``work`` when the caller already has it.
    """
    size = manifest.input_size
    transform = manifest.transform
    if transform in POLAR_TRANSFORMS:
        centre, mask = polar if polar is not None else polar_centre(work, manifest)
    if transform == "log_polar":
        return log_polar(work, centre, n_angles=size, n_radii=size)
    if transform == "log_polar_mean":  # every row the azimuthal mean: the radial profile
        ellipse = fit_ellipse(work, centre, size, profile_log_range(work.shape), mask)
        profile = radial_profile(
            work, centre, n_radii=size, mask=mask, trim=PROFILE_TRIM, ellipse=ellipse
        )
        return np.repeat(profile[None, :], size, axis=0)
    if transform == "autocorrelation":
        correlation = autocorrelation(subtract_background(work), min(work.shape) // 2)
        return resample(_stretch(correlation, manifest.normalization), (size, size))
    if transform == "polar_autocorrelation":
        correlation = _stretch(autocorrelation(_sharp_features(work)), manifest.normalization)
        zero_lag = (correlation.shape[0] // 2, correlation.shape[1] // 2)
        return log_polar(correlation, zero_lag, n_angles=size, n_radii=size)
    raise CrystalViewError(f"model {manifest.name!r} asks for an unknown transform {transform!r}")


def _sharp_features(work: np.ndarray) -> np.ndarray:
    """Spots and rings without the smooth background, a beam stop filled in and left out."""
    mask = beam_stop_mask(work)
    if not mask.any():
        return subtract_background(work)
    sharp = subtract_background(fill_masked(work, mask))
    sharp[mask] = 0.0
    return sharp


def prepare_whole(image2d: np.ndarray, manifest: ModelManifest) -> np.ndarray:
    """The whole image, normalised, transformed and resized to ``(input_size, input_size)``.

    ``normalization["transform"]`` chooses the view of a diffraction pattern the model reads:
    ``"none"`` the pattern itself, else `transformed_view` of a copy of at most
    `TRANSFORM_WORKING_SIDE` pixels (enough for the model's input, cheap for 4k frames).
    """
    if image2d.ndim != 2:
        raise CrystalViewError(f"expected a 2-D image, got shape {image2d.shape}")
    normalized = normalize_intensity(image2d, manifest.normalization)
    if manifest.transform == "none":
        size = manifest.input_size
        return resample(normalized, (size, size))
    return transformed_view(working_copy(normalized), manifest)
