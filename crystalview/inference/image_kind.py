"""A cheap look at an image before a model answers: is it the kind of image the model reads?

A model answers whatever it is given, so a constant dummy frame, a detector's noise, an SEM
micrograph or a spot pattern fed to a ring-pattern model all get a confident-looking class. A
few numbers computed on a small log-scaled copy (a few milliseconds) tell those apart:

- ``contrast``: a frame whose robust intensity range is zero (or that holds a couple of values)
  is blank;
- ``radial_fraction``: the share of the image's variance explained by its azimuthal mean about
  the centre of inversion symmetry. Diffraction patterns are organised around the direct beam
  (rings, the fall-off of the diffuse background), real-space images are not; pure noise
  gives about ``radii / pixels``;
- ``central_excess``: how much brighter, in standard deviations, the log intensity is near the
  centre than far from it: the direct beam and the diffuse background of every diffraction
  pattern (a beam stop hides only the middle, which is skipped);
- ``sharp_radial_fraction``: the same radial share after the smooth background is removed:
  rings keep it (they are sharp *and* azimuthally uniform), spots lose it (they are sharp but
  sit at a few angles);
- ``symmetry``: the normalised correlation of the pattern with its 180°-rotated self (Friedel's
  law), high for diffraction patterns and for periodic lattice images alike, so used only as a
  supporting cue;
- ``sector_coherence``: how alike the radial profiles of eight angular sectors are (a ring is
  the same at every angle; noise and real-space images are not);
- ``sharp_symmetry`` and ``sharp_sparsity``: Friedel symmetry of the sharp features and the
  share of their energy in the brightest 2 % of pixels (spots are few and paired).

A noise rule (radial share within 3 x that of pure noise and almost no smooth variance), then
two small logistic models on these measures, say diffraction or not and rings or spots; the
coefficients were fitted by ``benchmarks/image_kind/fit_detector.py`` on `crystalview.sim`
patterns against the generated wrong-kind images of ``tests/inference/wrong_kind.py``.
Measured on a fresh seed: about 3 % of simulated patterns read as not diffraction at the
threshold used, 85-90 % of the generated wrong-kind images caught (particles and smooth
textures are the hardest); the rings-or-spots model only decides when it is sure (about 1 % of
ring patterns called spots, 30 % of spot patterns recognised as spots). The file's own
modality (``SEM``, ``TEM`` … from its metadata) is a further cue, applied by
`crystalview.inference.status`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from crystalview.inference.diffraction import (
    _symmetry_correlation,
    find_beam_centre,
    subtract_background,
)

WORKING_SIDE = 128
MIN_SIDE = 16


@dataclass(frozen=True)
class ImageKind:
    """The measures of `measure_image_kind` and what they say.

    ``kind`` is one of ``"blank"``, ``"noise"``, ``"real-space"``, ``"rings"``, ``"spots"``,
    ``"diffraction"`` (diffraction-like but neither clearly rings nor spots) or ``"tiny"``.
    """

    kind: str
    reason: str
    contrast: float = 0.0
    radial_fraction: float = 0.0
    sharp_radial_fraction: float = 0.0
    central_excess: float = 0.0
    symmetry: float = 0.0
    noise_floor: float = 0.0
    centre_offset: float = 0.0
    smooth_share: float = 0.0
    sector_coherence: float = 0.0
    sharp_symmetry: float = 0.0
    sharp_sparsity: float = 0.0
    diffraction_score: float = 0.0
    ring_score: float = 0.0

    @property
    def is_diffraction(self) -> bool:
        return self.kind in ("rings", "spots", "diffraction")


def _log_stretch(image: np.ndarray) -> np.ndarray | None:
    """Log of the image above its 0.5 % level, stretched to 0..1; None when it is flat."""
    data = np.asarray(image, dtype=np.float64)
    finite = np.isfinite(data)
    if finite.sum() < MIN_SIDE * MIN_SIDE // 4:
        return None
    values = data[finite]
    lo, hi = np.percentile(values, [0.5, 99.5])
    if not hi > lo or np.unique(values[:: max(1, values.size // 100_000)]).size < 4:
        return None
    data = np.where(finite, data, lo)
    logged = np.log1p(np.maximum(data - lo, 0.0))
    top = np.log1p(hi - lo)
    return np.clip(logged / top, 0.0, 1.0)


def _shrink(image: np.ndarray, side: int) -> np.ndarray:
    """Block-mean the image so that its longer side is at most about ``side`` pixels."""
    factor = int(np.ceil(max(image.shape) / side))
    if factor <= 1:
        return image
    h, w = image.shape[0] // factor * factor, image.shape[1] // factor * factor
    return image[:h, :w].reshape(h // factor, factor, w // factor, factor).mean(axis=(1, 3))


def _radial_share(values: np.ndarray, bins: np.ndarray) -> float:
    """Share of the variance of ``values`` explained by their means in radial ``bins``."""
    centred = values - values.mean()
    total = float((centred**2).mean())
    if total <= 0:
        return 0.0
    counts = np.bincount(bins.ravel())
    means = np.bincount(bins.ravel(), centred.ravel()) / np.maximum(counts, 1)
    return float((means[bins] ** 2).mean() / total)


SECTORS = 8


def _sector_coherence(work: np.ndarray, radius: np.ndarray, angle: np.ndarray) -> float:
    """Mean correlation between the radial profiles of `SECTORS` angular sectors.

    The profiles are of the image minus a 4 px blur (rings, spots, not the smooth fall-off).
    A ring is the same at every angle: its sectors' profiles agree (near 1); noise and
    real-space images give sectors that do not (near 0).
    """
    detail = work - ndimage.gaussian_filter(work, 4.0)
    r_max = int(min(work.shape) / 2)
    bins = radius.astype(np.int64)
    sector = ((angle + np.pi) / (2 * np.pi) * SECTORS).astype(np.int64) % SECTORS
    inside = (bins >= 3) & (bins < r_max)
    profiles = []
    for k in range(SECTORS):
        chosen = inside & (sector == k)
        counts = np.bincount(bins[chosen], minlength=r_max)[3:r_max]
        sums = np.bincount(bins[chosen], detail[chosen], minlength=r_max)[3:r_max]
        profiles.append(sums / np.maximum(counts, 1))
    p = np.array(profiles)
    p -= p.mean(axis=1, keepdims=True)
    norms = np.maximum(np.linalg.norm(p, axis=1), 1e-12)
    correlation = (p @ p.T) / np.outer(norms, norms)
    return float((correlation.sum() - SECTORS) / (SECTORS * (SECTORS - 1)))


def measure_image_kind(image: np.ndarray) -> ImageKind:
    """Measure a 2-D image and say which kind it looks like (see the module docstring)."""
    data = np.asarray(image)
    if data.ndim != 2 or min(data.shape) < MIN_SIDE:
        return ImageKind("tiny", f"image of {data.shape} pixels is too small to judge")
    stretched = _log_stretch(_shrink(data.astype(np.float64), 4 * WORKING_SIDE))
    if stretched is None:
        return ImageKind("blank", "blank frame: every pixel has (nearly) the same value")
    work = _shrink(stretched, WORKING_SIDE)
    contrast = float(work.std())
    centre = find_beam_centre(work, log=False)
    yy, xx = np.indices(work.shape)
    radius = np.hypot(yy - centre[0], xx - centre[1])
    bins = radius.astype(np.int64)
    radial = _radial_share(work, bins)
    noise_floor = float(bins.max() + 1) / work.size
    sharp = _radial_share(subtract_background(work), bins)
    r_max = min(work.shape) / 2.0
    near = work[(radius > 0.15 * r_max) & (radius < 0.45 * r_max)]
    far = work[(radius > 0.6 * r_max) & (radius < r_max)]
    spread = float(work.std()) or 1.0
    excess = float((near.mean() - far.mean()) / spread) if near.size and far.size else 0.0
    centred = work - work.mean()
    symmetry = float(_symmetry_correlation(centred).max() / max((centred**2).sum(), 1e-12))
    offset = float(
        np.hypot(centre[0] - (work.shape[0] - 1) / 2, centre[1] - (work.shape[1] - 1) / 2)
        / min(work.shape)
    )
    smooth_share = float(ndimage.gaussian_filter(centred, 1.5).var() / max(centred.var(), 1e-12))
    angle = np.arctan2(yy - centre[0], xx - centre[1])
    coherence = _sector_coherence(work, radius, angle)
    sharp_image = subtract_background(work)
    sharp_centred = sharp_image - sharp_image.mean()
    sharp_symmetry = float(
        _symmetry_correlation(sharp_centred).max() / max((sharp_centred**2).sum(), 1e-12)
    )
    energy = np.sort((sharp_image**2).ravel())[::-1]
    sparsity = float(energy[: max(1, energy.size // 50)].sum() / max(energy.sum(), 1e-12))
    measures = {
        "contrast": contrast,
        "radial_fraction": radial,
        "sharp_radial_fraction": sharp,
        "central_excess": excess,
        "symmetry": symmetry,
        "noise_floor": noise_floor,
        "centre_offset": offset,
        "smooth_share": smooth_share,
        "sector_coherence": coherence,
        "sharp_symmetry": sharp_symmetry,
        "sharp_sparsity": sparsity,
    }
    kind, reason, diffraction, ring = _classify(measures)
    return ImageKind(kind, reason, **measures, diffraction_score=diffraction, ring_score=ring)


# The noise rule: an image whose radial share is within a few times that of pure noise and
# whose variance is almost all pixel-to-pixel holds no pattern at all.
NOISE_RADIAL_FACTOR = 3.0
NOISE_SMOOTH_SHARE = 0.08
# Two logistic models on the measures, fitted by benchmarks/image_kind/fit_detector.py on
# crystalview.sim patterns against generated wrong-kind images (seed 7101; the numbers it
# printed are pasted here). diffraction_score > DIFFRACTION_THRESHOLD: a diffraction pattern;
# ring_score above RING_CERTAIN: rings, below SPOT_CERTAIN: spots, in between: either.
DIFFRACTION_WEIGHTS = (2.288, 1.367, -4.62, 0.477, 0.387, -2.751)
DIFFRACTION_BIAS = -4.395
DIFFRACTION_THRESHOLD = -1.5
RING_WEIGHTS = (-1.484, 13.192, 2.327, -3.711)
RING_BIAS = -1.288
RING_CERTAIN = 2.0
SPOT_CERTAIN = -2.0


def diffraction_features(m: ImageKind | dict) -> list[float]:
    """Inputs of the diffraction-or-not model: log radial share over noise's, sector
    coherence, smooth share, central excess, sharp symmetry, sharp sparsity."""
    get = m.get if isinstance(m, dict) else lambda key: getattr(m, key)
    return [
        float(np.log(max(get("radial_fraction"), 1e-9) / max(get("noise_floor"), 1e-12))),
        get("sector_coherence"),
        get("smooth_share"),
        get("central_excess"),
        get("sharp_symmetry"),
        get("sharp_sparsity"),
    ]


def ring_features(m: ImageKind | dict) -> list[float]:
    """Inputs of the rings-or-spots model: sector coherence, sharp radial share, sharp
    sparsity, sharp symmetry."""
    get = m.get if isinstance(m, dict) else lambda key: getattr(m, key)
    return [
        get("sector_coherence"),
        get("sharp_radial_fraction"),
        get("sharp_sparsity"),
        get("sharp_symmetry"),
    ]


def _linear(weights: tuple[float, ...], bias: float, values: list[float]) -> float:
    return float(np.dot(weights, values) + bias)


def _classify(m: dict[str, float]) -> tuple[str, str, float, float]:
    """``(kind, reason, diffraction score, ring score)`` of the measures."""
    diffraction = _linear(DIFFRACTION_WEIGHTS, DIFFRACTION_BIAS, diffraction_features(m))
    ring = _linear(RING_WEIGHTS, RING_BIAS, ring_features(m))
    if m["radial_fraction"] < NOISE_RADIAL_FACTOR * m["noise_floor"] and (
        m["smooth_share"] < NOISE_SMOOTH_SHARE
    ):
        return "noise", "noise only: no structure about a centre", diffraction, ring
    if diffraction < DIFFRACTION_THRESHOLD:
        reason = "not a diffraction pattern: nothing is organised around a beam centre"
        return "real-space", reason, diffraction, ring
    if ring > RING_CERTAIN:
        return "rings", "ring pattern: sharp features uniform around the centre", diffraction, ring
    if ring < SPOT_CERTAIN:
        reason = "spot pattern: sharp features at a few angles about the centre"
        return "spots", reason, diffraction, ring
    return "diffraction", "diffraction pattern (rings or spots)", diffraction, ring
