"""Beam centre, log-polar and autocorrelation views of diffraction patterns; the manifest key."""

from __future__ import annotations

import numpy as np
import pytest

from crystalview.inference.diffraction import (
    autocorrelation,
    find_beam_centre,
    log_polar,
    log_polar_cell,
    log_polar_to_image,
    radial_profile,
    subtract_background,
)
from crystalview.inference.preprocess import prepare_whole
from crystalview.models.manifest import ManifestError, ModelManifest, default_normalization


def spot_pattern(
    shape=(96, 96), centre=(50.3, 44.8), beam_stop: bool = False, seed: int = 0
) -> np.ndarray:
    """Centrosymmetric net of Gaussian spots around ``centre`` with noise, optional beam stop."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0 : shape[0], 0 : shape[1]].astype(float)
    image = np.full(shape, 20.0)
    image += 20000.0 * np.exp(-((yy - centre[0]) ** 2 + (xx - centre[1]) ** 2) / 8.0)  # beam
    g1, g2 = np.array([0.0, 11.0]), np.array([9.0, 4.0])
    for i in range(-5, 6):
        for j in range(-5, 6):
            cy, cx = np.array(centre) + i * g1 + j * g2
            weight = 2000.0 * np.exp(-(i * i + j * j) / 12.0)
            image += weight * np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / 2.0)
    if beam_stop:  # a disc on the beam and an arm to the right edge
        image[np.hypot(yy - centre[0], xx - centre[1]) < 6] = 5.0
        image[(np.abs(yy - centre[0]) < 2) & (xx > centre[1])] = 5.0
    return rng.poisson(image).astype(np.float64)


def ring_pattern(shape=(128, 128), centre=(60.0, 67.0), radii=(15.0, 30.0)) -> np.ndarray:
    yy, xx = np.mgrid[0 : shape[0], 0 : shape[1]].astype(float)
    r = np.hypot(yy - centre[0], xx - centre[1])
    image = np.full(shape, 1.0)
    for radius in radii:
        image += 100.0 * np.exp(-((r - radius) ** 2) / 2.0)
    return image


@pytest.mark.parametrize("beam_stop", [False, True])
def test_beam_centre_found_to_a_fraction_of_a_pixel(beam_stop):
    centre = (50.3, 44.8)
    found = find_beam_centre(spot_pattern(centre=centre, beam_stop=beam_stop))
    assert np.hypot(found[0] - centre[0], found[1] - centre[1]) < 0.5


def test_beam_centre_of_rings_on_a_non_square_image():
    found = find_beam_centre(ring_pattern(shape=(100, 140), centre=(47.0, 81.5)))
    assert found == pytest.approx((47.0, 81.5), abs=0.3)


def test_beam_centre_of_a_blank_frame_is_its_middle():
    assert find_beam_centre(np.full((40, 60), 7.0)) == (19.5, 29.5)


def test_log_polar_turns_rings_into_columns_and_scale_into_a_shift():
    centre = (60.0, 67.0)
    near = log_polar(ring_pattern(centre=centre, radii=(15.0,)), centre, 32, 64)
    far = log_polar(ring_pattern(centre=centre, radii=(30.0,)), centre, 32, 64)
    near_col = near.mean(axis=0).argmax()
    far_col = far.mean(axis=0).argmax()
    # Every angle sees the ring in the same column.
    assert np.all(np.abs(near.argmax(axis=1) - near_col) <= 1)
    # Doubling the radius moves the ring by log(2) / (log-radius step) columns.
    step = np.log(1 / 0.04) / 64
    assert far_col - near_col == pytest.approx(np.log(2) / step, abs=1.5)


def test_log_polar_rotation_is_a_cyclic_shift_of_rows():
    centre = (47.5, 47.5)
    yy, xx = np.mgrid[0:96, 0:96].astype(float)
    angle = np.arctan2(centre[0] - yy, xx - centre[1])
    image = 1.0 + np.cos(angle) ** 2 * np.exp(-((np.hypot(yy - 47.5, xx - 47.5) - 25) ** 2) / 8)
    rotated = np.rot90(image)  # counter-clockwise quarter turn about the centre
    a = log_polar(image, centre, 64, 48)
    b = log_polar(rotated, centre, 64, 48)
    assert np.allclose(np.roll(a, 16, axis=0), b, atol=0.02)


def test_log_polar_inverse_puts_values_back_where_they_came_from():
    shape, centre = (80, 80), (41.0, 37.0)
    yy, xx = np.mgrid[0:80, 0:80].astype(float)
    image = np.sin(yy / 9.0) + np.cos(xx / 7.0)
    back = log_polar_to_image(log_polar(image, centre, 128, 128), shape, centre)
    r = np.hypot(yy - centre[0], xx - centre[1])
    annulus = (r > 8) & (r < 36)
    assert np.abs(back - image)[annulus].mean() < 0.05
    _, col = log_polar_cell(shape, centre, 128, 128)
    assert np.all(back[col > 128] == 0)  # beyond r_max the model saw nothing


def test_radial_profile_is_the_angle_mean_of_the_log_polar_view():
    centre = (60.0, 67.0)
    image = ring_pattern(centre=centre, radii=(15.0, 24.0, 33.0))
    profile = radial_profile(image, centre, 128)
    sampled = log_polar(image, centre, 128, 128).mean(axis=0)
    assert profile.shape == (128,) and profile.dtype == np.float32
    assert np.corrcoef(profile, sampled)[0, 1] > 0.99
    # The rings sit in the same columns as in the log-polar view.
    peaks = [c for c in range(1, 127) if profile[c] >= profile[c - 1 : c + 2].max() > 20]
    sampled_peaks = [c for c in range(1, 127) if sampled[c] >= sampled[c - 1 : c + 2].max() > 20]
    assert len(peaks) == 3 and np.all(np.abs(np.array(peaks) - sampled_peaks) <= 1)


def test_radial_profile_uses_only_pixels_inside_the_image():
    """Off-centre beam: the big annuli run off the image; their mean is over real pixels only,
    where the sampled view fills the outside with the median."""
    image = np.full((64, 64), 10.0)
    image[:, :8] = 1000.0  # bright strip at the left edge, near the beam
    centre = (32.0, 12.0)
    profile = radial_profile(image, centre, 32)
    assert np.isfinite(profile).all()
    column = 28  # radii 21.4-23.7 px: a circle that leaves the image on the left
    step = np.log(1 / 0.04) / 32
    low, high = 0.04 * 32 * np.exp(column * step), 0.04 * 32 * np.exp((column + 1) * step)
    yy, xx = np.indices(image.shape)
    r = np.hypot(yy - centre[0], xx - centre[1])
    assert profile[column] == pytest.approx(image[(r >= low) & (r < high)].mean(), rel=1e-5)
    sampled = log_polar(image, centre, 64, 32).mean(axis=0)
    assert profile[column] > 1.4 * sampled[column]  # the median fill dilutes the strip


def test_radial_profile_of_a_flat_frame_is_flat_and_nan_pixels_are_skipped():
    image = np.full((50, 70), 3.0)
    image[10, 10] = np.nan
    profile = radial_profile(image, (24.5, 34.5), 40)
    assert np.allclose(profile, 3.0)


def test_autocorrelation_ignores_where_the_pattern_sits():
    a = autocorrelation(subtract_background(spot_pattern(centre=(44.0, 50.0))))
    b = autocorrelation(subtract_background(spot_pattern(centre=(52.0, 41.0))))
    assert a.shape == (96, 96) and a[48, 48] == pytest.approx(1.0)
    # The spot net appears around the zero lag: a peak at the lattice vector g1 = (0, 11).
    assert a[48, 59] > 0.1 and a[48, 59] > 3 * abs(a[48, 54])
    assert np.corrcoef(a.ravel(), b.ravel())[0, 1] > 0.9


@pytest.mark.parametrize(
    "transform", ["log_polar", "log_polar_mean", "autocorrelation", "polar_autocorrelation"]
)
def test_prepare_whole_applies_the_manifest_transform(transform):
    manifest = ModelManifest(
        architecture="diffraction_cnn",
        classes=["a", "b"],
        input_size=48,
        normalization=default_normalization(log=True, transform=transform),
        input_mode="whole",
    )
    image = spot_pattern(centre=(44.0, 50.0))
    shifted = spot_pattern(centre=(52.0, 41.0))
    x, y = prepare_whole(image, manifest), prepare_whole(shifted, manifest)
    assert x.shape == (48, 48) and x.dtype == np.float32 and np.isfinite(x).all()
    # Both views are built to be independent of the beam position.
    assert np.corrcoef(x.ravel(), y.ravel())[0, 1] > 0.8
    if transform == "log_polar_mean":  # the radial profile, the same for every angle
        assert np.allclose(x, x[:1])
    plain = ModelManifest.from_json(manifest.to_json())
    assert plain.normalization["transform"] == transform


def test_manifest_transform_is_validated_and_optional():
    old = default_normalization(log=True)
    del old["transform"]  # bundles written before the key existed
    manifest = ModelManifest(architecture="diffraction_cnn", classes=["a", "b"], normalization=old)
    assert manifest.normalization.get("transform", "none") == "none"
    with pytest.raises(ManifestError, match="transform"):
        ModelManifest(
            architecture="diffraction_cnn",
            classes=["a", "b"],
            normalization=default_normalization(transform="fourier"),
        )
