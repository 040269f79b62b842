"""Ring radii, spot symmetry, camera effects and reproducibility of the pattern generators."""

from __future__ import annotations

import numpy as np
import pytest

from crystalview.core.progress import run_to_completion
from crystalview.sim.camera import CameraSettings, expose
from crystalview.sim.crystal import Atom, Crystal, Lattice, powder_rings
from crystalview.sim.generators import (
    RING_CLASSES,
    SPOT_CLASSES,
    random_zone_crystal,
    simulate_dataset,
    simulate_one,
)
from crystalview.sim.patterns import (
    RingSettings,
    ZoneSettings,
    radius_px,
    ring_signal,
    spot_signal,
    zone_spots,
)

GOLD = Crystal(Lattice(4.078, 4.078, 4.078), "F", (Atom("Au", (0.0, 0.0, 0.0)),))


def _radial_profile(image: np.ndarray, center: tuple[float, float]) -> np.ndarray:
    yy, xx = np.indices(image.shape)
    r = np.rint(np.hypot(yy - center[0], xx - center[1])).astype(int)
    return np.bincount(r.ravel(), image.ravel()) / np.maximum(np.bincount(r.ravel()), 1)


def test_ring_radii_equal_camera_constant_over_d():
    camera = CameraSettings(size=256, pixel_size=0.08)
    signal = ring_signal(GOLD, camera, RingSettings(width_px=0.8), np.random.default_rng(0))
    profile = _radial_profile(signal, camera.center)
    d = powder_rings(GOLD, d_min=1.0).d[:4]
    expected = 10.0 / d / camera.pixel_size  # (1/d in 1/nm) / (1/nm per px)
    np.testing.assert_allclose(radius_px(d, camera), expected)
    for r in expected:
        window = profile[int(r) - 3 : int(r) + 4]
        assert abs(int(r) - 3 + int(np.argmax(window)) - r) <= 1.0


def test_centre_offset_moves_the_rings():
    camera = CameraSettings(size=128, pixel_size=0.1, center_offset=(10.0, -6.0))
    signal = ring_signal(GOLD, camera, RingSettings(width_px=0.8), np.random.default_rng(0))
    r111 = 10.0 / powder_rings(GOLD, d_min=1.0).d[0] / camera.pixel_size
    centred = _radial_profile(signal, camera.center)
    wrong = _radial_profile(signal, ((128 - 1) / 2, (128 - 1) / 2))
    assert centred[round(r111)] > 2 * wrong[round(r111)]


@pytest.mark.parametrize("lattice2d", SPOT_CLASSES)
def test_exact_zone_axis_pattern_obeys_friedel_symmetry(lattice2d):
    crystal = random_zone_crystal(lattice2d, np.random.default_rng(3))
    camera = CameraSettings(size=129, pixel_size=0.12)
    zone = ZoneSettings(tilt_mrad=(0.0, 0.0), spot_sigma_px=1.0)
    signal = spot_signal(crystal, camera, zone)
    assert signal.max() > 0
    np.testing.assert_allclose(signal, signal[::-1, ::-1], atol=1e-9 * signal.max())


def test_tilt_breaks_friedel_symmetry_of_excitation():
    crystal = random_zone_crystal("square", np.random.default_rng(1))
    camera = CameraSettings(size=129, pixel_size=0.12)
    signal = spot_signal(crystal, camera, ZoneSettings(tilt_mrad=(8.0, 0.0), mosaic_mrad=1.0))
    assert not np.allclose(signal, signal[::-1, ::-1], atol=1e-3 * signal.max())


def test_zone_spots_lie_in_the_zero_order_laue_zone():
    crystal = random_zone_crystal("rectangular", np.random.default_rng(2))
    spots = zone_spots(crystal, CameraSettings(size=128, pixel_size=0.1), ZoneSettings())
    assert len(spots.hkl) > 4
    assert np.all(spots.hkl[:, 2] == 0)  # [001] zone: h·u + k·v + l·w = l = 0


def test_centred_rectangular_zone_has_no_h_plus_k_odd_spots():
    crystal = random_zone_crystal("centered_rectangular", np.random.default_rng(4))
    spots = zone_spots(crystal, CameraSettings(size=128, pixel_size=0.1), ZoneSettings())
    assert np.all((spots.hkl[:, 0] + spots.hkl[:, 1]) % 2 == 0)


def test_camera_counts_are_16_bit_saturate_and_scale_with_dose():
    signal = np.zeros((64, 64))
    signal[10, 10] = 1.0
    rng = np.random.default_rng(0)
    low = expose(signal, CameraSettings(size=64, dose=10.0, direct_beam=0.0), rng)
    high = expose(signal, CameraSettings(size=64, dose=1e6, gain=4.0), rng)
    assert low.dtype == np.uint16 and high.dtype == np.uint16
    assert high.max() == 65535  # saturated
    assert low.max() < 1000


def test_beam_stop_hides_the_direct_beam():
    signal = np.zeros((128, 128))
    rng = np.random.default_rng(0)
    camera = CameraSettings(size=128, direct_beam=50.0, dose=100.0, read_noise=0.0)
    open_beam = expose(signal, camera, rng).astype(float)
    stopped = CameraSettings(**(camera.as_dict() | {"beam_stop": True}))
    blocked = expose(signal, stopped, rng).astype(float)
    assert blocked[63:65, 63:65].mean() < 0.2 * open_beam[63:65, 63:65].mean()


@pytest.mark.parametrize("kind", ["rings", "spots"])
def test_samples_are_reproducible_from_seed_and_index(kind):
    a = simulate_one(kind, 3, 64, seed=7)
    b = simulate_one(kind, 3, 64, seed=7)
    c = simulate_one(kind, 3, 64, seed=8)
    np.testing.assert_array_equal(a.image, b.image)
    assert a.params == b.params
    assert not np.array_equal(a.image, c.image)


def test_dataset_cycles_through_classes_at_any_size():
    samples = run_to_completion(simulate_dataset("rings", 6, 96, seed=0))
    assert [s.label for s in samples] == list(RING_CLASSES) * 2
    assert all(s.image.shape == (96, 96) for s in samples)
    big = simulate_one("spots", 0, 1024, seed=0)
    assert big.image.shape == (1024, 1024) and big.label == SPOT_CLASSES[0]
