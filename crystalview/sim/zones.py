"""The 2-D lattice that a zone-axis spot pattern of a real crystal shows.

A zone [uvw] shows the reflections of its zero-order Laue zone (h·u = 0) that the structure
factor allows. Their positions form a 2-D net; its Bravais type (square, hexagonal, rectangular,
centred rectangular, oblique) is the label of the spot model. The net is reduced to its two
shortest vectors (Lagrange-Gauss reduction) and classified by their lengths and angle. Zones whose
net lies close to a higher symmetry without reaching it (pseudo-symmetric within a few per cent)
are called ambiguous: a measurement at the detector's resolution could not tell them apart.
"""

from __future__ import annotations

import numpy as np

from crystalview.sim.crystal import Crystal, Reflections, allowed_reflections
from crystalview.sim.patterns import zone_frame

# Metric differences below EXACT are symmetry; between EXACT and AMBIGUOUS the net is
# pseudo-symmetric and gets no label.
EXACT = 0.004
AMBIGUOUS = 0.03
# Reflections weaker than this fraction of the zone's strongest are not counted as visible.
MIN_RELATIVE_INTENSITY = 1e-3
_D_MIN = 0.7


def gauss_reduce(v1: np.ndarray, v2: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Lagrange-Gauss reduction: the two shortest vectors spanning the same 2-D lattice."""
    for _ in range(100):
        if v1 @ v1 > v2 @ v2:
            v1, v2 = v2, v1
        m = round(float(v1 @ v2) / float(v1 @ v1))
        if m == 0:
            break
        v2 = v2 - m * v1
    if v1 @ v2 < 0:
        v2 = -v2
    return v1, v2


def classify_net(v1: np.ndarray, v2: np.ndarray) -> str | None:
    """Bravais type of the 2-D lattice spanned by ``v1``, ``v2``; None when pseudo-symmetric."""
    v1, v2 = gauss_reduce(np.asarray(v1, dtype=float), np.asarray(v2, dtype=float))
    la, lb = np.linalg.norm(v1), np.linalg.norm(v2)
    cos = float(v1 @ v2) / (la * lb)  # 0 <= cos <= 0.5 after reduction
    measures = {
        "equal": abs(lb / la - 1.0),
        "right": abs(cos),
        "hex": abs(cos - 0.5),
        # b projects onto a at half its length: a centred rectangular net in its reduced form
        "centred": abs(2.0 * float(v1 @ v2) / (la * la) - 1.0),
    }
    if any(EXACT <= m < AMBIGUOUS for m in measures.values()):
        return None
    equal, right, hexagonal, centred = (measures[k] < EXACT for k in measures)
    if equal and right:
        return "square"
    if equal and hexagonal:
        return "hexagonal"
    if right:
        return "rectangular"
    if equal or centred:
        return "centered_rectangular"
    return "oblique"


def zone_net(
    crystal: Crystal, zone_axis: tuple[int, int, int], reflections: Reflections | None = None
) -> np.ndarray:
    """2-D positions (Å⁻¹) of the visible zero-order reflections of a zone, origin excluded.

    ``reflections`` may pass the crystal's `allowed_reflections` (d >= 0.7 Å), computed once
    for many zones.
    """
    refl = reflections if reflections is not None else allowed_reflections(crystal, _D_MIN)
    in_zone = refl.hkl @ np.asarray(zone_axis) == 0
    hkl, intensity = refl.hkl[in_zone], refl.intensity[in_zone]
    if intensity.size == 0:
        return np.empty((0, 2))
    visible = intensity > MIN_RELATIVE_INTENSITY * intensity.max()
    frame = zone_frame(crystal, zone_axis)
    g = crystal.lattice.g_vectors(hkl[visible]) @ frame.T
    return g[:, :2]


def crystal_reflections(crystal: Crystal) -> Reflections:
    """The reflections `zone_net` looks at, to share between the zones of one crystal."""
    return allowed_reflections(crystal, _D_MIN)


def zone_lattice(
    crystal: Crystal, zone_axis: tuple[int, int, int], reflections: Reflections | None = None
) -> str | None:
    """The 2-D Bravais type a zone's spot net shows, or None (too few spots, pseudo-symmetric,
    or spots that the two shortest vectors do not index)."""
    points = zone_net(crystal, zone_axis, reflections)
    if len(points) < 6:
        return None
    order = np.argsort(np.linalg.norm(points, axis=1))
    points = points[order]
    v1 = points[0]
    cross = np.abs(points[:, 0] * v1[1] - points[:, 1] * v1[0])
    off_line = np.flatnonzero(cross > 1e-6 * np.linalg.norm(v1) * np.linalg.norm(points, axis=1))
    if off_line.size == 0:
        return None
    v2 = points[off_line[0]]
    v1, v2 = gauss_reduce(v1, v2)
    coefficients = points @ np.linalg.inv(np.stack([v1, v2]))
    if np.abs(coefficients - np.round(coefficients)).max() > 1e-3:
        return None  # a finer net: the shortest spots are not a basis
    return classify_net(v1, v2)


# Zone axes tried for real structures: low-index ones (rich nets) and a few higher ones.
ZONE_AXES: tuple[tuple[int, int, int], ...] = (
    (0, 0, 1),
    (0, 1, 0),
    (1, 0, 0),
    (1, 1, 0),
    (1, 0, 1),
    (0, 1, 1),
    (1, -1, 0),
    (1, 1, 1),
    (1, 1, 2),
    (2, 1, 0),
    (1, 2, 0),
    (0, 1, 2),
    (1, 0, 2),
    (2, 0, 1),
    (1, 2, 3),
    (2, 1, 1),
    (1, 2, 1),
    (1, 3, 0),
    (3, 1, 0),
    (1, 1, 3),
)
