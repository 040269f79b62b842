"""Lengths, angles and line profiles on images whose answers are known."""

from __future__ import annotations

import math

import numpy as np
import pytest

from crystalview.measure.geometry import (
    angle_between,
    format_d_spacing,
    format_distance,
    segment_angle,
    segment_length,
)
from crystalview.measure.profile import line_profile


def test_a_line_of_known_length_reads_that_length_on_a_calibrated_image():
    # A 3-4-5 triangle: 300 x 400 px at 2.5 nm/px is 500 px = 1250 nm = 1.25 µm.
    length = segment_length((10, 20), (310, 420), pixel_size=2.5)
    assert length == pytest.approx(1250.0)
    assert format_distance(length, "nm") == "1.25 µm"
    assert format_distance(segment_length((0, 0), (3, 4)), None) == "5.0 px"


def test_anisotropic_pixels_scale_each_axis():
    assert segment_length((0, 0), (10, 10), pixel_size=1.0, pixel_size_y=2.0) == pytest.approx(
        math.hypot(10, 20)
    )


def test_angles_read_counter_clockwise_as_seen_on_screen():
    assert f"{segment_angle((0, 0), (10, 0)):.1f}" == "0.0"  # not "-0.0"
    assert segment_angle((0, 0), (10, -10)) == pytest.approx(45.0)  # up and right
    assert segment_angle((0, 0), (-10, 0)) == pytest.approx(180.0)
    assert angle_between((5, 5), (15, 5), (5, -5)) == pytest.approx(90.0)
    assert angle_between((0, 0), (1, 0), (-1, 1)) == pytest.approx(135.0)
    assert math.isnan(angle_between((0, 0), (0, 0), (1, 1)))


def test_d_spacing_reads_in_nm_and_angstrom():
    assert format_d_spacing(1 / 0.3905) == "0.3905 nm (3.905 Å)"
    assert format_d_spacing(0.5) == "2 nm"
    assert format_d_spacing(0.0) == "—"


def test_profile_across_a_step_edge_finds_the_edge_and_the_levels():
    image = np.zeros((40, 100))
    image[:, 50:] = 10.0
    profile = line_profile(image, (10, 20), (90, 20), width=5, pixel_size=0.5, unit="nm")
    assert profile.distance[-1] == pytest.approx(40.0)  # 80 px at 0.5 nm
    assert profile.values[0] == pytest.approx(0.0)
    assert profile.values[-1] == pytest.approx(10.0)
    half = np.flatnonzero(profile.values >= 5.0)[0]
    # the edge sits halfway between pixel centres 49 and 50 -> 39.5 px from the start
    assert profile.distance[half] / 0.5 == pytest.approx(39.5, abs=1.0)
    assert profile.width == 5


def test_a_wider_line_averages_noise_across_it():
    rng = np.random.default_rng(0)
    image = rng.normal(0.0, 1.0, (64, 64))
    narrow = line_profile(image, (5, 32), (58, 32), width=1)
    wide = line_profile(image, (5, 32), (58, 32), width=9)
    assert np.std(wide.values) < 0.6 * np.std(narrow.values)


def test_profile_csv_has_units_in_the_header_and_one_row_per_sample():
    image = np.arange(100, dtype=float).reshape(10, 10)
    profile = line_profile(image, (0, 0), (9, 0), pixel_size=2.0, unit="nm")
    lines = profile.to_csv().splitlines()
    assert lines[0] == "distance_nm,value"
    assert len(lines) == 1 + len(profile.values)
    assert lines[-1] == "18,9"
    assert line_profile(image, (0, 0), (9, 0)).to_csv().startswith("distance_px,value")


def test_profile_rejects_bad_input():
    with pytest.raises(ValueError):
        line_profile(np.zeros((4, 4, 3)), (0, 0), (3, 3))
    with pytest.raises(ValueError):
        line_profile(np.zeros((4, 4)), (0, 0), (3, 3), width=0)
