"""Structures of the independent validation set, built with ASE (not with crystalview.sim).

None of these compounds is in `crystalview.sim.structures.TRAINING_STRUCTURES`; several
prototypes (A15, pyrite, cuprite, NiAs, quartz, trigonal Se, Bi2Te3, cementite, marcasite, MnP,
black phosphorus, iodine, YBCO) have no member there at all. Cells are room-temperature
literature values in Å; positions are the usual Wyckoff coordinates.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Entry:
    name: str
    family: str
    system: str  # cubic, hexagonal (incl. trigonal) or orthorhombic
    symbols: tuple[str, ...]
    basis: tuple[tuple[float, float, float], ...]
    spacegroup: int
    cellpar: tuple[float, float, float, float, float, float]
    setting: int = 1
    seen_prototype: bool = True  # False: no structure of this type in training


def cub(a):
    return (a, a, a, 90.0, 90.0, 90.0)


def hexa(a, c):
    return (a, a, c, 90.0, 90.0, 120.0)


def orth(a, b, c):
    return (a, b, c, 90.0, 90.0, 90.0)


_E = Entry
ENTRIES: tuple[Entry, ...] = (
    # cubic
    _E("Au", "fcc metal", "cubic", ("Au",), ((0, 0, 0),), 225, cub(4.078)),
    _E("Pd", "fcc metal", "cubic", ("Pd",), ((0, 0, 0),), 225, cub(3.891)),
    _E("Ir", "fcc metal", "cubic", ("Ir",), ((0, 0, 0),), 225, cub(3.839)),
    _E("V", "bcc metal", "cubic", ("V",), ((0, 0, 0),), 229, cub(3.030)),
    _E("Nb", "bcc metal", "cubic", ("Nb",), ((0, 0, 0),), 229, cub(3.301)),
    _E("K", "bcc metal", "cubic", ("K",), ((0, 0, 0),), 229, cub(5.328)),
    _E("alpha-Sn", "diamond", "cubic", ("Sn",), ((0, 0, 0),), 227, cub(6.489)),
    _E("LiF", "rock salt", "cubic", ("Li", "F"), ((0, 0, 0), (0.5, 0.5, 0.5)), 225, cub(4.027)),
    _E("CaO", "rock salt", "cubic", ("Ca", "O"), ((0, 0, 0), (0.5, 0.5, 0.5)), 225, cub(4.811)),
    _E("TiC", "rock salt", "cubic", ("Ti", "C"), ((0, 0, 0), (0.5, 0.5, 0.5)), 225, cub(4.328)),
    _E("AgCl", "rock salt", "cubic", ("Ag", "Cl"), ((0, 0, 0), (0.5, 0.5, 0.5)), 225, cub(5.55)),
    _E("CsBr", "CsCl", "cubic", ("Cs", "Br"), ((0, 0, 0), (0.5, 0.5, 0.5)), 221, cub(4.296)),
    _E("FeAl", "CsCl", "cubic", ("Fe", "Al"), ((0, 0, 0), (0.5, 0.5, 0.5)), 221, cub(2.909)),
    _E("UO2", "fluorite", "cubic", ("U", "O"), ((0, 0, 0), (0.25, 0.25, 0.25)), 225, cub(5.470)),
    _E("SrF2", "fluorite", "cubic", ("Sr", "F"), ((0, 0, 0), (0.25, 0.25, 0.25)), 225, cub(5.80)),
    _E("InP", "zinc blende", "cubic", ("In", "P"), ((0, 0, 0), (0.25,) * 3), 216, cub(5.869)),
    _E("ZnSe", "zinc blende", "cubic", ("Zn", "Se"), ((0, 0, 0), (0.25,) * 3), 216, cub(5.668)),
    _E("CuCl", "zinc blende", "cubic", ("Cu", "Cl"), ((0, 0, 0), (0.25,) * 3), 216, cub(5.416)),
    _E(
        "BaZrO3",
        "cubic perovskite",
        "cubic",
        ("Zr", "Ba", "O"),
        ((0, 0, 0), (0.5, 0.5, 0.5), (0.5, 0, 0)),
        221,
        cub(4.193),
    ),
    _E(
        "CsPbBr3",
        "cubic perovskite",
        "cubic",
        ("Pb", "Cs", "Br"),
        ((0, 0, 0), (0.5, 0.5, 0.5), (0.5, 0, 0)),
        221,
        cub(5.874),
    ),
    _E(
        "Fe3O4",
        "spinel",
        "cubic",
        ("Fe", "Fe", "O"),
        ((0.125,) * 3, (0.5,) * 3, (0.255,) * 3),
        227,
        cub(8.396),
        setting=2,
    ),
    _E(
        "Nb3Sn",
        "A15",
        "cubic",
        ("Sn", "Nb"),
        ((0, 0, 0), (0.25, 0, 0.5)),
        223,
        cub(5.289),
        seen_prototype=False,
    ),
    _E(
        "FeS2-pyrite",
        "pyrite",
        "cubic",
        ("Fe", "S"),
        ((0, 0, 0), (0.385,) * 3),
        205,
        cub(5.418),
        seen_prototype=False,
    ),
    _E(
        "Cu2O",
        "cuprite",
        "cubic",
        ("Cu", "O"),
        ((0, 0, 0), (0.25,) * 3),
        224,
        cub(4.270),
        setting=2,
        seen_prototype=False,
    ),
    # hexagonal and trigonal
    _E("Co", "hcp metal", "hexagonal", ("Co",), ((1 / 3, 2 / 3, 0.25),), 194, hexa(2.507, 4.070)),
    _E("Cd", "hcp metal", "hexagonal", ("Cd",), ((1 / 3, 2 / 3, 0.25),), 194, hexa(2.979, 5.619)),
    _E("Hf", "hcp metal", "hexagonal", ("Hf",), ((1 / 3, 2 / 3, 0.25),), 194, hexa(3.195, 5.051)),
    _E("Ru", "hcp metal", "hexagonal", ("Ru",), ((1 / 3, 2 / 3, 0.25),), 194, hexa(2.706, 4.282)),
    _E("Sc", "hcp metal", "hexagonal", ("Sc",), ((1 / 3, 2 / 3, 0.25),), 194, hexa(3.309, 5.273)),
    _E(
        "AlN",
        "wurtzite",
        "hexagonal",
        ("Al", "N"),
        ((1 / 3, 2 / 3, 0), (1 / 3, 2 / 3, 0.382)),
        186,
        hexa(3.112, 4.982),
    ),
    _E(
        "BeO",
        "wurtzite",
        "hexagonal",
        ("Be", "O"),
        ((1 / 3, 2 / 3, 0), (1 / 3, 2 / 3, 0.378)),
        186,
        hexa(2.698, 4.379),
    ),
    _E(
        "InN",
        "wurtzite",
        "hexagonal",
        ("In", "N"),
        ((1 / 3, 2 / 3, 0), (1 / 3, 2 / 3, 0.377)),
        186,
        hexa(3.540, 5.705),
    ),
    _E(
        "ZrB2",
        "AlB2",
        "hexagonal",
        ("Zr", "B"),
        ((0, 0, 0), (1 / 3, 2 / 3, 0.5)),
        191,
        hexa(3.170, 3.530),
    ),
    _E(
        "WS2",
        "2H-MoS2",
        "hexagonal",
        ("W", "S"),
        ((1 / 3, 2 / 3, 0.25), (1 / 3, 2 / 3, 0.621)),
        194,
        hexa(3.153, 12.323),
    ),
    _E(
        "PbI2",
        "CdI2",
        "hexagonal",
        ("Pb", "I"),
        ((0, 0, 0), (1 / 3, 2 / 3, 0.265)),
        164,
        hexa(4.557, 6.979),
    ),
    _E(
        "Cr2O3",
        "corundum",
        "hexagonal",
        ("Cr", "O"),
        ((0, 0, 0.3475), (0.306, 0, 0.25)),
        167,
        hexa(4.959, 13.594),
    ),
    _E(
        "Fe2O3",
        "corundum",
        "hexagonal",
        ("Fe", "O"),
        ((0, 0, 0.3553), (0.3059, 0, 0.25)),
        167,
        hexa(5.035, 13.750),
    ),
    _E(
        "NiAs",
        "NiAs",
        "hexagonal",
        ("Ni", "As"),
        ((0, 0, 0), (1 / 3, 2 / 3, 0.25)),
        194,
        hexa(3.619, 5.034),
        seen_prototype=False,
    ),
    _E(
        "quartz",
        "alpha-quartz",
        "hexagonal",
        ("Si", "O"),
        ((0.4697, 0, 2 / 3), (0.4135, 0.2669, 0.7858)),
        154,
        hexa(4.913, 5.405),
        seen_prototype=False,
    ),
    _E(
        "Se",
        "trigonal Se",
        "hexagonal",
        ("Se",),
        ((0.2254, 0, 1 / 3),),
        152,
        hexa(4.366, 4.954),
        seen_prototype=False,
    ),
    _E(
        "Bi2Te3",
        "Bi2Te3",
        "hexagonal",
        ("Te", "Bi", "Te"),
        ((0, 0, 0), (0, 0, 0.4001), (0, 0, 0.7906)),
        166,
        hexa(4.386, 30.497),
        seen_prototype=False,
    ),
    # orthorhombic
    _E(
        "LaFeO3",
        "Pnma perovskite",
        "orthorhombic",
        ("La", "Fe", "O", "O"),
        ((0.03, 0.25, 0.99), (0, 0, 0.5), (0.49, 0.25, 0.07), (0.28, 0.04, 0.72)),
        62,
        orth(5.556, 7.862, 5.565),
    ),
    _E(
        "NdGaO3",
        "Pnma perovskite",
        "orthorhombic",
        ("Nd", "Ga", "O", "O"),
        ((0.04, 0.25, 0.99), (0, 0, 0.5), (0.48, 0.25, 0.08), (0.29, 0.04, 0.71)),
        62,
        orth(5.428, 7.708, 5.498),
    ),
    _E(
        "SrZrO3",
        "Pnma perovskite",
        "orthorhombic",
        ("Sr", "Zr", "O", "O"),
        ((0.02, 0.25, 0.995), (0, 0, 0.5), (0.49, 0.25, 0.06), (0.28, 0.03, 0.72)),
        62,
        orth(5.792, 8.196, 5.816),
    ),
    _E(
        "Fe2SiO4",
        "olivine",
        "orthorhombic",
        ("Fe", "Fe", "Si", "O", "O", "O"),
        (
            (0, 0, 0),
            (0.280, 0.25, 0.986),
            (0.098, 0.25, 0.431),
            (0.092, 0.25, 0.768),
            (0.454, 0.25, 0.209),
            (0.166, 0.037, 0.288),
        ),
        62,
        orth(10.48, 6.09, 4.82),
    ),
    _E(
        "LiFePO4",
        "olivine",
        "orthorhombic",
        ("Li", "Fe", "P", "O", "O", "O"),
        (
            (0, 0, 0),
            (0.282, 0.25, 0.975),
            (0.095, 0.25, 0.418),
            (0.097, 0.25, 0.743),
            (0.457, 0.25, 0.206),
            (0.166, 0.046, 0.285),
        ),
        62,
        orth(10.33, 6.01, 4.69),
    ),
    _E(
        "SrCO3",
        "aragonite",
        "orthorhombic",
        ("Sr", "C", "O", "O"),
        ((0.757, 0.25, 0.416), (0.92, 0.25, 0.76), (0.91, 0.25, 0.91), (0.91, 0.47, 0.69)),
        62,
        orth(6.029, 5.107, 8.414),
    ),
    _E(
        "KNO3",
        "aragonite",
        "orthorhombic",
        ("K", "N", "O", "O"),
        ((0.756, 0.25, 0.417), (0.917, 0.25, 0.755), (0.91, 0.25, 0.89), (0.91, 0.45, 0.69)),
        62,
        orth(6.436, 5.414, 9.166),
    ),
    _E(
        "SnSe",
        "SnS",
        "orthorhombic",
        ("Sn", "Se"),
        ((0.118, 0.25, 0.103), (0.855, 0.25, 0.479)),
        62,
        orth(11.50, 4.15, 4.44),
    ),
    _E(
        "black-P",
        "black phosphorus",
        "orthorhombic",
        ("P",),
        ((0, 0.1017, 0.0806),),
        64,
        orth(3.314, 10.478, 4.376),
        seen_prototype=False,
    ),
    _E(
        "I2",
        "iodine",
        "orthorhombic",
        ("I",),
        ((0, 0.1543, 0.1174),),
        64,
        orth(7.18, 4.71, 9.81),
        seen_prototype=False,
    ),
    _E(
        "Fe3C",
        "cementite",
        "orthorhombic",
        ("Fe", "Fe", "C"),
        ((0.036, 0.25, 0.852), (0.186, 0.063, 0.328), (0.89, 0.25, 0.45)),
        62,
        orth(5.090, 6.740, 4.520),
        seen_prototype=False,
    ),
    _E(
        "FeS2-marcasite",
        "marcasite",
        "orthorhombic",
        ("Fe", "S"),
        ((0, 0, 0), (0.2, 0.378, 0)),
        58,
        orth(4.443, 5.425, 3.387),
        seen_prototype=False,
    ),
    _E(
        "MnP",
        "MnP",
        "orthorhombic",
        ("Mn", "P"),
        ((0.005, 0.25, 0.196), (0.188, 0.25, 0.569)),
        62,
        orth(5.260, 3.170, 5.920),
        seen_prototype=False,
    ),
    _E(
        "NiSi",
        "MnP",
        "orthorhombic",
        ("Ni", "Si"),
        ((0.008, 0.25, 0.188), (0.178, 0.25, 0.583)),
        62,
        orth(5.180, 3.330, 5.620),
        seen_prototype=False,
    ),
    _E(
        "YBa2Cu3O7",
        "YBCO",
        "orthorhombic",
        ("Y", "Ba", "Cu", "Cu", "O", "O", "O", "O"),
        (
            (0.5, 0.5, 0.5),
            (0.5, 0.5, 0.184),
            (0, 0, 0),
            (0, 0, 0.355),
            (0, 0.5, 0),
            (0.5, 0, 0.378),
            (0, 0.5, 0.377),
            (0, 0, 0.159),
        ),
        47,
        orth(3.82, 3.89, 11.68),
        seen_prototype=False,
    ),
)


def build(entry: Entry):
    """The ASE Atoms of an entry (full unit cell)."""
    from ase.spacegroup import crystal

    return crystal(
        list(entry.symbols),
        basis=[tuple(float(v) for v in p) for p in entry.basis],
        spacegroup=entry.spacegroup,
        setting=entry.setting,
        cellpar=list(entry.cellpar),
        onduplicates="replace",
    )
