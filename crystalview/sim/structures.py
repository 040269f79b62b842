"""Real crystal structures: a library of prototypes for training, and structures read from CIFs.

Random lattices teach a model what a crystal system allows; real structures teach it what real
patterns look like: the hcp metals' c/a near 1.63, the strong low-index rings of rock salt, the
pseudo-cubic cells of Pnma perovskites, the one-atom orthorhombic cells of α-U and Ga. Each
entry gives a space group, a cell from the literature (room temperature, Å) and the Wyckoff
sites; the space group's operations (from gemmi, which ships every setting of the International
Tables offline) expand the sites into the full cell, so absences come out of the structure
factor as for every other crystal.

The compounds here are the ones the built-in models train on. The independent validation set in
``benchmarks/independent_sim`` uses other compounds and prototypes, built by other code; keep the
two lists apart.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from functools import cache, lru_cache
from pathlib import Path

import numpy as np

from crystalview.core.errors import CrystalViewError
from crystalview.sim.crystal import Atom, Crystal, Lattice

# Positions closer than this (fractional) are one site after expansion.
_SAME_SITE = 1e-4
# No two atoms of a real structure come closer than this (Å): the shortest bond in the library
# is C-O in a carbonate, 1.28 Å.
MIN_BOND = 1.2


@dataclass(frozen=True)
class Structure:
    """One real compound: its family (prototype), crystal system, space group, cell and sites."""

    name: str
    family: str
    system: str
    spacegroup: str
    cell: tuple[float, float, float, float, float, float]
    sites: tuple[tuple[str, tuple[float, float, float]], ...]


def _cubic(a: float) -> tuple[float, ...]:
    return (a, a, a, 90.0, 90.0, 90.0)


def _hexagonal(a: float, c: float) -> tuple[float, ...]:
    return (a, a, c, 90.0, 90.0, 120.0)


def _orthorhombic(a: float, b: float, c: float) -> tuple[float, ...]:
    return (a, b, c, 90.0, 90.0, 90.0)


def _family(family, system, spacegroup, sites, compounds):
    """Structures of one prototype: ``compounds`` are (name, {placeholder: element}, cell)."""
    out = []
    for name, elements, cell in compounds:
        placed = tuple((elements.get(label, label), xyz) for label, xyz in sites)
        out.append(Structure(name, family, system, spacegroup, tuple(cell), placed))
    return out


ORIGIN = (0.0, 0.0, 0.0)
HALF = (0.5, 0.5, 0.5)
QUARTER = (0.25, 0.25, 0.25)
HCP_SITE = (1 / 3, 2 / 3, 0.25)

TRAINING_STRUCTURES: tuple[Structure, ...] = tuple(
    _family(
        "fcc metal",
        "cubic",
        "F m -3 m",
        [("A", ORIGIN)],
        [
            (el, {"A": el}, _cubic(a))
            for el, a in [
                ("Cu", 3.615),
                ("Al", 4.049),
                ("Ni", 3.524),
                ("Ag", 4.086),
                ("Pt", 3.924),
                ("Pb", 4.950),
                ("Ca", 5.588),
            ]
        ],
    )
    + _family(
        "bcc metal",
        "cubic",
        "I m -3 m",
        [("A", ORIGIN)],
        [
            (el, {"A": el}, _cubic(a))
            for el, a in [
                ("Fe", 2.866),
                ("Cr", 2.885),
                ("Mo", 3.147),
                ("W", 3.165),
                ("Na", 4.291),
                ("Ba", 5.028),
            ]
        ],
    )
    + _family(
        "diamond",
        "cubic",
        "F d -3 m:1",
        [("A", ORIGIN)],
        [(el, {"A": el}, _cubic(a)) for el, a in [("Si", 5.431), ("Ge", 5.658), ("C", 3.567)]],
    )
    + _family(
        "rock salt",
        "cubic",
        "F m -3 m",
        [("A", ORIGIN), ("B", HALF)],
        [
            ("NaCl", {"A": "Na", "B": "Cl"}, _cubic(5.640)),
            ("MgO", {"A": "Mg", "B": "O"}, _cubic(4.212)),
            ("KCl", {"A": "K", "B": "Cl"}, _cubic(6.293)),
            ("NiO", {"A": "Ni", "B": "O"}, _cubic(4.177)),
            ("TiN", {"A": "Ti", "B": "N"}, _cubic(4.240)),
            ("PbS", {"A": "Pb", "B": "S"}, _cubic(5.936)),
        ],
    )
    + _family(
        "CsCl",
        "cubic",
        "P m -3 m",
        [("A", ORIGIN), ("B", HALF)],
        [
            ("CsCl", {"A": "Cs", "B": "Cl"}, _cubic(4.123)),
            ("NiAl", {"A": "Ni", "B": "Al"}, _cubic(2.887)),
            ("CuZn", {"A": "Cu", "B": "Zn"}, _cubic(2.952)),
        ],
    )
    + _family(
        "fluorite",
        "cubic",
        "F m -3 m",
        [("A", ORIGIN), ("B", QUARTER)],
        [
            ("CaF2", {"A": "Ca", "B": "F"}, _cubic(5.463)),
            ("CeO2", {"A": "Ce", "B": "O"}, _cubic(5.411)),
            ("ZrO2", {"A": "Zr", "B": "O"}, _cubic(5.070)),
        ],
    )
    + _family(
        "zinc blende",
        "cubic",
        "F -4 3 m",
        [("A", ORIGIN), ("B", QUARTER)],
        [
            ("ZnS", {"A": "Zn", "B": "S"}, _cubic(5.409)),
            ("GaAs", {"A": "Ga", "B": "As"}, _cubic(5.653)),
            ("SiC-3C", {"A": "Si", "B": "C"}, _cubic(4.359)),
            ("CdTe", {"A": "Cd", "B": "Te"}, _cubic(6.481)),
        ],
    )
    + _family(
        "cubic perovskite",
        "cubic",
        "P m -3 m",
        [("B", ORIGIN), ("A", HALF), ("X", (0.5, 0.0, 0.0))],
        [
            ("SrTiO3", {"A": "Sr", "B": "Ti", "X": "O"}, _cubic(3.905)),
            ("BaTiO3", {"A": "Ba", "B": "Ti", "X": "O"}, _cubic(4.000)),
            ("KTaO3", {"A": "K", "B": "Ta", "X": "O"}, _cubic(3.989)),
        ],
    )
    + _family(
        "L12",
        "cubic",
        "P m -3 m",
        [("A", ORIGIN), ("B", (0.0, 0.5, 0.5))],
        [
            ("Cu3Au", {"A": "Au", "B": "Cu"}, _cubic(3.749)),
            ("Ni3Al", {"A": "Al", "B": "Ni"}, _cubic(3.572)),
        ],
    )
    + _family(
        "spinel",
        "cubic",
        "F d -3 m:2",
        [("A", (0.125, 0.125, 0.125)), ("B", HALF), ("X", (0.263, 0.263, 0.263))],
        [("MgAl2O4", {"A": "Mg", "B": "Al", "X": "O"}, _cubic(8.083))],
    )
    + _family(
        "C15 Laves",
        "cubic",
        "F d -3 m:1",
        [("A", ORIGIN), ("B", (0.625, 0.625, 0.625))],
        [
            ("MgCu2", {"A": "Mg", "B": "Cu"}, _cubic(7.048)),
            ("CeAl2", {"A": "Ce", "B": "Al"}, _cubic(8.062)),
        ],
    )
    + [
        s
        for name, el, a, x_metal, x_si in [
            ("FeSi", ("Fe", "Si"), 4.489, 0.1358, 0.844),
            ("MnSi", ("Mn", "Si"), 4.558, 0.138, 0.845),
        ]
        for s in _family(
            "B20",
            "cubic",
            "P 21 3",
            [("A", (x_metal,) * 3), ("B", (x_si,) * 3)],
            [(name, {"A": el[0], "B": el[1]}, _cubic(a))],
        )
    ]
    + _family(
        "Heusler L21",
        "cubic",
        "F m -3 m",
        [("X", QUARTER), ("Y", ORIGIN), ("Z", HALF)],
        [
            ("Cu2MnAl", {"X": "Cu", "Y": "Mn", "Z": "Al"}, _cubic(5.950)),
            ("Co2MnSi", {"X": "Co", "Y": "Mn", "Z": "Si"}, _cubic(5.654)),
        ],
    )
    + _family(
        "skutterudite",
        "cubic",
        "I m -3",
        [("A", QUARTER), ("X", (0.0, 0.335, 0.159))],
        [
            ("CoAs3", {"A": "Co", "X": "As"}, _cubic(8.204)),
            ("CoSb3", {"A": "Co", "X": "Sb"}, _cubic(9.035)),
        ],
    )
    + _family(
        "CaB6",
        "cubic",
        "P m -3 m",
        [("A", ORIGIN), ("B", (0.201, 0.5, 0.5))],
        [
            ("CaB6", {"A": "Ca"}, _cubic(4.145)),
            ("LaB6", {"A": "La"}, _cubic(4.157)),
        ],
    )
    + _family(
        "anti-perovskite",
        "cubic",
        "P m -3 m",
        [("M", ORIGIN), ("M", (0.0, 0.5, 0.5)), ("X", HALF)],
        [
            ("Fe4N", {"M": "Fe", "X": "N"}, _cubic(3.795)),
            ("Mn4N", {"M": "Mn", "X": "N"}, _cubic(3.865)),
        ],
    )
    + _family(
        "bixbyite",
        "cubic",
        "I a -3",
        [("A", QUARTER), ("A", (-0.033, 0.0, 0.25)), ("X", (0.391, 0.152, 0.381))],
        [
            ("Y2O3", {"A": "Y", "X": "O"}, _cubic(10.604)),
            ("In2O3", {"A": "In", "X": "O"}, _cubic(10.117)),
        ],
    )
    + _family(
        "hcp metal",
        "hexagonal",
        "P 63/m m c",
        [("A", HCP_SITE)],
        [
            (el, {"A": el}, _hexagonal(a, c))
            for el, a, c in [
                ("Mg", 3.209, 5.211),
                ("Ti", 2.951, 4.686),
                ("Zn", 2.665, 4.947),
                ("Zr", 3.232, 5.147),
                ("Be", 2.286, 3.584),
                ("Re", 2.761, 4.456),
                ("Y", 3.647, 5.731),
            ]
        ],
    )
    + [
        s
        for name, el, a, c, u in [
            ("ZnO", ("Zn", "O"), 3.250, 5.207, 0.382),
            ("GaN", ("Ga", "N"), 3.189, 5.185, 0.377),
            ("CdS", ("Cd", "S"), 4.136, 6.714, 0.377),
        ]
        for s in _family(
            "wurtzite",
            "hexagonal",
            "P 63 m c",
            [("A", (1 / 3, 2 / 3, 0.0)), ("B", (1 / 3, 2 / 3, u))],
            [(name, {"A": el[0], "B": el[1]}, _hexagonal(a, c))],
        )
    ]
    + _family(
        "WC",
        "hexagonal",
        "P -6 m 2",
        [("A", ORIGIN), ("B", (1 / 3, 2 / 3, 0.5))],
        [
            ("WC", {"A": "W", "B": "C"}, _hexagonal(2.906, 2.837)),
            ("MoC", {"A": "Mo", "B": "C"}, _hexagonal(2.932, 2.814)),
        ],
    )
    + _family(
        "graphite",
        "hexagonal",
        "P 63/m m c",
        [("A", (0.0, 0.0, 0.25)), ("B", HCP_SITE)],
        [
            ("graphite", {"A": "C", "B": "C"}, _hexagonal(2.464, 6.711)),
        ],
    )
    + _family(
        "h-BN",
        "hexagonal",
        "P 63/m m c",
        [("A", HCP_SITE), ("B", (1 / 3, 2 / 3, 0.75))],
        [("h-BN", {"A": "B", "B": "N"}, _hexagonal(2.504, 6.661))],
    )
    + _family(
        "2H-MoS2",
        "hexagonal",
        "P 63/m m c",
        [("M", HCP_SITE), ("X", (1 / 3, 2 / 3, 0.621))],
        [
            ("MoS2", {"M": "Mo", "X": "S"}, _hexagonal(3.160, 12.295)),
            ("WSe2", {"M": "W", "X": "Se"}, _hexagonal(3.282, 12.960)),
        ],
    )
    + _family(
        "AlB2",
        "hexagonal",
        "P 6/m m m",
        [("A", ORIGIN), ("B", (1 / 3, 2 / 3, 0.5))],
        [
            ("MgB2", {"A": "Mg", "B": "B"}, _hexagonal(3.086, 3.524)),
            ("TiB2", {"A": "Ti", "B": "B"}, _hexagonal(3.029, 3.229)),
        ],
    )
    + _family(
        "CaCu5",
        "hexagonal",
        "P 6/m m m",
        [("A", ORIGIN), ("B", (1 / 3, 2 / 3, 0.0)), ("B", (0.5, 0.0, 0.5))],
        [
            ("CaCu5", {"A": "Ca", "B": "Cu"}, _hexagonal(5.092, 4.086)),
            ("LaNi5", {"A": "La", "B": "Ni"}, _hexagonal(5.017, 3.987)),
        ],
    )
    + _family(
        "CdI2",
        "hexagonal",
        "P -3 m 1",
        [("A", ORIGIN), ("X", (1 / 3, 2 / 3, 0.25))],
        [
            ("CdI2", {"A": "Cd", "X": "I"}, _hexagonal(4.240, 6.840)),
            ("TiS2", {"A": "Ti", "X": "S"}, _hexagonal(3.407, 5.695)),
        ],
    )
    + _family(
        "corundum",
        "hexagonal",
        "R -3 c:H",
        [("A", (0.0, 0.0, 0.352)), ("X", (0.306, 0.0, 0.25))],
        [("Al2O3", {"A": "Al", "X": "O"}, _hexagonal(4.759, 12.991))],
    )
    + _family(
        "calcite",
        "hexagonal",
        "R -3 c:H",
        [("A", ORIGIN), ("C", (0.0, 0.0, 0.25)), ("X", (0.257, 0.0, 0.25))],
        [("CaCO3-calcite", {"A": "Ca", "X": "O"}, _hexagonal(4.990, 17.061))],
    )
    + _family(
        "C14 Laves",
        "hexagonal",
        "P 63/m m c",
        [("A", (1 / 3, 2 / 3, 0.063)), ("B", ORIGIN), ("B", (0.8305, 0.661, 0.25))],
        [
            ("MgZn2", {"A": "Mg", "B": "Zn"}, _hexagonal(5.221, 8.567)),
            ("TiFe2", {"A": "Ti", "B": "Fe"}, _hexagonal(4.785, 7.799)),
        ],
    )
    + _family(
        "DO19",
        "hexagonal",
        "P 63/m m c",
        [("B", (5 / 6, 2 / 3, 0.25)), ("A", HCP_SITE)],
        [
            ("Ni3Sn", {"A": "Sn", "B": "Ni"}, _hexagonal(5.29, 4.24)),
            ("Ti3Al", {"A": "Al", "B": "Ti"}, _hexagonal(5.78, 4.64)),
        ],
    )
    + _family(
        "Fe2P",
        "hexagonal",
        "P -6 2 m",
        [
            ("M", (0.2568, 0.0, 0.0)),
            ("M", (0.5946, 0.0, 0.5)),
            ("X", (1 / 3, 2 / 3, 0.0)),
            ("X", (0.0, 0.0, 0.5)),
        ],
        [("Fe2P", {"M": "Fe", "X": "P"}, _hexagonal(5.865, 3.456))],
    )
    + _family(
        "beta-Si3N4",
        "hexagonal",
        "P 63/m",
        [("A", (0.1744, 0.7675, 0.25)), ("X", (0.3297, 0.0302, 0.25)), ("X", HCP_SITE)],
        [("Si3N4", {"A": "Si", "X": "N"}, _hexagonal(7.604, 2.907))],
    )
    + [
        s
        for el, a, c, z in [
            ("Bi", 4.546, 11.862, 0.2339),
            ("Sb", 4.307, 11.273, 0.2336),
            ("As", 3.760, 10.548, 0.2271),
        ]
        for s in _family(
            "A7 semimetal",
            "hexagonal",
            "R -3 m:H",
            [("A", (0.0, 0.0, z))],
            [(el, {"A": el}, _hexagonal(a, c))],
        )
    ]
    + _family(
        "ilmenite",
        "hexagonal",
        "R -3:H",
        [("A", (0.0, 0.0, 0.3554)), ("B", (0.0, 0.0, 0.1464)), ("X", (0.3172, 0.0234, 0.2450))],
        [("FeTiO3", {"A": "Fe", "B": "Ti", "X": "O"}, _hexagonal(5.088, 14.086))],
    )
    + _family(
        "A-type La2O3",
        "hexagonal",
        "P -3 m 1",
        [("A", (1 / 3, 2 / 3, 0.2467)), ("X", (1 / 3, 2 / 3, 0.647)), ("X", ORIGIN)],
        [("La2O3", {"A": "La", "X": "O"}, _hexagonal(3.938, 6.136))],
    )
    + _family(
        "Pnma perovskite",
        "orthorhombic",
        "P n m a",
        [
            ("A", (0.036, 0.25, 0.991)),
            ("B", (0.0, 0.0, 0.5)),
            ("X", (0.484, 0.25, 0.078)),
            ("X", (0.289, 0.039, 0.711)),
        ],
        [
            ("CaTiO3", {"A": "Ca", "B": "Ti", "X": "O"}, _orthorhombic(5.447, 7.654, 5.388)),
            ("GdFeO3", {"A": "Gd", "B": "Fe", "X": "O"}, _orthorhombic(5.349, 7.668, 5.611)),
            ("YAlO3", {"A": "Y", "B": "Al", "X": "O"}, _orthorhombic(5.180, 7.370, 5.330)),
            ("MgSiO3", {"A": "Mg", "B": "Si", "X": "O"}, _orthorhombic(4.780, 6.910, 4.930)),
            ("LaGaO3", {"A": "La", "B": "Ga", "X": "O"}, _orthorhombic(5.496, 7.779, 5.526)),
            ("SrRuO3", {"A": "Sr", "B": "Ru", "X": "O"}, _orthorhombic(5.567, 7.845, 5.530)),
            ("NaMgF3", {"A": "Na", "B": "Mg", "X": "F"}, _orthorhombic(5.363, 7.676, 5.503)),
            # cells within 0.5 % of a cubic metric: only the tilts' weak rings say orthorhombic
            ("SrSnO3", {"A": "Sr", "B": "Sn", "X": "O"}, _orthorhombic(5.708, 8.069, 5.704)),
            ("NdNiO3", {"A": "Nd", "B": "Ni", "X": "O"}, _orthorhombic(5.387, 7.608, 5.383)),
            ("LaCrO3", {"A": "La", "B": "Cr", "X": "O"}, _orthorhombic(5.479, 7.756, 5.515)),
            ("BaCeO3", {"A": "Ba", "B": "Ce", "X": "O"}, _orthorhombic(6.215, 8.775, 6.239)),
        ],
    )
    + _family(
        "olivine",
        "orthorhombic",
        "P n m a",
        [
            ("M", ORIGIN),
            ("N", (0.277, 0.25, 0.991)),
            ("T", (0.094, 0.25, 0.427)),
            ("X", (0.092, 0.25, 0.766)),
            ("X", (0.448, 0.25, 0.221)),
            ("X", (0.163, 0.033, 0.278)),
        ],
        [("Mg2SiO4", {"M": "Mg", "N": "Mg", "T": "Si", "X": "O"}, (10.20, 5.98, 4.76, 90, 90, 90))],
    )
    + _family(
        "aragonite",
        "orthorhombic",
        "P n m a",
        [
            ("A", (0.760, 0.25, 0.415)),
            ("C", (0.914, 0.25, 0.762)),
            ("X", (0.904, 0.25, 0.923)),
            ("X", (0.914, 0.474, 0.681)),
        ],
        [
            ("CaCO3-aragonite", {"A": "Ca", "X": "O"}, _orthorhombic(5.741, 4.961, 7.967)),
            ("BaCO3", {"A": "Ba", "X": "O"}, _orthorhombic(6.430, 5.314, 8.904)),
        ],
    )
    + _family(
        "alpha-U",
        "orthorhombic",
        "C m c m",
        [("A", (0.0, 0.1025, 0.25))],
        [("U", {"A": "U"}, _orthorhombic(2.854, 5.869, 4.955))],
    )
    + _family(
        "alpha-Ga",
        "orthorhombic",
        "C m c e",
        [("A", (0.0, 0.1549, 0.0810))],
        [("Ga", {"A": "Ga"}, _orthorhombic(4.5192, 7.6586, 4.5258))],
    )
    + _family(
        "FeB",
        "orthorhombic",
        "P n m a",
        [("A", (0.177, 0.25, 0.123)), ("B", (0.029, 0.25, 0.603))],
        [
            ("TiB", {"A": "Ti", "B": "B"}, _orthorhombic(6.120, 3.060, 4.560)),
            ("FeB", {"A": "Fe", "B": "B"}, _orthorhombic(5.506, 2.952, 4.061)),
        ],
    )
    + _family(
        "SnS",
        "orthorhombic",
        "P n m a",
        [("A", (0.118, 0.25, 0.120)), ("B", (0.852, 0.25, 0.478))],
        [
            ("SnS", {"A": "Sn", "B": "S"}, _orthorhombic(11.200, 3.990, 4.330)),
            ("GeS", {"A": "Ge", "B": "S"}, _orthorhombic(10.470, 3.640, 4.300)),
        ],
    )
    + _family(
        "CrB",
        "orthorhombic",
        "C m c m",
        [("A", (0.0, 0.146, 0.25)), ("B", (0.0, 0.440, 0.25))],
        [
            ("CrB", {"A": "Cr"}, _orthorhombic(2.969, 7.858, 2.932)),
            ("TaB", {"A": "Ta"}, _orthorhombic(3.276, 8.669, 3.157)),
        ],
    )
    + _family(
        "alpha-PbO2",
        "orthorhombic",
        "P b c n",
        [("A", (0.0, 0.1784, 0.25)), ("X", (0.2719, 0.4009, 0.4196))],
        [
            ("PbO2", {"A": "Pb", "X": "O"}, _orthorhombic(4.947, 5.951, 5.497)),
            ("TiO2-II", {"A": "Ti", "X": "O"}, _orthorhombic(4.531, 5.498, 4.900)),
        ],
    )
    + _family(
        "brookite",
        "orthorhombic",
        "P b c a",
        [
            ("A", (0.1289, 0.0972, 0.8628)),
            ("X", (0.0101, 0.1486, 0.1824)),
            ("X", (0.2304, 0.1130, 0.5371)),
        ],
        [("TiO2-brookite", {"A": "Ti", "X": "O"}, _orthorhombic(9.184, 5.447, 5.145))],
    )
    + _family(
        "barite",
        "orthorhombic",
        "P n m a",
        [
            ("A", (0.1846, 0.25, 0.1583)),
            ("T", (0.0625, 0.25, 0.6913)),
            ("X", (0.9080, 0.25, 0.5960)),
            ("X", (0.1930, 0.25, 0.5430)),
            ("X", (0.0806, 0.0306, 0.8108)),
        ],
        [
            ("BaSO4", {"A": "Ba", "T": "S", "X": "O"}, _orthorhombic(8.884, 5.457, 7.157)),
            ("SrSO4", {"A": "Sr", "T": "S", "X": "O"}, _orthorhombic(8.359, 5.352, 6.866)),
        ],
    )
    + _family(
        "cotunnite",
        "orthorhombic",
        "P n m a",
        [
            ("A", (0.2621, 0.25, 0.0955)),
            ("X", (0.8596, 0.25, 0.0744)),
            ("X", (0.4750, 0.25, 0.8325)),
        ],
        [
            ("PbCl2", {"A": "Pb", "X": "Cl"}, _orthorhombic(7.620, 4.534, 9.045)),
            ("BaCl2", {"A": "Ba", "X": "Cl"}, _orthorhombic(7.865, 4.731, 9.421)),
        ],
    )
    + _family(
        "KHg2",
        "orthorhombic",
        "I m m a",
        [("A", (0.0, 0.25, 0.538)), ("B", (0.0, 0.051, 0.165))],
        [("CeCu2", {"A": "Ce", "B": "Cu"}, _orthorhombic(4.43, 7.06, 7.47))],
    )
    + _family(
        "B19",
        "orthorhombic",
        "P m m a",
        [("A", (0.25, 0.0, 0.31)), ("B", (0.25, 0.5, 0.81))],
        [("AuCd", {"A": "Au", "B": "Cd"}, _orthorhombic(4.76, 3.15, 4.86))],
    )
)


def symmetry_matrices(operations) -> tuple[np.ndarray, np.ndarray]:
    """gemmi operations as rotations (n, 3, 3) and translations (n, 3) on fractional xyz."""
    ops = list(operations)
    rotations = np.array([op.rot for op in ops], dtype=np.float64) / ops[0].DEN
    translations = np.array([op.tran for op in ops], dtype=np.float64) / ops[0].DEN
    return rotations, translations


def _distinct_positions(positions: np.ndarray) -> np.ndarray:
    """``positions`` (n, 3) wrapped into the cell, each kept once (closer than `_SAME_SITE`)."""
    wrapped = np.mod(positions, 1.0)
    wrapped[np.isclose(wrapped, 1.0, atol=_SAME_SITE)] = 0.0
    keys = np.round(wrapped / _SAME_SITE).astype(np.int64) % round(1 / _SAME_SITE)
    _, first = np.unique(keys, axis=0, return_index=True)
    return wrapped[np.sort(first)]


def expand_site(
    symmetry: tuple[np.ndarray, np.ndarray], element: str, xyz: tuple[float, float, float]
) -> list[Atom]:
    """The orbit of one site: ``xyz`` moved by every operation, each position kept once."""
    rotations, translations = symmetry
    positions = _distinct_positions(rotations @ np.asarray(xyz, dtype=np.float64) + translations)
    return [Atom(element, tuple(float(v) for v in p)) for p in positions]


def overlaps(orbit: list[Atom], atoms: list[Atom]) -> bool:
    """Whether any atom of ``orbit`` sits where one of ``atoms`` already is."""
    if not orbit or not atoms:
        return False
    p = np.array([a.position for a in orbit])[:, None]
    q = np.array([a.position for a in atoms])[None]
    return bool(np.any(np.all(np.abs((p - q + 0.5) % 1.0 - 0.5) < _SAME_SITE, axis=-1)))


@cache
def group_symmetry(spacegroup: str) -> tuple[np.ndarray, np.ndarray]:
    """Symmetry matrices of a space group given by its Hermann-Mauguin symbol."""
    import gemmi

    group = gemmi.find_spacegroup_by_name(spacegroup)
    if group is None:
        raise CrystalViewError(f"unknown space group {spacegroup!r}")
    return symmetry_matrices(group.operations())


# Bounded: the library's structures are asked for again and again, displaced sites
# (`displaced_sites`) once each.
@lru_cache(maxsize=1024)
def expand_sites(
    spacegroup: str, sites: tuple[tuple[str, tuple[float, float, float]], ...]
) -> tuple[Atom, ...]:
    """Every atom of the cell: each site moved by every operation of the space group."""
    symmetry = group_symmetry(spacegroup)
    return tuple(atom for element, xyz in sites for atom in expand_site(symmetry, element, xyz))


def to_crystal(structure: Structure, debye_waller_b: float = 0.5) -> Crystal:
    """The structure as a `Crystal`: a primitive-setting cell holding every atom (centring P)."""
    lattice = Lattice(*structure.cell)
    atoms = expand_sites(structure.spacegroup, structure.sites)
    return Crystal(lattice, "P", atoms, debye_waller_b, name=structure.name)


def displaced_sites(
    structure: Structure, rng: np.random.Generator, amplitude: float
) -> tuple[tuple[str, tuple[float, float, float]], ...]:
    """The structure's sites with every free coordinate moved by up to ``amplitude``.

    Compounds of one prototype differ in their free parameters (the octahedral tilts of a Pnma
    perovskite, the u of wurtzite), and with them in the strength of the weak rings that
    tell the crystal system; one set of coordinates per prototype teaches a single strength.
    A coordinate is free when moving it keeps the size of the site's orbit: a move off a
    mirror or an axis would multiply the site, so it is not made. The move is dropped when
    any two atoms would come closer than `MIN_BOND` or than 0.9 x their closest approach.
    """
    symmetry = group_symmetry(structure.spacegroup)
    moved = []
    for element, xyz in structure.sites:
        size = len(expand_site(symmetry, element, xyz))
        position = list(xyz)
        for axis in range(3):
            trial = position.copy()
            trial[axis] += float(rng.uniform(-amplitude, amplitude))
            if len(expand_site(symmetry, element, tuple(trial))) == size:
                position = trial
        moved.append((element, tuple(position)))
    moved_sites = tuple(moved)
    lattice = Lattice(*structure.cell)
    before = closest_approach(lattice, expand_sites(structure.spacegroup, structure.sites))
    after = closest_approach(lattice, expand_sites(structure.spacegroup, moved_sites))
    if after < max(MIN_BOND, 0.9 * before):
        return structure.sites
    return moved_sites


def closest_approach(lattice: Lattice, atoms: tuple[Atom, ...]) -> float:
    """The shortest distance (Å) between two atoms of the crystal, across cell edges."""
    positions = np.array([atom.position for atom in atoms])
    if len(positions) < 2:
        return float("inf")
    offsets = (positions[:, None] - positions[None] + 0.5) % 1.0 - 0.5
    distances = np.linalg.norm(offsets @ lattice.direct_basis(), axis=-1)
    np.fill_diagonal(distances, np.inf)
    return float(distances.min())


def jittered(
    structure: Structure,
    rng: np.random.Generator,
    strain: float = 0.03,
    displacement: float = 0.0,
) -> tuple[Crystal, dict]:
    """The structure with its cell scaled (solid solution, thermal expansion) and strained,
    and its free coordinates moved by up to ``displacement`` (`displaced_sites`).

    Cell edges that are equal by symmetry stay equal, so the crystal system is kept; the scale
    is up to ``strain`` and independent edges move by up to a third of it more.
    """
    a, b, c, alpha, beta, gamma = structure.cell
    scale = 1.0 + rng.uniform(-strain, strain)
    if structure.system == "cubic":
        a = b = c = a * scale
    elif structure.system == "hexagonal":
        ratio = 1.0 + rng.uniform(-strain / 3, strain / 3)
        a = b = a * scale
        c = c * scale * ratio
    else:
        a, b, c = (v * scale * (1.0 + rng.uniform(-strain / 3, strain / 3)) for v in (a, b, c))
    moved = replace(structure, cell=(a, b, c, alpha, beta, gamma))
    if displacement > 0:
        moved = replace(moved, sites=displaced_sites(moved, rng, displacement))
    crystal = to_crystal(moved, float(rng.uniform(0.2, 1.5)))
    params = {
        "structure": structure.name,
        "family": structure.family,
        "spacegroup": structure.spacegroup,
    }
    return crystal, params


def structures_of(system: str) -> tuple[Structure, ...]:
    """Training structures of one crystal system."""
    return tuple(s for s in TRAINING_STRUCTURES if s.system == system)


def crystal_from_cif(path: str | Path) -> Crystal:
    """Read a small-molecule / inorganic CIF (cell, space group, sites) into a `Crystal`.

    Occupancies are kept (partially occupied sites scatter in proportion); hydrogen, which
    scatters electrons weakly and is rarely located, is kept when listed.
    """
    import gemmi

    path = Path(path)
    try:
        small = gemmi.read_small_structure(str(path))
    except (RuntimeError, ValueError, OSError) as error:
        raise CrystalViewError(f"cannot read {path.name} as a CIF: {error}") from error
    cell = small.cell
    if not cell.a > 0:
        raise CrystalViewError(f"{path.name}: the CIF gives no unit cell")
    sites = small.get_all_unit_cell_sites()
    if not sites:
        raise CrystalViewError(f"{path.name}: the CIF lists no atom sites")
    atoms = []
    for site in sites:
        element = site.element.name
        if element in ("X", ""):
            raise CrystalViewError(f"{path.name}: site {site.label!r} has no known element")
        frac = site.fract
        xyz = tuple(float(v) % 1.0 for v in (frac.x, frac.y, frac.z))
        atoms.append(Atom(element.capitalize(), xyz, float(site.occ)))
    lattice = Lattice(cell.a, cell.b, cell.c, cell.alpha, cell.beta, cell.gamma)
    # Every site of the cell is listed, so the crystal is primitive (P); the space group is
    # kept so that a pattern's labels give the lattice's own centring (F for copper).
    symbol = (small.spacegroup_hm or "").strip()
    extra = {"spacegroup": symbol} if symbol else {}
    return Crystal(lattice, "P", tuple(atoms), 0.5, name=path.stem, extra=extra)
