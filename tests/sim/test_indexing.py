"""The pseudo-hexagonal check: indexing visible rings with a hexagonal cell."""

from __future__ import annotations

import numpy as np
import pytest

from crystalview.sim.camera import CameraSettings
from crystalview.sim.crystal import Atom, Crystal, Lattice
from crystalview.sim.generators import simulate_one
from crystalview.sim.indexing import (
    MEASURED_RADIUS_PX,
    VisibleLines,
    hexagonal_line_count,
    is_pseudo_hexagonal,
    lattice_line_count,
    visible_lines,
)

# The first rings of these crystals land at 30-60 px, as in the generator (9-22 % of the width).
CAMERA = CameraSettings(size=256, pixel_size=0.04)


def _lines(q: np.ndarray) -> VisibleLines:
    q = np.sort(q)
    return VisibleLines(q, 2.0 * np.sqrt(q) * MEASURED_RADIUS_PX)


def test_visible_lines_merges_close_rings_and_drops_weak_and_outside_ones():
    radii = np.array([30.0, 31.0, 60.0, 90.0, 140.0])
    intensity = np.array([300.0, 100.0, 600.0, 0.5, 900.0])
    lines = visible_lines(radii, intensity, width_px=1.0, r_min=5.0, r_max=128.0)
    centres = np.sqrt(lines.q)
    # 30 and 31 px merge (1 px < 2 widths) at their peak-weighted radius; 90 px is too weak;
    # 140 px lies outside the profile.
    weights = np.array([300.0 / 30.0, 100.0 / 31.0])
    assert centres == pytest.approx([np.average([30.0, 31.0], weights=weights), 60.0])
    assert lines.tolerance[0] == pytest.approx(2 * centres[0] * 0.5)  # half the merged span
    assert lines.tolerance[1] == pytest.approx(2 * 60.0 * MEASURED_RADIUS_PX)


def test_lines_of_a_hexagonal_cell_are_indexed_with_their_own_count():
    a_term, c_term = 90.0, 31.0  # px²: q = M·A + L²·C
    m = np.array([0, 1, 3, 4, 7, 9])
    q = np.unique(np.round((m[:, None] * a_term + np.arange(5)[None, :] ** 2 * c_term), 6))
    q = q[(q > 0) & (q < 700)]
    assert hexagonal_line_count(_lines(q)) <= q.size


def test_a_generic_orthorhombic_cell_is_not_indexed_as_hexagonal():
    k = 400.0  # px·Å
    hkl = np.array([(h, kk, el) for h in range(6) for kk in range(6) for el in range(6)])[1:]
    q = k**2 * ((hkl[:, 0] / 3.3) ** 2 + (hkl[:, 1] / 4.6) ** 2 + (hkl[:, 2] / 7.9) ** 2)
    q = np.unique(np.round(q, 3))
    q = q[q < 128.0**2][:15]
    count = hexagonal_line_count(_lines(q))
    own = q.size
    assert count is None or count > own


def _crystal(lattice: Lattice, centring: str, positions) -> Crystal:
    return Crystal(lattice, centring, tuple(Atom("Cu", p) for p in positions))


def test_hexagonal_and_orthohexagonal_crystals_are_pseudo_hexagonal():
    hcp = _crystal(
        Lattice(3.21, 3.21, 5.21, 90.0, 90.0, 120.0),
        "P",
        [(1 / 3, 2 / 3, 0.25), (2 / 3, 1 / 3, 0.75)],
    )
    # C-centred orthorhombic with b = √3 a is the hexagonal lattice in another cell.
    orthohexagonal = _crystal(Lattice(3.0, 3.0 * np.sqrt(3.0), 5.0), "C", [(0.0, 0.0, 0.0)])
    assert is_pseudo_hexagonal(hcp, CAMERA, width_px=1.0)
    assert is_pseudo_hexagonal(orthohexagonal, CAMERA, width_px=1.0)


def test_a_generic_orthorhombic_crystal_is_not_pseudo_hexagonal():
    crystal = _crystal(Lattice(3.3, 4.6, 7.9), "P", [(0.0, 0.0, 0.0), (0.23, 0.61, 0.37)])
    assert not is_pseudo_hexagonal(crystal, CAMERA, width_px=0.8)


def test_visible_annulus_is_the_one_the_radial_profile_reads():
    from crystalview.inference import diffraction
    from crystalview.sim import indexing

    assert indexing.R_MIN_FRACTION == diffraction.R_MIN_FRACTION


def test_lattice_line_count_leaves_out_centring_absences():
    lattice = Lattice(4.0, 4.0, 4.0)
    q_max = (400.0 / 1.2) ** 2  # d down to 1.2 Å at 400 px·Å
    primitive = lattice_line_count(_crystal(lattice, "P", [(0, 0, 0)]), 400.0, q_max)
    face_centred = lattice_line_count(_crystal(lattice, "F", [(0, 0, 0)]), 400.0, q_max)
    # h² + k² + l² <= 11 (d >= 1.2 Å at a = 4 Å): P has 1-6, 8, 9, 10, 11; F has 3, 4, 8, 11.
    assert (primitive, face_centred) == (10, 4)


def test_ring_generator_redraws_pseudo_hexagonal_orthorhombic_crystals_only():
    def params(index: int, keep: bool) -> tuple:
        sample = simulate_one("rings", index, 128, 1, "train", keep_pseudo_hexagonal=keep)
        return sample.params["a"], sample.params["b"], sample.params["c"]

    for index in (0, 1, 3, 4):  # cubic and hexagonal draws are never redrawn
        assert params(index, True) == params(index, False)
    redrawn = [params(i, True) != params(i, False) for i in range(2, 92, 3)]
    assert any(redrawn) and not all(redrawn)
