"""The 2-D lattice of a real zone's spot net, from the structure factor and the zone axis."""

from __future__ import annotations

import numpy as np
import pytest

from crystalview.sim.structures import TRAINING_STRUCTURES, to_crystal
from crystalview.sim.zones import classify_net, zone_lattice


def _crystal(name):
    return to_crystal(next(s for s in TRAINING_STRUCTURES if s.name == name))


@pytest.mark.parametrize(
    ("name", "zone", "expected"),
    [
        ("Cu", (0, 0, 1), "square"),  # fcc [001]: 200 and 020
        ("Cu", (1, 1, 1), "hexagonal"),  # fcc [111]: the 220 hexagon
        ("Cu", (1, 1, 0), "centered_rectangular"),  # fcc [110]: 111 centring 002 x 220
        ("Cu", (1, 1, 2), "rectangular"),  # fcc [112]: 111 x 220
        ("Fe", (1, 1, 0), "rectangular"),  # bcc [110]: 1-10 x 002, nothing at the centre
        ("Mg", (0, 0, 1), "hexagonal"),  # hcp [0001]
        ("U", (1, 2, 3), "oblique"),
    ],
)
def test_known_zones(name, zone, expected):
    assert zone_lattice(_crystal(name), zone) == expected


def test_net_types_from_basis_vectors():
    assert classify_net([1, 0], [0, 1]) == "square"
    assert classify_net([1, 0], [0.5, np.sqrt(3) / 2]) == "hexagonal"
    assert classify_net([1, 0], [0, 1.7]) == "rectangular"
    assert classify_net([1, 0], [0.5, 1.3]) == "centered_rectangular"
    assert classify_net([1, 0], [np.cos(1.2), np.sin(1.2)]) == "centered_rectangular"  # rhombic
    assert classify_net([1, 0], [0.3, 1.4]) == "oblique"
    # a non-reduced basis of the square net is still square
    assert classify_net([1, 0], [3, 1]) == "square"


def test_pseudo_symmetric_nets_get_no_label():
    assert classify_net([1, 0], [0, 1.01]) is None  # 1 % off square: not measurable
    assert classify_net([1, 0], [0.02, 1.5]) is None  # 1.3 % off a right angle
