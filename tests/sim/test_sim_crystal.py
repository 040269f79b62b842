"""Structure factors, systematic absences and d-spacings of the kinematic simulator."""

from __future__ import annotations

import numpy as np
import pytest

from crystalview.sim.crystal import (
    Atom,
    Crystal,
    Lattice,
    allowed_reflections,
    powder_rings,
    structure_factor,
)
from crystalview.sim.scattering import electron_scattering_factor


def _one_atom(lattice: Lattice, centring: str, element: str = "Cu") -> Crystal:
    return Crystal(lattice, centring, (Atom(element, (0.0, 0.0, 0.0)),), debye_waller_b=0.5)


def test_fcc_reflections_have_unmixed_indices():
    hkl = allowed_reflections(_one_atom(Lattice(3.6, 3.6, 3.6), "F"), d_min=0.7).hkl
    parity = np.mod(hkl, 2)
    assert np.all((parity.sum(axis=1) == 0) | (parity.sum(axis=1) == 3))
    # and every unmixed index within range is present: (111), (200), (220), (311), (222)
    present = {tuple(np.abs(v)) for v in hkl}
    assert {(1, 1, 1), (2, 0, 0), (2, 2, 0), (3, 1, 1), (2, 2, 2)} <= present
    assert (1, 0, 0) not in present and (1, 1, 0) not in present


def test_bcc_reflections_have_even_index_sum():
    hkl = allowed_reflections(_one_atom(Lattice(2.87, 2.87, 2.87), "I", "Fe"), d_min=0.6).hkl
    assert np.all(hkl.sum(axis=1) % 2 == 0)
    assert {(1, 1, 0), (2, 0, 0), (2, 1, 1)} <= {
        tuple(sorted(np.abs(v), reverse=True)) for v in hkl
    }


def test_c_centring_needs_even_h_plus_k():
    crystal = _one_atom(Lattice(3.0, 4.5, 5.0), "C")
    hkl = allowed_reflections(crystal, d_min=0.8).hkl
    assert np.all((hkl[:, 0] + hkl[:, 1]) % 2 == 0)
    assert np.any(hkl[:, 2] % 2 == 1)  # no condition on l


def test_diamond_basis_removes_200_but_keeps_111_and_220():
    basis = (Atom("Si", (0, 0, 0)), Atom("Si", (0.25, 0.25, 0.25)))
    crystal = Crystal(Lattice(5.43, 5.43, 5.43), "F", basis)
    present = {tuple(np.abs(v)) for v in allowed_reflections(crystal, d_min=1.0).hkl}
    assert (2, 0, 0) not in present
    assert (1, 1, 1) in present and (2, 2, 0) in present


def test_nacl_structure_factor_is_sum_and_difference_of_atoms():
    basis = (Atom("Na", (0, 0, 0)), Atom("Cl", (0.5, 0.5, 0.5)))
    crystal = Crystal(Lattice(5.64, 5.64, 5.64), "F", basis, debye_waller_b=0.0)
    f111, f200 = structure_factor(crystal, np.array([[1, 1, 1], [2, 0, 0]]))
    s111, s200 = 0.5 * np.sqrt(3) / 5.64, 0.5 * 2 / 5.64
    na111, cl111 = (electron_scattering_factor(e, s111) for e in ("Na", "Cl"))
    na200, cl200 = (electron_scattering_factor(e, s200) for e in ("Na", "Cl"))
    assert abs(f111) == pytest.approx(4 * abs(na111 - cl111), rel=1e-9)
    assert abs(f200) == pytest.approx(4 * (na200 + cl200), rel=1e-9)


def test_debye_waller_damps_high_angle_reflections_more():
    cold = _one_atom(Lattice(4.0, 4.0, 4.0), "P")
    hot = Crystal(cold.lattice, "P", cold.basis, debye_waller_b=2.0)
    hkl = np.array([[1, 0, 0], [4, 0, 0]])
    ratio = np.abs(structure_factor(hot, hkl)) / np.abs(structure_factor(cold, hkl))
    assert ratio[1] < ratio[0] < 1.0


def test_scattering_factor_decreases_with_angle_and_grows_with_z():
    s = np.array([0.0, 0.2, 0.5, 1.0])
    cu = electron_scattering_factor("Cu", s)
    assert np.all(np.diff(cu) < 0)
    assert electron_scattering_factor("Au", 0.2) > cu[1] > electron_scattering_factor("C", 0.2)
    with pytest.raises(ValueError):
        electron_scattering_factor("Xx", s)


@pytest.mark.parametrize(
    ("lattice", "hkl", "expected"),
    [
        # cubic: d = a / sqrt(h²+k²+l²)
        (Lattice(4.0, 4.0, 4.0), (1, 1, 1), 4.0 / np.sqrt(3)),
        # tetragonal: 1/d² = (h²+k²)/a² + l²/c²
        (Lattice(3.0, 3.0, 5.0), (1, 1, 2), 1 / np.sqrt(2 / 9 + 4 / 25)),
        # orthorhombic: 1/d² = h²/a² + k²/b² + l²/c²
        (Lattice(3.0, 4.0, 5.0), (1, 2, 3), 1 / np.sqrt(1 / 9 + 4 / 16 + 9 / 25)),
        # hexagonal: 1/d² = 4/3 (h²+hk+k²)/a² + l²/c²
        (Lattice(3.0, 3.0, 5.0, 90, 90, 120), (1, 1, 0), 1 / np.sqrt(4 / 3 * 3 / 9)),
        (Lattice(3.0, 3.0, 5.0, 90, 90, 120), (1, 0, 1), 1 / np.sqrt(4 / 3 / 9 + 1 / 25)),
        # monoclinic (unique b): 1/d² = h²/(a² sin²β) + k²/b² + l²/(c² sin²β) - 2hl cosβ/(ac sin²β)
        (
            Lattice(3.0, 4.0, 5.0, 90, 100, 90),
            (1, 0, 1),
            1
            / np.sqrt(
                (1 / 9 + 1 / 25 - 2 * np.cos(np.radians(100)) / 15) / np.sin(np.radians(100)) ** 2
            ),
        ),
    ],
)
def test_d_spacing_matches_textbook_formulas(lattice, hkl, expected):
    assert lattice.d_spacing(np.array(hkl))[0] == pytest.approx(expected, rel=1e-9)


def test_powder_rings_group_equivalent_reflections_with_multiplicity():
    rings = powder_rings(_one_atom(Lattice(3.6, 3.6, 3.6), "F"), d_min=1.0)
    # FCC: {111} x8, {200} x6, {220} x12, {311} x24, {222} x8
    assert list(rings.multiplicity[:5]) == [8, 6, 12, 24, 8]
    ratios = (rings.d[0] / rings.d[:5]) ** 2
    np.testing.assert_allclose(ratios * 3, [3, 4, 8, 11, 12], rtol=1e-9)
    assert np.all(np.diff(rings.d) < 0)


def test_unknown_centring_is_rejected():
    with pytest.raises(ValueError, match="centring"):
        _one_atom(Lattice(3, 3, 3), "R")
