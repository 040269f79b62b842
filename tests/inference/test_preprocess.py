"""Normalisation suits 8/16-bit and float data, is NaN-safe; resampling follows pixel size."""

from __future__ import annotations

import numpy as np
import pytest

from crystalview.inference.preprocess import (
    normalize_intensity,
    physical_scale,
    prepare_image,
    prepare_whole,
)
from crystalview.models.manifest import ModelManifest, default_normalization

NORM = default_normalization()


def manifest(**fields):
    return ModelManifest("diffraction_cnn", ["a", "b"], input_size=32, **fields)


def test_same_picture_in_any_bit_depth_normalises_the_same():
    rng = np.random.default_rng(0)
    u8 = rng.integers(0, 256, (64, 80)).astype(np.uint8)
    u16 = u8.astype(np.uint16) * 257
    f32 = u8.astype(np.float32) / 255.0 + 1000.0  # float data with an offset
    a, b, c = (normalize_intensity(x, NORM) for x in (u8, u16, f32))
    assert a.dtype == np.float32
    np.testing.assert_allclose(a, b, atol=1e-5)
    np.testing.assert_allclose(a, c, atol=1e-3)
    # after the stretch the data span mean +- 0.5/std: -2..+2 for mean 0.5, std 0.25
    assert a.min() == pytest.approx(-2.0) and a.max() == pytest.approx(2.0)


def test_robust_to_hot_pixels():
    image = np.full((100, 100), 100, dtype=np.uint16)
    image[:, 50:] = 200
    image[0, 0] = 65535  # one hot pixel must not squash the contrast
    out = normalize_intensity(image, NORM)
    assert out[50, 10] == pytest.approx(-2.0) and out[50, 90] == pytest.approx(2.0)


def test_nan_and_inf_are_safe_and_input_untouched():
    image = np.linspace(0, 1, 400, dtype=np.float32).reshape(20, 20)
    image[3, 3] = np.nan
    image[4, 4] = np.inf
    original = image.copy()
    out = normalize_intensity(image, NORM)
    assert np.all(np.isfinite(out))
    np.testing.assert_array_equal(image, original)
    all_nan = normalize_intensity(np.full((4, 4), np.nan, np.float32), NORM)
    assert np.all(np.isfinite(all_nan))


def test_flat_image_is_mid_grey():
    out = normalize_intensity(np.full((8, 8), 7, np.uint8), NORM)
    np.testing.assert_allclose(out, 0.0)


def test_log_lifts_faint_diffraction_spots():
    yy, xx = np.mgrid[:128, :128]
    pattern = (1e6 / (1.0 + (yy - 64.0) ** 2 + (xx - 64.0) ** 2)).astype(np.float32)
    pattern[20, 20] *= 5.0  # a faint spot far from the central beam
    linear = normalize_intensity(pattern, default_normalization(log=False))
    logged = normalize_intensity(pattern, default_normalization(log=True))
    assert logged[20, 20] - logged[20, 24] > 5 * (linear[20, 20] - linear[20, 24])
    assert logged[20, 20] - logged[20, 24] > 0.3


def test_resampling_only_when_both_sides_are_calibrated():
    m = manifest(pixel_size=0.2, pixel_unit="nm")
    image = np.random.default_rng(1).random((100, 60)).astype(np.float32)
    assert prepare_image(image, m, 0.1, "nm").shape == (50, 30)  # model pixels are twice as big
    assert prepare_image(image, m).shape == (100, 60)  # image uncalibrated
    assert prepare_image(image, manifest(), 0.1, "nm").shape == (100, 60)  # model uncalibrated
    assert prepare_image(image, m, 0.1, "1/nm").shape == (100, 60)  # different kind of unit
    assert physical_scale(m, 0.201, "nm") == 1.0  # within tolerance: no needless resampling
    assert prepare_image(image, manifest(), zoom=0.5).shape == (50, 30)


def test_prepare_whole_is_square_input_size():
    image = np.random.default_rng(2).random((100, 300)).astype(np.float32)
    out = prepare_whole(image, manifest())
    assert out.shape == (32, 32) and out.dtype == np.float32
