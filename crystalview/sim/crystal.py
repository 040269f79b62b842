"""Crystal lattices, structure factors and the list of allowed reflections (kinematic theory).

A `Crystal` is a unit cell (a, b, c in Å; α, β, γ in degrees), a centring symbol (P, I, F, C)
and an atomic basis in fractional coordinates. The centring translations are applied to the basis
before the structure factor is summed, so systematic absences (FCC: h, k, l unmixed; BCC:
h + k + l even; C: h + k even) come out of the physics rather than from a rule table.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from crystalview.sim.scattering import electron_scattering_factor

CENTRING_TRANSLATIONS: dict[str, tuple[tuple[float, float, float], ...]] = {
    "P": ((0.0, 0.0, 0.0),),
    "I": ((0.0, 0.0, 0.0), (0.5, 0.5, 0.5)),
    "F": ((0.0, 0.0, 0.0), (0.0, 0.5, 0.5), (0.5, 0.0, 0.5), (0.5, 0.5, 0.0)),
    "C": ((0.0, 0.0, 0.0), (0.5, 0.5, 0.0)),
}

# Structure factors below this fraction of the largest one are treated as absent: it separates
# exact cancellations (round-off ~1e-15) from genuinely weak reflections.
ABSENT_FRACTION = 1e-6


@dataclass(frozen=True)
class Lattice:
    """Unit-cell edges in Å and angles in degrees."""

    a: float
    b: float
    c: float
    alpha: float = 90.0
    beta: float = 90.0
    gamma: float = 90.0

    def direct_basis(self) -> np.ndarray:
        """Rows are the cell vectors a, b, c in a Cartesian frame (a along x, b in the xy plane)."""
        al, be, ga = np.radians([self.alpha, self.beta, self.gamma])
        cx = self.c * np.cos(be)
        cy = self.c * (np.cos(al) - np.cos(be) * np.cos(ga)) / np.sin(ga)
        cz = np.sqrt(max(self.c**2 - cx**2 - cy**2, 0.0))
        return np.array(
            [
                [self.a, 0.0, 0.0],
                [self.b * np.cos(ga), self.b * np.sin(ga), 0.0],
                [cx, cy, cz],
            ]
        )

    def reciprocal_basis(self) -> np.ndarray:
        """Rows are a*, b*, c* in Å⁻¹ (crystallographer's convention, no 2π)."""
        return np.linalg.inv(self.direct_basis()).T

    def g_vectors(self, hkl: np.ndarray) -> np.ndarray:
        """Cartesian reciprocal-lattice vectors (N, 3) of Miller indices (N, 3), in Å⁻¹."""
        return np.asarray(hkl, dtype=np.float64) @ self.reciprocal_basis()

    def d_spacing(self, hkl: np.ndarray) -> np.ndarray:
        """Interplanar spacings in Å; ``inf`` for (000)."""
        g = np.linalg.norm(self.g_vectors(np.atleast_2d(hkl)), axis=-1)
        with np.errstate(divide="ignore"):
            return 1.0 / g


@dataclass(frozen=True)
class Atom:
    """One atom of the asymmetric basis: element and fractional coordinates."""

    element: str
    position: tuple[float, float, float]
    occupancy: float = 1.0


@dataclass(frozen=True)
class Crystal:
    """A lattice, its centring and the atoms of one lattice point.

    ``debye_waller_b`` is the isotropic B factor in Å² (thermal vibration damps high-angle
    reflections by exp(-B s²) per atom).
    """

    lattice: Lattice
    centring: str
    basis: tuple[Atom, ...]
    debye_waller_b: float = 0.5
    name: str = ""
    extra: dict = field(default_factory=dict, compare=False)

    def __post_init__(self) -> None:
        if self.centring not in CENTRING_TRANSLATIONS:
            raise ValueError(f"unknown centring {self.centring!r}; use one of P, I, F, C")

    def unit_cell_atoms(self) -> tuple[list[str], np.ndarray, np.ndarray]:
        """Elements, fractional positions (M, 3) and occupancies of every atom in the cell."""
        elements: list[str] = []
        positions = []
        occupancies = []
        for shift in CENTRING_TRANSLATIONS[self.centring]:
            for atom in self.basis:
                elements.append(atom.element)
                positions.append(np.mod(np.add(atom.position, shift), 1.0))
                occupancies.append(atom.occupancy)
        return elements, np.array(positions), np.array(occupancies)


def structure_factor(crystal: Crystal, hkl: np.ndarray) -> np.ndarray:
    """Complex kinematic structure factors F(hkl) in Å for Miller indices (N, 3).

    F = Σ_j occ_j f_j(s) exp(-B s²) exp(2πi h·x_j) with electron scattering factors f_j
    (Peng et al. 1996) and one isotropic Debye-Waller factor.
    """
    hkl = np.atleast_2d(np.asarray(hkl, dtype=np.float64))
    g = np.linalg.norm(crystal.lattice.g_vectors(hkl), axis=-1)
    s = 0.5 * g
    elements, positions, occupancies = crystal.unit_cell_atoms()
    phases = np.exp(2j * np.pi * (hkl @ positions.T))  # (N, M)
    amplitudes = np.empty((hkl.shape[0], len(elements)))
    for element in set(elements):
        column = np.array([e == element for e in elements])
        amplitudes[:, column] = electron_scattering_factor(element, s)[:, None]
    amplitudes *= occupancies[None, :] * np.exp(-crystal.debye_waller_b * s**2)[:, None]
    return np.sum(amplitudes * phases, axis=1)


def miller_indices(crystal: Crystal, d_min: float) -> np.ndarray:
    """All non-zero (h, k, l) with d >= d_min, as an (N, 3) int array."""
    recip = crystal.lattice.reciprocal_basis()
    # |h| <= g_max / |component of a* perpendicular to b*, c*| = g_max * |a| (and so on).
    direct = crystal.lattice.direct_basis()
    limits = np.ceil(np.linalg.norm(direct, axis=1) / d_min).astype(int)
    ranges = [np.arange(-n, n + 1) for n in limits]
    grid = np.stack(np.meshgrid(*ranges, indexing="ij"), axis=-1).reshape(-1, 3)
    g = np.linalg.norm(grid @ recip, axis=-1)
    keep = (g > 0) & (g <= 1.0 / d_min)
    return grid[keep]


@dataclass
class Reflections:
    """Allowed reflections of a crystal: Miller indices, d in Å, |F|² in Å²."""

    hkl: np.ndarray
    d: np.ndarray
    intensity: np.ndarray


def allowed_reflections(crystal: Crystal, d_min: float) -> Reflections:
    """Reflections with d >= d_min whose structure factor does not vanish.

    Absences come from the structure factor itself (centring and basis), so both lattice
    absences and those of special basis positions (e.g. the diamond 200) are reproduced.
    """
    hkl = miller_indices(crystal, d_min)
    f = structure_factor(crystal, hkl)
    intensity = np.abs(f) ** 2
    if intensity.size == 0:
        return Reflections(hkl, np.empty(0), np.empty(0))
    keep = intensity > ABSENT_FRACTION * intensity.max()
    hkl = hkl[keep]
    return Reflections(hkl, crystal.lattice.d_spacing(hkl), intensity[keep])


@dataclass
class PowderRings:
    """Debye-Scherrer rings: one entry per distinct d-spacing.

    ``intensity`` sums |F|² over all symmetry-equivalent reflections of the ring (so it includes
    the multiplicity, listed separately in ``multiplicity``).
    """

    d: np.ndarray
    intensity: np.ndarray
    multiplicity: np.ndarray


def powder_rings(crystal: Crystal, d_min: float, d_tolerance: float = 1e-4) -> PowderRings:
    """Group the allowed reflections into rings of equal d (relative tolerance ``d_tolerance``)."""
    refl = allowed_reflections(crystal, d_min)
    return group_rings(refl.d, refl.intensity, d_tolerance)


def group_rings(d: np.ndarray, intensity: np.ndarray, d_tolerance: float = 1e-4) -> PowderRings:
    """Sum reflection intensities into rings of equal d (relative tolerance ``d_tolerance``)."""
    if d.size == 0:
        return PowderRings(np.empty(0), np.empty(0), np.empty(0, dtype=int))
    order = np.argsort(-d)
    d = d[order]
    intensity = intensity[order]
    new_ring = np.r_[True, np.diff(np.log(d)) < -d_tolerance]
    ring_id = np.cumsum(new_ring) - 1
    n_rings = ring_id[-1] + 1
    ring_d = np.zeros(n_rings)
    np.maximum.at(ring_d, ring_id, d)
    return PowderRings(
        d=ring_d,
        intensity=np.bincount(ring_id, weights=intensity, minlength=n_rings),
        multiplicity=np.bincount(ring_id, minlength=n_rings),
    )
