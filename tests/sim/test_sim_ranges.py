"""Ring-pattern crystals cover real lattices, and held-out data reach beyond training."""

from __future__ import annotations

import numpy as np
import pytest

from crystalview.sim.generators import (
    RING_LATTICE_RANGES,
    random_ring_crystal,
    ring_lattice_in_training_ranges,
)


def _params(crystal) -> dict:
    lattice = crystal.lattice
    return {"a": lattice.a, "b": lattice.b, "c": lattice.c}


@pytest.mark.parametrize("system", ["cubic", "hexagonal", "orthorhombic"])
def test_training_crystals_lie_inside_the_training_ranges(system):
    rng = np.random.default_rng(5)
    for _ in range(200):
        crystal = random_ring_crystal(system, rng, "train")
        assert ring_lattice_in_training_ranges(system, _params(crystal))


@pytest.mark.parametrize("system", ["cubic", "hexagonal", "orthorhombic"])
def test_heldout_crystals_include_some_outside_the_training_ranges(system):
    rng = np.random.default_rng(6)
    inside = [
        ring_lattice_in_training_ranges(
            system, _params(random_ring_crystal(system, rng, "heldout"))
        )
        for _ in range(300)
    ]
    # Three independent orthorhombic edges may each leave the range: about half stay inside.
    assert 0.4 < np.mean(inside) < 0.97


def test_hexagonal_c_over_a_spans_real_crystals():
    """From CaCu5-type intermetallics (0.8) to graphite (2.73) and 2H-MoS2 (3.89)."""
    low, high = RING_LATTICE_RANGES["train"]["hexagonal_c_over_a"]
    assert low <= 0.8 and high >= 3.89
    rng = np.random.default_rng(7)
    lattices = [random_ring_crystal("hexagonal", rng, "train").lattice for _ in range(400)]
    ratios = np.array([lattice.c / lattice.a for lattice in lattices])
    assert ratios.min() >= low and ratios.max() <= high
    # evenly in log: as many layered (c/a > 2.5) as compact (c/a < 1.2) cells, roughly
    assert abs(np.mean(ratios > 2.5) - np.mean(ratios < 1.2)) < 0.12


def test_orthorhombic_edges_stay_clear_of_tetragonal():
    rng = np.random.default_rng(8)
    for _ in range(200):
        lattice = random_ring_crystal("orthorhombic", rng, "train").lattice
        a, b, c = sorted((lattice.a, lattice.b, lattice.c))
        assert b / a > 1.08 and c / b > 1.08


def test_unknown_system_has_no_ranges():
    with pytest.raises(ValueError, match="no training ranges"):
        ring_lattice_in_training_ranges("triclinic", {"a": 3.0, "b": 3.0, "c": 3.0})
