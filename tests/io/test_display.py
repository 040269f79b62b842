"""Display levels and the 0..1 mapping: robust to outliers and non-finite pixels, never in place."""

from __future__ import annotations

import numpy as np
import pytest

from crystalview.core.micrograph import Modality
from crystalview.io.display import auto_levels, to_display


def _ramp(dtype=np.float32) -> np.ndarray:
    return np.arange(100 * 100, dtype=np.float64).reshape(100, 100).astype(dtype)


def test_levels_ignore_nan_and_inf():
    image = _ramp()
    image[0, :10] = np.nan
    image[1, :10] = np.inf
    image[2, :10] = -np.inf
    lo, hi = auto_levels(image)
    assert np.isfinite(lo) and np.isfinite(hi)
    assert 0 <= lo < hi <= 9999


def test_levels_clip_hot_pixels():
    image = np.full((200, 200), 100, dtype=np.uint16)
    image[50:150, 50:150] = 200
    image[0, 0] = 65535  # one hot pixel must not dictate the white level
    lo, hi = auto_levels(image)
    assert lo == pytest.approx(100)
    assert hi == pytest.approx(200)


def test_flat_image_gets_valid_levels():
    lo, hi = auto_levels(np.full((10, 10), 7, dtype=np.uint8))
    assert hi > lo
    assert to_display(np.full((10, 10), 7, dtype=np.uint8), (lo, hi)).max() <= 1


def test_all_nan_image():
    image = np.full((8, 8), np.nan, dtype=np.float32)
    assert auto_levels(image) == (0.0, 1.0)
    shown = to_display(image)
    assert shown.dtype == np.float32
    assert np.all(shown == 0)


def test_to_display_range_and_input_untouched():
    image = _ramp(np.uint16)
    original = image.copy()
    shown = to_display(image, auto_levels(image))
    assert shown.dtype == np.float32
    assert shown.shape == image.shape
    assert shown.min() == 0.0 and shown.max() == 1.0
    np.testing.assert_array_equal(image, original)


def test_to_display_non_finite_become_black_or_white():
    image = _ramp()
    image[0, 0] = np.nan
    image[0, 1] = np.inf
    image[0, 2] = -np.inf
    shown = to_display(image, (0.0, 9999.0))
    assert shown[0, 0] == 0.0 and shown[0, 1] == 1.0 and shown[0, 2] == 0.0
    assert np.all(np.isfinite(shown))


def test_log_ramp_lifts_weak_reflections():
    pattern = np.full((64, 64), 10.0)
    pattern[32, 32] = 1e5  # central beam
    pattern[10, 10] = 200.0  # weak reflection
    levels = (10.0, 1e5)
    linear = to_display(pattern, levels, log=False)
    logged = to_display(pattern, levels, log=True)
    assert linear[10, 10] < 0.01
    assert logged[10, 10] > 0.4
    assert logged[32, 32] == 1.0 and logged[0, 0] == 0.0


def test_diffraction_levels_are_in_data_units():
    rng = np.random.default_rng(0)
    pattern = rng.poisson(10.0, size=(128, 128)).astype(np.float64)
    pattern[60:68, 60:68] = 1e5
    lo, hi = auto_levels(pattern, Modality.SAED)
    assert 0 <= lo <= 10 < hi <= 1e5
    assert auto_levels(pattern, True) == (lo, hi)
    assert auto_levels(pattern, "SAED") == (lo, hi)


def test_complex_shown_as_magnitude():
    image = (3 + 4j) * np.ones((4, 4), dtype=np.complex64)
    image[0, 0] = 0
    shown = to_display(image, (0.0, 5.0))
    assert shown[1, 1] == pytest.approx(1.0)
    assert shown[0, 0] == 0.0
