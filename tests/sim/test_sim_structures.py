"""Real structures: Wyckoff expansion, known ring spacings, CIF reading, scattering factors."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from crystalview.core.errors import CrystalViewError
from crystalview.sim.crystal import Lattice, powder_rings
from crystalview.sim.scattering import electron_scattering_factor
from crystalview.sim.structures import (
    MIN_BOND,
    TRAINING_STRUCTURES,
    closest_approach,
    crystal_from_cif,
    displaced_sites,
    expand_sites,
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
        assert closest_approach(crystal.lattice, crystal.basis) > MIN_BOND, structure.name


def test_displaced_sites_move_free_coordinates_only():
    """Ti of CaTiO3 sits on an inversion centre and Ca, O1 on the mirror y = 1/4: those stay;
    the others move, by at most the amplitude, and every orbit keeps its size."""
    perovskite = _structure("CaTiO3")
    rng = np.random.default_rng(3)
    moved_any = False
    for _ in range(20):
        sites = displaced_sites(perovskite, rng, 0.02)
        assert len(expand_sites(perovskite.spacegroup, sites)) == 20
        for (element, before), (same, after) in zip(perovskite.sites, sites, strict=True):
            assert element == same
            assert np.all(np.abs(np.subtract(after, before)) <= 0.02)
        (_, ca), (_, ti), (_, o1), _ = sites
        assert ca[1] == 0.25 and o1[1] == 0.25 and ti == (0.0, 0.0, 0.5)
        moved_any |= sites != perovskite.sites
    assert moved_any
    copper = _structure("Cu")
    assert displaced_sites(copper, rng, 0.02) == copper.sites


def test_displacement_changes_weak_rings_not_their_positions():
    """What the displacement is for: the tilts' weak rings of a Pnma perovskite at more than
    one strength, on the same cell."""
    rng = np.random.default_rng(5)
    perovskite = _structure("CaTiO3")
    cell_spacings = np.round(powder_rings(to_crystal(perovskite), d_min=1.5).d, 5)
    shares = []
    for _ in range(6):
        crystal = to_crystal(replace(perovskite, sites=displaced_sites(perovskite, rng, 0.02)))
        rings = powder_rings(crystal, d_min=1.5)
        share = dict(
            zip(np.round(rings.d, 5), rings.intensity / rings.intensity.max(), strict=True)
        )
        strong = [d for d, value in share.items() if value > 1e-3]
        assert np.isin(strong, cell_spacings).all()  # a ring may fade, none moves
        shares.append([share.get(d, 0.0) for d in cell_spacings])
    assert np.ptp(np.array(shares), axis=0).max() > 0.05


def test_no_displacement_brings_atoms_closer_than_a_bond():
    rng = np.random.default_rng(9)
    for structure in TRAINING_STRUCTURES:
        for _ in range(3):
            sites = displaced_sites(structure, rng, 0.02)
            atoms = expand_sites(structure.spacegroup, sites)
            assert closest_approach(Lattice(*structure.cell), atoms) >= MIN_BOND, structure.name


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
        assert distances.min() > MIN_BOND, entry.name


def test_pattern_metadata_gives_the_lattice_centring_not_the_cell_one():
    """Real and random space-group crystals are primitive cells holding every atom; the
    centring in a pattern's metadata is still the lattice's (F for copper, I for tungsten)."""
    from crystalview.sim.generators import simulate_ring_sample

    rng = np.random.default_rng(11)
    seen = {}
    wanted = {"fcc metal", "bcc metal", "CsCl", "random cubic space group"}
    for _ in range(400):  # until every family asked about has come up a few times
        params = simulate_ring_sample("cubic", 64, rng).params
        seen.setdefault(params["family"], set()).add(params["centring"])
        if "spacegroup" in params:
            assert params["centring"] == params["spacegroup"][0]
        if len(seen) > 12 and wanted <= seen.keys():
            break
    assert seen["fcc metal"] == {"F"} and seen["bcc metal"] == {"I"} and seen["CsCl"] == {"P"}
    assert "random cubic space group" in seen
