"""Real structures: Wyckoff expansion, known ring spacings, CIF reading, scattering factors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from crystalview.core.errors import CrystalViewError
from crystalview.sim.crystal import powder_rings
from crystalview.sim.scattering import electron_scattering_factor
from crystalview.sim.structures import (
    TRAINING_STRUCTURES,
    crystal_from_cif,
    jittered,
    structures_of,
    to_crystal,
)

DATA = Path(__file__).resolve().parent.parent / "data"


def _structure(name: str):
    return next(s for s in TRAINING_STRUCTURES if s.name == name)


@pytest.mark.parametrize(
    ("name", "atoms"),
    [("Cu", 4), ("Fe", 2), ("Si", 8), ("NaCl", 8), ("CaF2", 12), ("Mg", 2), ("ZnO", 4),
     ("MgAl2O4", 56), ("Al2O3", 30), ("CaTiO3", 20), ("Mg2SiO4", 28), ("U", 4), ("Ga", 8),
     ("MgCu2", 24), ("FeSi", 8), ("CoSb3", 32), ("Y2O3", 80), ("Bi", 6), ("FeTiO3", 30),
     ("Si3N4", 14), ("BaSO4", 24), ("TiO2-brookite", 24), ("CeCu2", 12), ("AuCd", 4)],
)  # fmt: skip
def test_sites_expand_to_the_full_cell(name, atoms):
    assert len(to_crystal(_structure(name)).basis) == atoms


@pytest.mark.parametrize(
    ("name", "spacings"),
    [
        ("Cu", [2.087, 1.808, 1.278]),  # 111, 200, 220
        ("Si", [3.136, 1.920, 1.638]),  # 111, 220, 311 (200 absent: diamond glide)
        ("Mg", [2.779, 2.606, 2.452]),  # 10-10, 0002, 10-11 of hcp Mg
        ("graphite", [3.356]),  # the 0002 interlayer ring
        ("LaB6", [4.157, 2.939, 2.400]),  # 100, 110, 111 (the line-profile standard)
    ],
)
def test_first_rings_are_the_known_ones(name, spacings):
    rings = powder_rings(to_crystal(_structure(name)), d_min=1.0)
    assert np.allclose(rings.d[: len(spacings)], spacings, atol=2e-3)


def test_no_two_atoms_of_a_structure_closer_than_a_bond():
    """A mistyped Wyckoff coordinate puts atoms on top of each other; the shortest real bond
    here is C-O in a carbonate (1.28 Å)."""
    for structure in TRAINING_STRUCTURES:
        crystal = to_crystal(structure)
        positions = np.array([atom.position for atom in crystal.basis])
        offsets = (positions[:, None] - positions[None] + 0.5) % 1.0 - 0.5
        distances = np.linalg.norm(offsets @ crystal.lattice.direct_basis(), axis=-1)
        np.fill_diagonal(distances, np.inf)
        assert distances.min() > 1.2, structure.name


@pytest.mark.parametrize(
    ("name", "spacing"),
    [
        ("Bi", 3.28),  # 012: R centring in the hexagonal setting leaves it the strongest
        ("Y2O3", 3.061),  # 222 of bixbyite
        ("LaB6", 2.939),  # 110
    ],
)
def test_strongest_ring_is_the_known_one(name, spacing):
    rings = powder_rings(to_crystal(_structure(name)), d_min=1.0)
    assert abs(rings.d[np.argmax(rings.intensity)] - spacing) < 0.01


def test_every_class_has_real_structures_of_its_system():
    for system in ("cubic", "hexagonal", "orthorhombic"):
        structures = structures_of(system)
        assert len(structures) >= 12
        assert all(s.system == system for s in structures)
    hcp = [s for s in structures_of("hexagonal") if s.family == "hcp metal"]
    assert all(1.56 < s.cell[2] / s.cell[0] < 1.87 for s in hcp)  # real c/a, Be to Zn


def test_jitter_keeps_the_crystal_system():
    rng = np.random.default_rng(0)
    for name in ("Cu", "Mg", "CaTiO3"):
        crystal, origin = jittered(_structure(name), rng)
        lattice = crystal.lattice
        assert origin["structure"] == name
        if name == "Cu":
            assert lattice.a == lattice.b == lattice.c
        if name == "Mg":
            assert lattice.a == lattice.b and lattice.gamma == 120.0
        assert abs(lattice.a / _structure(name).cell[0] - 1) < 0.05


def test_cif_reads_to_the_same_rings_as_the_library():
    from_cif = powder_rings(crystal_from_cif(DATA / "NaCl.cif"), d_min=1.0)
    library = powder_rings(to_crystal(_structure("NaCl")), d_min=1.0)
    assert np.allclose(from_cif.d, library.d)
    assert np.allclose(from_cif.intensity, library.intensity, rtol=1e-6)


def test_cif_of_a_tetragonal_phase_expands_its_space_group():
    crystal = crystal_from_cif(DATA / "TiO2-rutile.cif")
    assert sorted(a.element for a in crystal.basis) == ["O"] * 4 + ["Ti"] * 2
    rings = powder_rings(crystal, d_min=1.5)
    assert abs(rings.d[0] - 3.248) < 0.005  # rutile 110


@pytest.mark.parametrize(("cif", "centring"), [("NaCl.cif", "F"), ("TiO2-rutile.cif", "P")])
def test_a_pattern_simulated_from_a_cif_records_the_lattice_centring(cif, centring):
    """Labels of `crystalview simulate saed --cif`: rock salt is face-centred, although the
    crystal built from its CIF lists all eight atoms of the cell (a primitive description)."""
    from crystalview.sim.generators import simulate_structure_sample

    crystal = crystal_from_cif(DATA / cif)
    assert crystal.centring == "P"
    sample = simulate_structure_sample(crystal, "phase", "rings", 64, np.random.default_rng(3))
    assert sample.params["centring"] == centring
    assert sample.params["spacegroup"].replace(" ", "") in ("Fm-3m", "P42/mnm")


def test_bad_cif_gives_a_clear_error(tmp_path):
    bad = tmp_path / "broken.cif"
    bad.write_text("this is not a CIF\n")
    with pytest.raises(CrystalViewError, match=r"broken\.cif"):
        crystal_from_cif(bad)


def test_scattering_factors_cover_elements_outside_our_table():
    s = np.array([0.0, 0.25, 0.5])
    uranium = electron_scattering_factor("U", s)
    lead = electron_scattering_factor("Pb", s)
    assert np.all(uranium > 0) and np.all(np.diff(uranium) < 0)
    assert uranium[0] > lead[0] * 0.9  # heavier, similar scale
    with pytest.raises(ValueError, match="Xq"):
        electron_scattering_factor("Xq", s)


def test_independent_set_shares_no_compound_with_training():
    pytest.importorskip("ase")
    from benchmarks.independent_sim.structures import ENTRIES

    training = {s.name for s in TRAINING_STRUCTURES}
    assert not training & {e.name for e in ENTRIES}
    unseen = {e.family for e in ENTRIES if not e.seen_prototype}
    assert unseen.isdisjoint({s.family for s in TRAINING_STRUCTURES})


def test_independent_structures_have_no_atoms_closer_than_a_bond():
    """The same guard on the independent set, built by ASE: its aragonite-type entries were
    once given in a setting of the wrong space group and put atoms 0.85 Å apart."""
    pytest.importorskip("ase")
    from benchmarks.independent_sim.structures import ENTRIES, build

    for entry in ENTRIES:
        distances = build(entry).get_all_distances(mic=True)
        np.fill_diagonal(distances, np.inf)
        assert distances.min() > 1.2, entry.name


def test_pattern_metadata_gives_the_lattice_centring_not_the_cell_one():
    """Real and random space-group crystals are primitive cells holding every atom; the
    centring in a pattern's metadata is still the lattice's (F for copper, I for tungsten)."""
    from crystalview.sim.generators import simulate_ring_sample

    rng = np.random.default_rng(11)
    seen = {}
    for _ in range(60):
        params = simulate_ring_sample("cubic", 64, rng).params
        seen.setdefault(params["family"], set()).add(params["centring"])
        if "spacegroup" in params:
            assert params["centring"] == params["spacegroup"][0]
    assert seen["fcc metal"] == {"F"} and seen["bcc metal"] == {"I"} and seen["CsCl"] == {"P"}
    assert "random cubic space group" in seen
