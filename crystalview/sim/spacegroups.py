"""Random crystal structures in random space groups: the absences that centring alone never makes.

A random lattice with a centring and a few atoms (`generators.random_ring_crystal`) shows the
absences of P, I, F and C only. Real crystals also lose reflections to glide planes and screw
axes (A15 in Pm-3n, pyrite in Pa-3, iodine in Cmce, every Pnma perovskite), and a model that
never saw those absences reads such patterns as another crystal system. Here a space group is
drawn from all those of the crystal family, a few Wyckoff sites are placed on it (coordinates
often on the special values real structures use) and gemmi's symmetry operations expand them,
so every absence comes out of the structure factor, as for the library of real structures.
"""

from __future__ import annotations

from functools import cache

import numpy as np

from crystalview.sim.crystal import Atom, Crystal, Lattice
from crystalview.sim.structures import expand_site, overlaps, symmetry_matrices

# International Tables numbers of each crystal family the ring model tells apart. "hexagonal"
# is the hexagonal crystal family: trigonal groups (rhombohedral ones in hexagonal axes, as
# corundum and calcite) and hexagonal ones.
SPACE_GROUP_NUMBERS: dict[str, range] = {
    "orthorhombic": range(16, 75),
    "tetragonal": range(75, 143),
    "hexagonal": range(143, 195),
    "cubic": range(195, 231),
}
# Coordinates real structures put atoms on, besides general positions.
_SPECIAL_VALUES = (0.0, 0.0, 0.5, 0.25, 0.75, 0.125, 0.375)
_HEXAGONAL_SPECIAL_VALUES = (0.0, 0.0, 0.5, 1 / 3, 2 / 3, 0.25, 1 / 6)
# A cell holding more atoms than this is redrawn: it costs structure-factor time and adds
# nothing a smaller cell of the same group does not show.
MAX_ATOMS = 96


@cache
def _symmetry(number: int) -> tuple[str, tuple[np.ndarray, np.ndarray]]:
    """Symbol and symmetry matrices of space group ``number`` in its reference setting."""
    import gemmi

    group = gemmi.find_spacegroup_by_number(number)
    return group.xhm(), symmetry_matrices(group.operations())


def _coordinate(rng: np.random.Generator, special: tuple[float, ...]) -> float:
    if rng.random() < 0.6:
        return float(special[int(rng.integers(len(special)))])
    return float(rng.uniform(0.0, 1.0))


def random_spacegroup_crystal(
    system: str,
    lattice: Lattice,
    rng: np.random.Generator,
    elements: list[str],
) -> tuple[Crystal, str]:
    """A crystal of ``lattice`` in a random space group of ``system``, one site per element.

    Returns the crystal (centring P: the group's operations already hold its centring) and the
    space group's symbol. A site that finds no free position in eight draws is left out, and
    a cell of more than `MAX_ATOMS` atoms is drawn again.
    """
    special = _HEXAGONAL_SPECIAL_VALUES if system == "hexagonal" else _SPECIAL_VALUES
    numbers = SPACE_GROUP_NUMBERS[system]
    while True:
        symbol, symmetry = _symmetry(int(rng.choice(numbers)))
        atoms: list[Atom] = []
        for element in elements:
            for _ in range(8):  # a free position: one that no earlier site took
                xyz = tuple(_coordinate(rng, special) for _ in range(3))
                orbit = expand_site(symmetry, element, xyz)
                if not overlaps(orbit, atoms):
                    break
            else:
                continue
            atoms.extend(orbit)
        if 0 < len(atoms) <= MAX_ATOMS:
            break
    b_factor = float(rng.uniform(0.2, 1.5))
    return Crystal(lattice, "P", tuple(atoms), b_factor, name=f"{system} {symbol}"), symbol
