"""Random structures in random space groups: closed orbits, real absences, used by the generator."""

from __future__ import annotations

import numpy as np
import pytest

from crystalview.sim.crystal import Crystal, Lattice, powder_rings
from crystalview.sim.generators import SPACE_GROUP_FRACTION, simulate_one
from crystalview.sim.spacegroups import MAX_ATOMS, _symmetry, random_spacegroup_crystal
from crystalview.sim.structures import expand_sites

LATTICES = {
    "cubic": Lattice(5.0, 5.0, 5.0),
    "hexagonal": Lattice(3.2, 3.2, 5.2, 90.0, 90.0, 120.0),
    "orthorhombic": Lattice(4.1, 5.3, 7.7),
}


def _wrapped_distance(p: np.ndarray, q: np.ndarray) -> np.ndarray:
    return np.abs((p - q + 0.5) % 1.0 - 0.5).max(axis=-1)


@pytest.mark.parametrize("system", sorted(LATTICES))
def test_every_operation_maps_the_cell_onto_itself(system):
    rng = np.random.default_rng(3)
    for _ in range(20):
        crystal, symbol = random_spacegroup_crystal(system, LATTICES[system], rng, ["Fe", "O"])
        number = next(n for n in range(1, 231) if _symmetry(n)[0] == symbol)
        rotations, translations = _symmetry(number)[1]
        positions = np.array([atom.position for atom in crystal.basis])
        assert 0 < len(positions) <= MAX_ATOMS
        # No two atoms share a position.
        pairwise = _wrapped_distance(positions[:, None], positions[None])
        assert (pairwise[~np.eye(len(positions), dtype=bool)] > 1e-4).all()
        # Every operation sends every atom onto an atom of the same element.
        elements = np.array([atom.element for atom in crystal.basis])
        for rotation, translation in zip(rotations, translations, strict=True):
            moved = positions @ rotation.T + translation
            nearest = _wrapped_distance(moved[:, None], positions[None]).argmin(axis=1)
            assert (_wrapped_distance(moved, positions[nearest]) < 1e-3).all()
            assert (elements[nearest] == elements).all()


def test_glide_planes_remove_reflections_that_centring_alone_keeps():
    """A15 (Cr3Si, Pm-3n): 100 and 111 are absent although the lattice is primitive."""
    atoms = expand_sites("P m -3 n", (("Si", (0.0, 0.0, 0.0)), ("Cr", (0.25, 0.0, 0.5))))
    assert len(atoms) == 8
    rings = powder_rings(Crystal(Lattice(4.56, 4.56, 4.56), "P", atoms, 0.5), d_min=1.2)
    squares = np.round(4.56**2 / rings.d**2).astype(int)
    assert 1 not in squares and 3 not in squares
    assert {2, 4, 5, 6} <= set(squares.tolist())


def test_draws_cover_non_symmorphic_groups_of_each_family():
    rng = np.random.default_rng(11)
    for system, lattice in LATTICES.items():
        symbols = {random_spacegroup_crystal(system, lattice, rng, ["Si"])[1] for _ in range(60)}
        # Groups with a glide plane written on its own in the symbol (P b c a, P m -3 n, ...).
        glide = {s for s in symbols if any(ch in s.split()[1:] for ch in "abcden")}
        assert len(symbols) >= 15
        assert glide, system


def test_ring_generator_draws_space_group_crystals():
    families = [simulate_one("rings", i, 64, 41, "train").params["family"] for i in range(60)]
    drawn = sum("space group" in f for f in families)
    # About (1 - 0.45) x SPACE_GROUP_FRACTION of the patterns.
    assert 0.15 * 60 < drawn < 0.6 * 60, (drawn, SPACE_GROUP_FRACTION)
