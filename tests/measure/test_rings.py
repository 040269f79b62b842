"""Ring patterns with a known camera constant must give their d-spacings within 1 %."""

from __future__ import annotations

import math

import numpy as np
import pytest

from crystalview.measure.rings import (
    azimuthal_profile,
    beam_stop_threshold,
    find_rings,
    reciprocal_position,
)

# Gold (fcc, a = 0.40782 nm): the first rings are 111, 200, 220, 311, 222.
GOLD_A = 0.40782
GOLD_RINGS = [(1, 1, 1), (2, 0, 0), (2, 2, 0), (3, 1, 1), (2, 2, 2)]


def gold_d_spacings() -> list[float]:
    return [GOLD_A / math.sqrt(h * h + k * k + m * m) for h, k, m in GOLD_RINGS]


def ring_pattern(
    size: int, centre: tuple[float, float], camera_constant: float, seed: int = 0
) -> tuple[np.ndarray, float]:
    """A polycrystalline gold SAED pattern and its calibration (1/nm per pixel).

    ``camera_constant`` is λL in nm·px (the ring radius in pixels is λL / d), so the
    calibration is 1 / λL. Diffuse background falling off from the beam, rings of decreasing
    strength, Poisson noise and a beam-stop arm shadowing a strip.
    """
    rows, cols = np.indices((size, size), dtype=float)
    radius = np.hypot(rows - centre[0], cols - centre[1])
    image = 4000.0 / (1.0 + radius / 6.0) ** 1.5 + 5.0
    for n, d in enumerate(gold_d_spacings()):
        r = camera_constant / d
        image += (300.0 / (n + 1)) * np.exp(-0.5 * ((radius - r) / 1.2) ** 2)
    rng = np.random.default_rng(seed)
    image = rng.poisson(image).astype(np.float32)
    arm = (np.abs(rows - centre[0]) < 6) & (cols > centre[1])
    image[arm] = 1.0  # beam stop
    image[radius < 10] = 1.0
    return image, 1.0 / camera_constant


@pytest.mark.parametrize(
    ("size", "centre", "camera_constant"),
    [(512, (250.3, 262.7), 25.0), (384, (190.0, 181.4), 18.5)],
)
def test_ring_d_spacings_within_one_percent_with_the_true_centre(size, centre, camera_constant):
    image, calibration = ring_pattern(size, centre, camera_constant)
    arm = np.ones(image.shape, bool)
    arm[image <= 1.0] = False
    profile = azimuthal_profile(image, centre, pixel_size=calibration, mask=arm)
    rings = find_rings(profile, min_radius=12)
    found = [ring.d for ring in rings]
    for expected in gold_d_spacings():
        nearest = min(found, key=lambda d: abs(d - expected))
        assert nearest == pytest.approx(expected, rel=0.01)


def test_ring_d_spacings_within_one_percent_with_the_centre_found_as_inference_finds_it():
    from crystalview.inference.diffraction import find_beam_centre

    true_centre = (250.3, 262.7)
    image, calibration = ring_pattern(512, true_centre, 25.0, seed=3)
    centre = find_beam_centre(image)
    assert math.dist(centre, true_centre) < 1.5
    rings = find_rings(azimuthal_profile(image, centre, pixel_size=calibration), min_radius=12)
    found = [ring.d for ring in rings]
    for expected in gold_d_spacings()[:4]:
        assert min(found, key=lambda d: abs(d - expected)) == pytest.approx(expected, rel=0.01)


def test_uncalibrated_pattern_reports_pixels_only():
    image, _ = ring_pattern(256, (128.0, 128.0), 12.0)
    rings = find_rings(azimuthal_profile(image, (128.0, 128.0)), min_radius=12)
    assert rings and all(r.g is None and r.d is None for r in rings)
    assert rings[0].radius == pytest.approx(12.0 / gold_d_spacings()[0], rel=0.01)


def test_cursor_position_reads_g_and_d_from_the_beam_centre():
    radius, g, d = reciprocal_position(130.0, 100.0, (100.0, 90.0), 0.05)
    assert radius == pytest.approx(math.hypot(40, 0))
    assert g == pytest.approx(2.0)
    assert d == pytest.approx(0.5)
    assert reciprocal_position(0, 0, (3.0, 4.0), None) == (5.0, None, None)


def test_profile_bins_count_every_pixel_once():
    image = np.ones((21, 21))
    profile = azimuthal_profile(image, (10.0, 10.0))
    assert profile.counts.sum() == image.size
    assert np.allclose(profile.values[profile.counts > 0], 1.0)
    assert profile.g is None


def test_the_default_beam_stop_level_separates_the_shadow_from_the_background():
    image, calibration = ring_pattern(512, (250.3, 262.7), 25.0)
    level = beam_stop_threshold(image)
    shadow = image <= 1.0
    assert np.all(image[shadow] < level)
    rows, cols = np.indices(image.shape)
    rings_zone = np.hypot(rows - 250.3, cols - 262.7) < 220  # out to beyond the 222 ring
    # (only the faint far corners, at the stop's level, share its fate)
    assert (image[~shadow & rings_zone] < level).mean() < 0.01
    profile = azimuthal_profile(image, (250.3, 262.7), calibration, mask=image >= level)
    found = [ring.d for ring in find_rings(profile, min_radius=12)]
    for expected in gold_d_spacings():
        assert min(found, key=lambda d: abs(d - expected)) == pytest.approx(expected, rel=0.01)
    # dark-subtracted data (negative background) work the same way
    assert beam_stop_threshold(image - 1000.0) == pytest.approx(level - 1000.0)
