"""The region diffractogram: fringes of known spacing must give their spot at 1/d within 1 %."""

from __future__ import annotations

import math

import numpy as np
import pytest

from crystalview.measure.fft import (
    angle_between_spots,
    diffractogram,
    read_spot,
    refine_spot,
    strongest_spots,
)


def fringes(size: int, pixel_nm: float, d_nm: float, angle_deg: float, noise=0.3, seed=0):
    """Cosine lattice fringes of period ``d_nm`` whose normal points ``angle_deg`` from +x."""
    rows, cols = np.indices((size, size), dtype=float)
    theta = math.radians(angle_deg)
    # screen "up" is -row, so the wave vector's row component is -sin(theta)
    phase = 2 * math.pi / d_nm * pixel_nm * (cols * math.cos(theta) - rows * math.sin(theta))
    rng = np.random.default_rng(seed)
    return 100 + 20 * np.cos(phase + 0.7) + rng.normal(0, noise * 20, (size, size))


@pytest.mark.parametrize(
    ("size", "pixel_nm", "d_nm", "angle"),
    [
        (256, 0.010013, 0.3905, 0.0),  # SrTiO3 (100) on the HRTEM file's pixel size
        (256, 0.010013, 0.2761, 45.0),  # SrTiO3 (110)
        (200, 0.05, 0.83, 17.0),  # off-axis, spot between frequency pixels
        (128, 0.02, 0.2355, 73.0),  # Au (111), small region
    ],
)
def test_fringe_spacing_is_read_within_one_percent(size, pixel_nm, d_nm, angle):
    gram = diffractogram(fringes(size, pixel_nm, d_nm, angle), pixel_size=pixel_nm)
    assert gram.unit == "1/nm"
    spot = strongest_spots(gram, count=1)[0]
    assert spot.g == pytest.approx(1 / d_nm, rel=0.01)
    assert spot.d == pytest.approx(d_nm, rel=0.01)
    direction = spot.angle % 180.0  # one spot of the Friedel pair
    assert min(abs(direction - angle % 180), 180 - abs(direction - angle % 180)) < 1.0


def test_clicking_near_a_spot_snaps_to_it_and_two_spots_give_their_angle():
    size, pixel = 256, 0.02
    image = fringes(size, pixel, 0.4, 0.0, noise=0.1) + fringes(size, pixel, 0.4, 60.0, noise=0.1)
    gram = diffractogram(image, pixel_size=pixel)
    step = gram.step_x
    # expected positions of the two spots, then "click" two pixels away from each
    first = (gram.centre[0], gram.centre[1] + (1 / 0.4) / step)
    row, col = refine_spot(gram.power, first[0] + 2, first[1] - 2)
    spot_a = read_spot(gram, row, col)
    g60 = (1 / 0.4) / step
    second = (gram.centre[0] - g60 * math.sin(math.pi / 3), gram.centre[1] + g60 * 0.5)
    spot_b = read_spot(gram, *refine_spot(gram.power, second[0] + 1, second[1] + 2))
    assert spot_a.d == pytest.approx(0.4, rel=0.01)
    assert spot_b.d == pytest.approx(0.4, rel=0.01)
    assert angle_between_spots(spot_a, spot_b) == pytest.approx(60.0, abs=1.0)


def test_uncalibrated_region_reads_cycles_per_pixel():
    gram = diffractogram(fringes(128, 1.0, 8.0, 0.0))  # period 8 px
    assert gram.unit is None
    assert strongest_spots(gram, count=1)[0].d == pytest.approx(8.0, rel=0.01)


def test_tiny_region_is_refused():
    with pytest.raises(ValueError, match="8 x 8"):
        diffractogram(np.zeros((4, 40)))
