"""Geometric evidence for the 2-D lattice of a zone-axis spot pattern.

The Bravais type of a spot pattern (square, hexagonal, rectangular, centred rectangular,
oblique) is a property of where the spots are, not of how bright they are: the spots of the
zero-order Laue zone sit on a 2-D net ``c + h a + k b`` and the type follows from the lengths
and angle of the net's reduced basis. Positions carry over from one simulator (or microscope) to
another far better than intensities, which depend on the structure factors, the excitation
errors of a slightly tilted crystal, the camera and the export. This module measures the net
directly, as a crystallographer would:

1. spots: the log-scaled image is band-passed (difference of Gaussians at the spot scale, so
   the diffuse background and the direct beam's halo drop out), isolated hot pixels are
   clipped first, local maxima above a robust noise threshold are kept outside the beam stop
   (`crystalview.inference.diffraction.beam_stop_mask`, whose rim would otherwise read as
   spots), and refined to a fraction of a pixel by a parabola through each peak's neighbours;
2. net: every difference of two spots is a lattice vector, whatever the beam position and
   whether the direct beam is hidden. Short difference vectors that many spots share (a spot
   at ``p + d`` for many ``p``) are the candidate basis vectors; every non-collinear pair of
   the shortest candidates indexes the spots (the origin is the circular mean of the spots'
   fractional coordinates, so no centre is needed), the pair indexing the most spots wins (on
   a tie the smaller cell), and ``c, a, b`` are refined by least squares over all indexed
   spots. Missing spots (absences, a beam stop, low dose) cost nothing as long as a few rows
   of the net are seen; a few false spots are simply not indexed;
3. metric: the refined basis is Gauss-reduced (``|a| <= |b|``, ``0 <= a·b <= a·a / 2``) and
   described by its deviations from the special metrics: equal lengths, a right angle,
   60° / 120°, and the centred condition ``2 a·b = a·a``. An elliptically distorted camera
   (real projector lenses: 0-3 %) moves these deviations by up to about twice the
   ellipticity, so they are given as numbers for a classifier, not as decisions;
4. intensity symmetry: what does tell a distorted square net from a true rectangular one of
   nearly equal edges is the intensity symmetry, so the band-passed intensity is read at every
   lattice node about the node nearest the beam centre (`find_beam_centre`) and correlated with
   itself under each candidate operation of the reduced cell: the 2-fold (Friedel's law, the
   reference every kinematic pattern has), the mirrors along ``a``, along ``b`` and along the
   diagonal that swaps ``a`` and ``b``, and the 4-fold and 6-fold rotations.

`spot_lattice_features` returns all of it as one fixed-length, always finite float vector
(`SPOT_FEATURE_NAMES`). When no net is found (fewer than `MIN_INDEXED` spots indexed, a blank or
noise frame) ``found`` is 0 and every other feature takes the fixed value of `_NO_LATTICE`.
The module needs numpy, scipy and scikit-image only and takes some 10-40 ms per image.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage
from scipy.spatial import cKDTree
from skimage.feature import peak_local_max

from crystalview.inference.diffraction import beam_stop_mask, find_beam_centre
from crystalview.sim.zones import gauss_reduce

SPOT_FEATURE_NAMES: tuple[str, ...] = (
    "found",  # 1 when a net indexes at least MIN_INDEXED spots, else 0
    "n_spots",  # log1p of the number of spots detected
    "n_indexed",  # log1p of the number of spots the net indexes
    "frac_indexed",  # share of the detected spots that the net indexes
    "occupancy",  # share of the net's nodes inside the spots' hull that carry a spot
    "rms_rel",  # RMS residual of the indexed spots over |a|
    "a_rel",  # |a| of the reduced cell over the image side
    "ratio_dev",  # |b| / |a| - 1 (0: equal edges: square, hexagonal, rhombic centred)
    "cos_gamma",  # a·b / (|a| |b|) of the reduced cell (0: right angle, 0.5: 60°)
    "hex_dev",  # 0.5 - cos_gamma (0: hexagonal angle)
    "cen_dev",  # |2 a·b / a·a - 1| (0: centred rectangular in its reduced form)
    "log_ratio_dev",  # log10 of the four deviations + 1e-3: the classifier's scale
    "log_cos_gamma",
    "log_hex_dev",
    "log_cen_dev",
    # Every special net has a mirror line, i.e. two perpendicular lattice vectors; an elliptic
    # camera distortion ε turns any angle by at most about 2ε, so the cosines of these angles
    # deviate by at most about 2ε whatever the cell's shape (the metric deviations above
    # are amplified for long cells):
    "perp_ab",  # |cos(a, b)|: rectangular (and square)
    "perp_centred",  # |cos(a, 2b - a)|: centred with 2 a·b = a·a (and hexagonal)
    "perp_rhombic",  # |cos(a + b, a - b)|: |a| = |b|, rhombic centred (square, hexagonal)
    "log_perp_ab",  # log10 of the three + 1e-3
    "log_perp_centred",
    "log_perp_rhombic",
    "square_dev",  # max(perp_ab, perp_rhombic): how far from a square net
    "hex_metric_dev",  # max(perp_centred, perp_rhombic): how far from a hexagonal net
    "centred_dev",  # min(perp_centred, perp_rhombic): how far from a centred rectangular net
    "corr_2",  # intensity correlation under the 2-fold rotation (Friedel)
    "corr_mirror_ab",  # ... under the mirror along a that a ⊥ b allows: (h, k) -> (h, -k)
    "corr_mirror_centred",  # ... along a when a ⊥ 2b - a: (h, k) -> (h + k, -k)
    "corr_mirror_rhombic",  # ... swapping a and b, when |a| = |b|: (h, k) -> (k, h)
    "corr_4",  # ... under the 4-fold rotation
    "corr_6",  # ... under the 6-fold rotation
    "n_nodes",  # log1p of the number of nodes read for the correlations
    # Evidence for each special net: its mirror condition met up to a camera's ellipticity
    # (Gaussian in the cosine, width `_ELLIPTIC_COSINE`) times the intensity symmetry it
    # implies (correlation relative to the Friedel one). A linear classifier cannot form such
    # conjunctions itself; they tell a distorted square net from a rectangular one.
    "evidence_square",
    "evidence_hexagonal",
    "evidence_rectangular",
    "evidence_centred",
)

# At least this many spots must be indexed for a net to count as found.
MIN_INDEXED = 6
# Spots detected at most (strongest first), and of those, how many propose difference vectors.
_MAX_SPOTS = 80
_PROPOSERS = 30
# Candidate basis vectors tried (the shortest well-supported ones) and their minimum support.
_CANDIDATES = 10
_MIN_SUPPORT = 3
_REFINED_PAIRS = 4
# Band-pass widths and the shortest spot spacing considered, as fractions of the image side.
_SPOT_SIGMA = 0.01
_LOG_GAIN = 10.0
_BACKGROUND_SIGMA = 0.03
_MIN_SPACING = 0.035
# A spot is indexed when it lies within this many pixels plus this fraction of |a| of a node.
_TOLERANCE_PX = 1.0
_TOLERANCE_REL = 0.05
# Local maxima above this many robust standard deviations of the band-passed image are spots.
_THRESHOLD_SIGMAS = 3.5
# Correlations need at least this many node pairs; fewer give 0 (no evidence either way).
_MIN_PAIRS = 4
_DEV_FLOOR = 1e-3
_PERPENDICULARS = ("perp_ab", "perp_centred", "perp_rhombic")
# An ellipticity ε turns lattice angles by up to about 2ε: cameras have 0-3 %, so a mirror
# condition's cosine of about 0.04 is still "met".
_ELLIPTIC_COSINE = 0.04
# Half-cell points join the net when their mean band-passed signal stands this many noise
# sigmas above the background and this many standard errors of that mean.
_CENTRING_GAIN = 1.0
_CENTRING_T = 8.0
_NO_LATTICE = {
    "found": 0.0,
    "ratio_dev": 0.5,
    "cos_gamma": 0.25,
    "hex_dev": 0.25,
    "cen_dev": 0.5,
    "perp_ab": 0.25,
    "perp_centred": 0.25,
    "perp_rhombic": 0.25,
}


def spot_lattice_features(image: np.ndarray) -> np.ndarray:
    """Fixed-length metric and symmetry evidence of the spot net (see `SPOT_FEATURE_NAMES`).

    ``image`` is a raw 2-D pattern of any dtype (counts, 8-bit export). Deterministic, always
    finite; when no net is found the vector is the "no lattice" encoding (``found`` = 0).
    """
    net, n_spots, work, centre, band, mask = _measure(image)
    return _encode(net, n_spots, work, centre, band, mask)


@dataclass(frozen=True)
class NetSupport:
    """How well one 2-D net explains a pattern's spots (all 0 when no net is found)."""

    n_spots: int
    n_indexed: int  # spots the net indexes
    indexed_share: float  # share of the detected spots that the net indexes
    occupancy: float  # share of the net's nodes, within the indexed range, that carry a spot


