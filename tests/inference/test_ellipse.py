"""The ring pattern's ellipticity, measured from its rings, and the profile it sharpens."""

import numpy as np
import pytest

from crystalview.inference.diffraction import profile_log_range, radial_profile
from crystalview.inference.ellipse import NO_ELLIPSE, fit_ellipse, pixel_polar

SIDE = 256
CENTRE = (131.3, 124.6)
RING_RADII = (22.0, 31.0, 38.0, 44.0, 54.0, 63.0, 71.0, 85.0, 97.0, 110.0)


def ring_pattern(epsilon: float, angle_deg: float, rng=None) -> np.ndarray:
    """Sharp rings whose radius is ``r (1 + epsilon cos 2(θ - angle))``, on a diffuse fall-off."""
    radius, theta = pixel_polar((SIDE, SIDE), CENTRE)
    true_radius = radius / (1.0 + epsilon * np.cos(2.0 * (theta - np.radians(angle_deg))))
    image = 50.0 * np.exp(-radius / 40.0)
    for k, r in enumerate(RING_RADII):
        image += (1.0 + 0.5 * (k % 3)) * np.exp(-0.5 * ((true_radius - r) / 0.9) ** 2)
    if rng is not None:
        image = rng.poisson(image * 40.0) / 40.0
    return image.astype(np.float32)


def fit(image: np.ndarray, mask=None):
    return fit_ellipse(image, CENTRE, 256, profile_log_range(image.shape), mask)


@pytest.mark.parametrize(("epsilon", "angle_deg"), [(0.01, 20.0), (0.025, 75.0), (0.04, 140.0)])
def test_the_ellipticity_and_its_axis_are_recovered(epsilon, angle_deg):
    found = fit(ring_pattern(epsilon, angle_deg, np.random.default_rng(1)))
    assert found.amplitude == pytest.approx(epsilon, abs=0.003)
    axis_error = (np.degrees(found.angle) - angle_deg + 90.0) % 180.0 - 90.0
    assert abs(axis_error) < 4.0


def test_round_rings_give_no_correction_to_speak_of():
    assert fit(ring_pattern(0.0, 0.0, np.random.default_rng(2))).amplitude < 0.002


def test_noise_and_a_flat_frame_are_not_read_as_elliptical_rings():
    rng = np.random.default_rng(3)
    assert fit(rng.normal(10.0, 1.0, (SIDE, SIDE)).astype(np.float32)) == NO_ELLIPSE
    assert fit(np.ones((SIDE, SIDE), np.float32)) == NO_ELLIPSE


def test_a_beam_stop_over_part_of_the_pattern_leaves_the_fit_intact():
    image = ring_pattern(0.03, 50.0, np.random.default_rng(4))
    radius, theta = pixel_polar(image.shape, CENTRE)
    arm = (np.abs(theta - 0.4) < 0.25) | (radius < 15)
    found = fit(image, mask=arm)
    assert found.amplitude == pytest.approx(0.03, abs=0.004)


def test_the_corrected_profile_keeps_each_ring_sharp():
    image = ring_pattern(0.035, 110.0)
    plain = radial_profile(image, CENTRE, n_radii=256)
    corrected = radial_profile(image, CENTRE, n_radii=256, ellipse=fit(image))
    round_rings = radial_profile(ring_pattern(0.0, 0.0), CENTRE, n_radii=256)

    def ring_contrast(profile):  # the rings' relief over the diffuse fall-off, outer rings
        relief = profile - np.convolve(profile, np.ones(15) / 15, "same")
        return float(np.std(relief[150:245]))

    assert ring_contrast(corrected) > 1.5 * ring_contrast(plain)
    assert ring_contrast(corrected) == pytest.approx(ring_contrast(round_rings), rel=0.15)
