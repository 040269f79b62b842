"""The diffraction front end finds beam stops, leaves them out of the profile and fills them
before the spot-net autocorrelation."""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from crystalview.inference.diffraction import (
    PROFILE_TRIM,
    beam_stop_mask,
    fill_masked,
    find_beam_centre,
    find_ring_centre,
    radial_profile,
)
from crystalview.inference.preprocess import normalize_intensity
from crystalview.models.manifest import default_normalization
from crystalview.sim.camera import CameraSettings, expose
from crystalview.sim.camera import beam_stop_mask as true_stop
from crystalview.sim.crystal import Atom, Crystal, Lattice
from crystalview.sim.patterns import RingSettings, ring_signal

SIZE = 128
NORM = default_normalization(log=True, transform="log_polar_mean")


def _ring_pattern(stop_shape: str | None, seed: int = 0):
    crystal = Crystal(Lattice(4.0, 4.0, 4.0), "F", (Atom("Cu", (0.0, 0.0, 0.0)),))
    camera = CameraSettings(
        size=SIZE,
        pixel_size=0.06,
        center_offset=(3.0, -4.0),
        dose=800.0,
        beam_stop=stop_shape is not None,
        beam_stop_shape=stop_shape or "disc_arm",
        beam_stop_angle_deg=30.0,
    )
    rng = np.random.default_rng(seed)
    image = expose(ring_signal(crystal, camera, RingSettings(width_px=1.2), rng), camera, rng)
    return normalize_intensity(image, NORM), camera


def test_the_arm_of_a_stop_is_found():
    work, camera = _ring_pattern("disc_arm")
    mask = beam_stop_mask(work)
    truth = true_stop(camera)
    yy, xx = np.indices(truth.shape)
    r = np.hypot(yy - camera.center[0], xx - camera.center[1])
    arm = truth & (r > 0.15 * SIZE)  # the arm across the rings, outside the dark disc
    assert mask[arm].mean() > 0.7
    assert mask[~truth].mean() < 0.03


def test_no_stop_no_mask():
    for seed in range(3):
        work, _ = _ring_pattern(None, seed)
        assert beam_stop_mask(work).mean() < 0.01


def _shape(profile: np.ndarray) -> np.ndarray:
    """A profile without its offset and scale (a stop also moves the percentile stretch)."""
    return (profile - profile.mean()) / profile.std()


def test_masked_trimmed_profile_is_closer_to_the_stop_free_one():
    outer = slice(20, 64)  # beyond the stop's disc
    for shape in ("wedge", "partial"):
        free, _ = _ring_pattern(None)
        blocked, _ = _ring_pattern(shape)
        centre = find_beam_centre(free, log=False)
        reference_plain = _shape(radial_profile(free, centre, n_radii=64)[outer])
        reference = _shape(radial_profile(free, centre, n_radii=64, trim=PROFILE_TRIM)[outer])
        plain = radial_profile(blocked, find_beam_centre(blocked, log=False), n_radii=64)
        centre_b, mask = find_ring_centre(blocked)
        masked = radial_profile(blocked, centre_b, n_radii=64, mask=mask, trim=PROFILE_TRIM)
        error_plain = np.abs(_shape(plain[outer]) - reference_plain).mean()
        error_masked = np.abs(_shape(masked[outer]) - reference).mean()
        assert error_masked < 0.6 * error_plain, shape


def test_trimmed_profile_of_a_uniform_annulus_is_its_level():
    image = np.full((SIZE, SIZE), 2.0, dtype=np.float32)
    profile = radial_profile(image, (63.5, 63.5), n_radii=32, trim=PROFILE_TRIM)
    assert np.allclose(profile, 2.0)
    hidden = np.zeros_like(image, dtype=bool)
    hidden[:, 70:] = True
    profile = radial_profile(image, (63.5, 63.5), n_radii=32, mask=hidden, trim=(0.1, 0.1))
    assert np.allclose(profile, 2.0)


def test_fill_masked_changes_only_masked_pixels_and_leaves_no_edge():
    work, _ = _ring_pattern("disc_arm")
    mask = beam_stop_mask(work)
    filled = fill_masked(work, mask)
    assert np.array_equal(filled[~mask], work[~mask])
    assert filled[mask].mean() > work[mask].mean()  # brighter than the dark stop


def test_masked_centre_ignores_masked_pixels():
    work, camera = _ring_pattern(None)
    fake = np.zeros_like(work, dtype=bool)
    fake[:, :20] = True
    spoilt = work.copy()
    spoilt[fake] = 5.0  # a bright band, not centrosymmetric
    centre = find_beam_centre(spoilt, log=False, mask=fake)
    assert np.hypot(centre[0] - camera.center[0], centre[1] - camera.center[1]) < 1.0


def test_camera_settings_default_keeps_the_old_stop():
    camera = CameraSettings(size=SIZE, beam_stop=True)
    assert replace(camera, beam_stop_shape="disc_arm") == camera