def net_support(image: np.ndarray) -> NetSupport:
    """`NetSupport` of a raw 2-D pattern.

    A single crystal's spots all sit on one net and fill most of its nodes; the grains of a
    ring pattern, the speckle of an image or noise peaks do not, so this tells a spot pattern
    from a spotty ring one where the look of the image alone leaves it open
    (`crystalview.inference.image_kind`).
    """
    net, n_spots, *_ = _measure(image)
    if net is None or n_spots == 0:
        return NetSupport(n_spots, 0, 0.0, 0.0)
    return NetSupport(n_spots, net.n_indexed, net.n_indexed / n_spots, _occupancy(net))


def _measure(
    image: np.ndarray,
) -> tuple[Net | None, int, np.ndarray, tuple[float, float], np.ndarray, np.ndarray]:
    """The fitted net (None when none is found), the number of spots detected, and the
    log-scaled image, beam centre, band-passed image and beam-stop mask they came from."""
    data = np.asarray(image)
    if data.ndim != 2:
        raise ValueError(f"expected a 2-D pattern, got shape {data.shape}")
    work = _log_scaled(data)
    centre = find_beam_centre(work, log=False)
    spots, heights, band, mask = find_spots(work, centre)
    net = fit_net(spots, heights, min(work.shape))
    if net is not None:
        net = _add_weak_centring(net, band / _noise(band, mask), mask)
    return net, len(spots), work, centre, band, mask


