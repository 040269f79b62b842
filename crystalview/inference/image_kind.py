"""A cheap look at an image before a model answers: is it the kind of image the model reads?

A model answers whatever it is given, so a constant dummy frame, a detector's noise, an SEM
micrograph or a spot pattern fed to a ring-pattern model all get a confident-looking class.
Two exact rules and a small network decide first (15 ms for a 256 px pattern, one CPU thread):

- a frame whose robust intensity range is zero, or that holds a couple of values, is
  ``blank``; one smaller than `MIN_SIDE` is ``tiny``;
- the image-kind network of `crystalview.inference.kind_net` reads a 128 x 128 log-scaled copy
  and gives the probabilities of a ring pattern, a spot pattern and anything else; its
  thresholds (shipped with its weights) make the call: ``rings``, ``spots``, ``diffraction``
  (a pattern, but not clearly one or the other) or not a pattern;
- a pattern the network leaves open is measured: when one 2-D net indexes most of its spots
  (`crystalview.inference.spot_lattice.net_support`) it is a single crystal's ``spots``.
  Only then, because it takes some 6 x as long as the network, and only in that direction:
  a net's absence does not make a pattern rings (weak spot patterns show too few spots for
  any net).

An image that is not a pattern is called ``noise`` when its azimuthal mean about the brightest
centre of symmetry explains no more of its variance than it does for pure noise (within
`NOISE_RADIAL_FACTOR` x the share of radii among pixels) and almost all of its variance is
pixel to pixel (less than `NOISE_SMOOTH_SHARE` survives a 1.5 px blur), and ``real-space``
otherwise; the two differ
only in the sentence shown to the user (a real-space model reads noisy frames of its own, so
`crystalview.inference.status` flags noise for diffraction models only). The file's own
modality (``SEM``, ``TEM`` … from its metadata) is a further cue, applied there too.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from crystalview.inference.diffraction import find_beam_centre
from crystalview.inference.kind_net import (
    Detector,
    kind_probabilities,
    network_input,
    shipped_detector,
)
from crystalview.inference.preprocess import working_copy
from crystalview.inference.spot_lattice import NetSupport, net_support

WORKING_SIDE = 128
MIN_SIDE = 16
# An image that is not a pattern reads as noise when its radial share is within this factor of
# pure noise's and less than this share of its variance survives a 1.5 px blur.
NOISE_RADIAL_FACTOR = 3.0
NOISE_SMOOTH_SHARE = 0.08
# A pattern the network leaves open is a spot pattern when one 2-D net indexes at least
# `NET_INDEXED` spots and this share of them, and carries spots on this share of its nodes.
# Chosen on two development draws of the independent simulator (seeds 778 and 779): of the
# patterns the network left open, 109 of 217 spot patterns and 2 of 168 ring patterns (spotty
# rings) meet all three; none of the look-alike images and none of our ring patterns.
NET_INDEXED = 10
NET_SHARE = 0.4
NET_OCCUPANCY = 0.3


@dataclass(frozen=True)
class ImageKind:
    """What `measure_image_kind` saw.

    ``kind`` is one of ``"blank"``, ``"noise"``, ``"real-space"``, ``"rings"``, ``"spots"``,
    ``"diffraction"`` (a pattern, but neither clearly rings nor spots) or ``"tiny"``;
    ``p_rings``, ``p_spots`` and ``p_other`` are the detector network's probabilities;
    ``net`` is the spot net measured on a pattern the network left open (None otherwise).
    """

    kind: str
    reason: str
    p_rings: float = 0.0
    p_spots: float = 0.0
    p_other: float = 0.0
    net: NetSupport | None = None

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


def stretched_copy(image: np.ndarray) -> np.ndarray | None:
    """The log-stretched copy (at most 512 px a side) that every measure here reads; None
    for a blank frame. The detector's training recipe prepares its images with this too."""
    return _log_stretch(_shrink(np.asarray(image, dtype=np.float64), 4 * WORKING_SIDE))


def _radial_share(values: np.ndarray, bins: np.ndarray) -> float:
    """Share of the variance of ``values`` explained by their means in radial ``bins``."""
    centred = values - values.mean()
    total = float((centred**2).mean())
    if total <= 0:
        return 0.0
    counts = np.bincount(bins.ravel())
    means = np.bincount(bins.ravel(), centred.ravel()) / np.maximum(counts, 1)
    return float((means[bins] ** 2).mean() / total)


def _is_noise(stretched: np.ndarray) -> bool:
    """Whether an image that is not a pattern is noise only (see the module docstring).

    Asked only once the network has said "not a pattern", so patterns never pay for it."""
    work = _shrink(stretched, WORKING_SIDE)
    centre = find_beam_centre(work, log=False)
    yy, xx = np.indices(work.shape)
    bins = np.hypot(yy - centre[0], xx - centre[1]).astype(np.int64)
    centred = work - work.mean()
    noise_floor = float(bins.max() + 1) / work.size
    smooth_share = ndimage.gaussian_filter(centred, 1.5).var() / max(centred.var(), 1e-12)
    return (
        _radial_share(work, bins) < NOISE_RADIAL_FACTOR * noise_floor
        and smooth_share < NOISE_SMOOTH_SHARE
    )


def measure_image_kind(image: np.ndarray, detector: Detector | None = None) -> ImageKind:
    """Look at a 2-D image and say which kind it is (see the module docstring)."""
    data = np.asarray(image)
    if data.ndim != 2 or min(data.shape) < MIN_SIDE:
        return ImageKind("tiny", f"image of {data.shape} pixels is too small to judge")
    stretched = stretched_copy(data)
    if stretched is None:
        return ImageKind("blank", "blank frame: every pixel has (nearly) the same value")
    detector = detector or shipped_detector()
    p_rings, p_spots, p_other = kind_probabilities(network_input(stretched), detector)
    limits = detector.thresholds
    net = None
    if p_other > limits.other_above:
        if _is_noise(stretched):
            kind, reason = "noise", "noise only: no structure about a centre"
        else:
            kind = "real-space"
            reason = (
                "not a diffraction pattern: no rings or spots about a beam centre "
                f"(image-kind detector: {p_other:.0%} not a pattern)"
            )
    elif p_spots > limits.spots_above:
        kind = "spots"
        reason = f"spot pattern: sharp spots at a few angles about the centre ({p_spots:.0%})"
    elif p_rings > limits.rings_above:
        kind = "rings"
        reason = f"ring pattern: rings uniform around the centre ({p_rings:.0%})"
    else:
        net = net_support(working_copy(data.astype(np.float64)))
        if (
            net.n_indexed >= NET_INDEXED
            and net.indexed_share >= NET_SHARE
            and net.occupancy >= NET_OCCUPANCY
        ):
            kind = "spots"
            reason = (
                f"spot pattern: one 2-D net indexes {net.indexed_share:.0%} of its "
                f"{net.n_spots} spots (the look alone was not sure)"
            )
        else:
            kind, reason = "diffraction", "diffraction pattern (rings or spots)"
    return ImageKind(kind, reason, p_rings, p_spots, p_other, net)