def _log_scaled(data: np.ndarray) -> np.ndarray:
    """Log intensity above the dark floor, on a fixed contrast scale (gain and export drop out)."""
    x = np.nan_to_num(data.astype(np.float64))
    lo, hi = np.percentile(x, [0.5, 99.9])
    span = hi - lo if hi > lo else 1.0
    return np.log1p(_LOG_GAIN * np.maximum(x - lo, 0.0) / span)


def find_spots(
    work: np.ndarray, centre: tuple[float, float] | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Sub-pixel spot positions ``(N, 2)`` as (y, x), their heights, the band-passed image, and
    the beam-stop mask, from a log-scaled pattern.

    Hot pixels are clipped to their second-brightest 3 x 3 neighbour (a spot, a few pixels wide,
    loses almost nothing). The band-pass keeps features of the spots' size; the threshold is a
    multiple of the band-passed image's robust spread, so it follows the dose.
    """
    side = min(work.shape)
    clipped = np.minimum(work, ndimage.rank_filter(work, rank=7, size=3))
    s1 = max(0.7, _SPOT_SIGMA * side)
    band = ndimage.gaussian_filter(clipped, s1) - ndimage.gaussian_filter(
        clipped, _BACKGROUND_SIGMA * side
    )
    mask = beam_stop_mask(work, centre)
    if mask.any():
        mask = ndimage.binary_dilation(mask, iterations=max(2, round(0.012 * side)))
    score = band / _noise(band, mask)
    peaks = peak_local_max(
        np.where(mask, 0.0, score),
        min_distance=max(2, round(0.025 * side)),
        threshold_abs=_THRESHOLD_SIGMAS,
        exclude_border=1,
        num_peaks=_MAX_SPOTS,
    )
    if len(peaks) == 0:
        return np.empty((0, 2)), np.empty(0), band, mask
    y, x = peaks[:, 0], peaks[:, 1]
    dy = _parabola(band[y - 1, x], band[y, x], band[y + 1, x])
    dx = _parabola(band[y, x - 1], band[y, x], band[y, x + 1])
    positions = np.stack([y + dy, x + dx], axis=1)
    return positions, score[y, x], band, mask


def _noise(band: np.ndarray, mask: np.ndarray) -> float:
    """Robust standard deviation (MAD) of the band-passed image off the beam stop."""
    valid = band[~mask] if (~mask).any() else band.ravel()
    return 1.4826 * float(np.median(np.abs(valid - np.median(valid)))) + 1e-12


def _add_weak_centring(net: Net, score: np.ndarray, mask: np.ndarray) -> Net:
    """The net with a half-cell vector added when spots too weak to detect one by one sit there.

    A centred net whose centring spots are weak (a structure factor, low dose) is detected as
    its primitive super-cell, which has another metric. Averaged over every node in the frame,
    the band-passed signal at ``node + t`` for ``t`` in ``a/2, b/2, (a+b)/2`` shows such spots
    far below the single-spot threshold; the half-vector whose mean stands clearly above the
    background (read at the third-cell points, where no net node lies), by `_CENTRING_GAIN`
    noise sigmas and `_CENTRING_T` standard errors, joins the basis.
    """
    basis = np.stack([net.a, net.b])
    nodes = _nodes_in_frame(net.origin, basis, score.shape, mask)
    if len(nodes) < MIN_INDEXED:
        return net

    def values_at(t):
        return ndimage.map_coordinates(score, (nodes + t).T, order=1, mode="nearest")

    thirds = ((1 / 3, 1 / 3), (2 / 3, 1 / 3), (1 / 3, 2 / 3))
    reference = np.mean([values_at(np.array(f) @ basis).mean() for f in thirds])
    halves = [np.array(f) for f in ((0.5, 0.0), (0.0, 0.5), (0.5, 0.5))]
    samples = [values_at(f @ basis) for f in halves]
    gains = [float(v.mean() - reference) for v in samples]
    best = int(np.argmax(gains))
    standard_error = float(samples[best].std()) / np.sqrt(len(nodes)) + 1e-12
    if gains[best] < _CENTRING_GAIN or gains[best] < _CENTRING_T * standard_error:
        return net
    t = halves[best] @ basis
    other = basis[1] if best == 0 else basis[0]
    a, b = gauss_reduce(t.copy(), other.copy())
    hk = np.rint(np.linalg.solve(np.stack([a, b]).T, (net.spots - net.origin).T).T).astype(int)
    return Net(net.origin, a, b, hk, net.residual_px, net.n_indexed, net.spots)


def _nodes_in_frame(origin, basis, shape, mask) -> np.ndarray:
    """Positions of the net's nodes inside the frame (1 px margin) and off the beam stop."""
    h, w = shape
    span = int(np.ceil(1.5 * max(h, w) / min(np.linalg.norm(basis, axis=1)))) + 1
    grid = np.arange(-span, span + 1)
    hh, kk = np.meshgrid(grid, grid, indexing="ij")
    hk = np.stack([hh.ravel(), kk.ravel()], axis=1)
    pos = origin + hk @ basis
    inside = (pos[:, 0] >= 1) & (pos[:, 0] <= h - 2) & (pos[:, 1] >= 1) & (pos[:, 1] <= w - 2)
    pos = pos[inside]
    return pos[~mask[np.rint(pos[:, 0]).astype(int), np.rint(pos[:, 1]).astype(int)]]


def _parabola(before: np.ndarray, peak: np.ndarray, after: np.ndarray) -> np.ndarray:
    """Sub-sample offset of each peak from its two neighbours (vertex of the parabola)."""
    curvature = before - 2.0 * peak + after
    safe = np.where(curvature < 0, curvature, -1.0)
    return np.clip(0.5 * (before - after) / safe, -0.5, 0.5)


@dataclass(frozen=True)
class Net:
    """A fitted spot net: origin and reduced basis rows ``a``, ``b`` (pixels, (y, x))."""

    origin: np.ndarray
    a: np.ndarray
    b: np.ndarray
    indices: np.ndarray  # (h, k) of the indexed spots in the reduced basis
    residual_px: float  # RMS distance of the indexed spots from their nodes
    n_indexed: int
    spots: np.ndarray  # positions of the indexed spots


def fit_net(spots: np.ndarray, heights: np.ndarray, side: int) -> Net | None:
    """The 2-D net that indexes the most spots (see the module docstring), or None."""
    if len(spots) < MIN_INDEXED:
        return None
    tree = cKDTree(spots)
    candidates = _candidate_vectors(spots, tree, side)
    pairs = []
    for i in range(len(candidates)):
        for j in range(i + 1, len(candidates)):
            basis = np.stack([candidates[i], candidates[j]])
            if abs(np.linalg.det(basis)) < 0.2 * np.prod(np.linalg.norm(basis, axis=1)):
                continue  # (nearly) collinear
            pairs.append((_net_score(spots, heights, basis), basis))
    # The candidates are already means over many spot pairs; the best few are refined by least
    # squares over the spots they index and scored again.
    pairs.sort(key=lambda pair: pair[0], reverse=True)
    best = None
    for _, basis in pairs[:_REFINED_PAIRS]:
        refined = _refine(spots, heights, basis)
        if refined is None:
            continue
        key = _net_score(spots, heights, refined)
        if best is None or key > best[0]:
            best = (key, refined)
    if best is None or best[0][0] < MIN_INDEXED:
        return None
    basis = best[1]
    origin, hk, ok = _index(spots, heights, basis)
    if ok.sum() < MIN_INDEXED:
        return None
    design = np.column_stack([np.ones(ok.sum()), hk[ok]])
    solution, *_ = np.linalg.lstsq(design, spots[ok], rcond=None)
    residual = spots[ok] - design @ solution
    origin, basis = solution[0], solution[1:]
    a, b = gauss_reduce(basis[0].copy(), basis[1].copy())
    reduced = np.linalg.solve(np.stack([a, b]).T, (spots[ok] - origin).T).T
    return Net(
        origin,
        a,
        b,
        np.rint(reduced).astype(int),
        float(np.sqrt(np.mean(np.sum(residual**2, axis=1)))),
        int(ok.sum()),
        spots[ok],
    )


def _net_score(spots: np.ndarray, heights: np.ndarray, basis: np.ndarray) -> tuple[float, float]:
    """Spots indexed above chance (a fine enough net indexes anything), then the smaller cell."""
    area = abs(float(np.linalg.det(basis)))
    tol = _tolerance(basis)
    chance = len(spots) * min(1.0, np.pi * tol * tol / area)
    return float(_index(spots, heights, basis)[2].sum()) - chance, -area


def _refine(spots: np.ndarray, heights: np.ndarray, basis: np.ndarray) -> np.ndarray | None:
    """Index, fit the basis by least squares over the indexed spots, twice; None if degenerate."""
    for _ in range(2):
        _, hk, ok = _index(spots, heights, basis)
        if ok.sum() < 3 or np.linalg.matrix_rank(hk[ok]) < 2:
            return None
        design = np.column_stack([np.ones(ok.sum()), hk[ok]])
        solution, *_ = np.linalg.lstsq(design, spots[ok], rcond=None)
        basis = solution[1:]
        if abs(np.linalg.det(basis)) < 1e-6:
            return None
    return basis


def _candidate_vectors(spots: np.ndarray, tree: cKDTree, side: int) -> list[np.ndarray]:
    """The shortest difference vectors that at least `_MIN_SUPPORT` spots share."""
    proposers = spots[:_PROPOSERS]
    diffs = (proposers[None, :, :] - proposers[:, None, :]).reshape(-1, 2)
    lengths = np.hypot(diffs[:, 0], diffs[:, 1])
    keep = (lengths >= _MIN_SPACING * side) & (lengths <= 0.6 * side)
    diffs, lengths = diffs[keep], lengths[keep]
    # One sign per ± pair: x > 0, or x == 0 and y > 0.
    flip = (diffs[:, 1] < 0) | ((diffs[:, 1] == 0) & (diffs[:, 0] < 0))
    diffs[flip] *= -1
    order = np.argsort(lengths, kind="stable")
    diffs, lengths = diffs[order], lengths[order]
    chosen: list[np.ndarray] = []
    for d, length in zip(diffs, lengths, strict=True):
        tol = _TOLERANCE_PX + _TOLERANCE_REL * length
        if any(np.hypot(*(d - c)) < tol for c in chosen):
            continue
        support, mean = _support(spots, tree, d, tol)
        if support >= _MIN_SUPPORT:
            chosen.append(_support(spots, tree, mean, tol)[1])
            if len(chosen) >= _CANDIDATES:
                break
    return chosen


def _support(spots: np.ndarray, tree: cKDTree, d: np.ndarray, tol: float) -> tuple[int, np.ndarray]:
    """How many spots ``p`` have another spot near ``p + d``, and the mean of those differences.

    The mean over every matching pair is a far more precise lattice vector than the one pair
    that proposed ``d``: an error of a pixel would grow to several at the fifth node.
    """
    distance, match = tree.query(spots + d, distance_upper_bound=tol)
    hit = np.isfinite(distance)
    if not hit.any():
        return 0, d
    return int(hit.sum()), (spots[match[hit]] - spots[hit]).mean(axis=0)


def _index(
    spots: np.ndarray, heights: np.ndarray, basis: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Origin, integer indices and which spots lie on the net of ``basis`` (rows a, b).

    The origin is the weighted circular mean of the spots' fractional coordinates: no beam
    centre is needed, and a hidden direct beam costs nothing.
    """
    inverse = np.linalg.inv(basis)
    fractional = spots @ inverse
    weights = np.sqrt(np.maximum(heights, 0.0)) + 1e-9
    phase = np.exp(2j * np.pi * fractional)
    offset = np.angle((weights[:, None] * phase).sum(axis=0)) / (2 * np.pi)
    hk = np.rint(fractional - offset)
    origin = offset @ basis
    predicted = origin + hk @ basis
    error = np.hypot(*(spots - predicted).T)
    ok = error < _tolerance(basis)
    return origin, hk.astype(int), ok


def _tolerance(basis: np.ndarray) -> float:
    """How far (px) a spot may lie from its node: detection error plus a little for big cells."""
    shortest = min(np.linalg.norm(basis[0]), np.linalg.norm(basis[1]))
    return _TOLERANCE_PX + _TOLERANCE_REL * shortest


def _encode(
    net: Net | None,
    n_spots: int,
    work: np.ndarray,
    centre: tuple[float, float],
    band: np.ndarray,
    mask: np.ndarray,
) -> np.ndarray:
    values = dict.fromkeys(SPOT_FEATURE_NAMES, 0.0)
    values["n_spots"] = float(np.log1p(n_spots))
    if net is None:
        values.update(_NO_LATTICE)
    else:
        side = min(work.shape)
        la, lb = float(np.linalg.norm(net.a)), float(np.linalg.norm(net.b))
        dot = float(net.a @ net.b)
        cos_gamma = dot / (la * lb)
        values.update(
            found=1.0,
            n_indexed=float(np.log1p(net.n_indexed)),
            frac_indexed=net.n_indexed / max(n_spots, 1),
            occupancy=_occupancy(net),
            rms_rel=net.residual_px / la,
            a_rel=la / side,
            ratio_dev=lb / la - 1.0,
            cos_gamma=cos_gamma,
            hex_dev=0.5 - cos_gamma,
            cen_dev=abs(2.0 * dot / (la * la) - 1.0),
            perp_ab=abs(cos_gamma),
            perp_centred=_abs_cos(net.a, 2.0 * net.b - net.a),
            perp_rhombic=_abs_cos(net.a + net.b, net.a - net.b),
        )
        values.update(_symmetry_correlations(net, centre, band, mask))
    for name in ("ratio_dev", "cos_gamma", "hex_dev", "cen_dev", *_PERPENDICULARS):
        values[f"log_{name}"] = float(np.log10(abs(values[name]) + _DEV_FLOOR))
    ab, centred, rhombic = (values[name] for name in _PERPENDICULARS)
    values["square_dev"] = max(ab, rhombic)
    values["hex_metric_dev"] = max(centred, rhombic)
    values["centred_dev"] = min(centred, rhombic)
    values.update(_evidence(values))
    out = np.array([values[name] for name in SPOT_FEATURE_NAMES], dtype=np.float64)
    return np.nan_to_num(out, nan=0.0, posinf=0.0, neginf=0.0)


def _evidence(values: dict[str, float]) -> dict[str, float]:
    """Per special net: metric condition within the ellipticity times the symmetry it implies."""
    if not values["found"]:
        return {f"evidence_{k}": 0.0 for k in ("square", "hexagonal", "rectangular", "centred")}

    def metric(cosine: float) -> float:
        return float(np.exp(-0.5 * (cosine / _ELLIPTIC_COSINE) ** 2))

    def symmetric(name: str) -> float:
        return float(np.clip(values[name] / max(values["corr_2"], 0.2), 0.0, 1.0))

    ab, centred, rhombic = (values[name] for name in _PERPENDICULARS)
    return {
        "evidence_square": metric(max(ab, rhombic)) * symmetric("corr_4"),
        "evidence_hexagonal": metric(max(centred, rhombic)) * symmetric("corr_6"),
        "evidence_rectangular": metric(ab) * symmetric("corr_mirror_ab"),
        "evidence_centred": max(
            metric(centred) * symmetric("corr_mirror_centred"),
            metric(rhombic) * symmetric("corr_mirror_rhombic"),
        ),
    }


def _abs_cos(u: np.ndarray, v: np.ndarray) -> float:
    return abs(float(u @ v)) / max(float(np.linalg.norm(u) * np.linalg.norm(v)), 1e-12)


def _occupancy(net: Net) -> float:
    """Share of the net's nodes within the indexed spots' index range that carry a spot.

    A net finer than the true one (a false spot halfway between two rows) leaves most of its
    nodes empty.
    """
    hk = net.indices
    lo, hi = hk.min(axis=0), hk.max(axis=0)
    nodes = float(np.prod(hi - lo + 1))
    return len({tuple(v) for v in hk}) / max(nodes, 1.0)


def _symmetry_correlations(
    net: Net, centre: tuple[float, float], band: np.ndarray, mask: np.ndarray
) -> dict[str, float]:
    """Correlation of the node intensities with themselves under the reduced cell's operations.

    Nodes are read about the net node nearest the beam centre, out to the frame's edge, off the
    beam stop and the origin. Each correlation is taken over the node pairs that both lie on the
    frame; it is 0 (no evidence) with fewer than `_MIN_PAIRS` pairs.
    """
    a, b = net.a, net.b
    basis = np.stack([a, b])
    offset = np.rint(np.linalg.solve(basis.T, np.asarray(centre) - net.origin))
    origin = net.origin + offset @ basis
    h, w = band.shape
    span = int(np.ceil(max(h, w) * 1.5 / np.linalg.norm(a))) + 1
    grid = np.arange(-span, span + 1)
    hh, kk = np.meshgrid(grid, grid, indexing="ij")
    hk = np.stack([hh.ravel(), kk.ravel()], axis=1)
    pos = origin + hk @ basis
    inside = (pos[:, 0] >= 1) & (pos[:, 0] <= h - 2) & (pos[:, 1] >= 1) & (pos[:, 1] <= w - 2)
    inside &= np.any(hk != 0, axis=1)
    hk, pos = hk[inside], pos[inside]
    rows, cols = np.rint(pos[:, 0]).astype(int), np.rint(pos[:, 1]).astype(int)
    keep = ~mask[rows, cols]
    hk, pos = hk[keep], pos[keep]
    # The brightest band-passed value within a pixel of the node: small position errors cost
    # nothing.
    local = ndimage.maximum_filter(band, size=3)
    value = ndimage.map_coordinates(local, pos.T, order=1)
    lookup = {tuple(v): x for v, x in zip(hk.tolist(), value, strict=True)}
    operations = {
        "corr_2": lambda p, q: (-p, -q),
        "corr_mirror_ab": lambda p, q: (p, -q),
        "corr_mirror_centred": lambda p, q: (p + q, -q),
        "corr_mirror_rhombic": lambda p, q: (q, p),
        "corr_4": lambda p, q: (-q, p),
        "corr_6": lambda p, q: (-q, p + q),
    }
    out = {"n_nodes": float(np.log1p(len(lookup)))}
    for name, op in operations.items():
        pairs = [(x, lookup[op(*v)]) for v, x in lookup.items() if op(*v) in lookup]
        if len(pairs) < _MIN_PAIRS:
            out[name] = 0.0
            continue
        first, second = np.array(pairs).T
        if first.std() < 1e-12 or second.std() < 1e-12:
            out[name] = 0.0
            continue
        out[name] = float(np.corrcoef(first, second)[0, 1])
    return out
