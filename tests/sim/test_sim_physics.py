"""The wider physics of the generators: stops, halos, detector effects, exports, ring models."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from crystalview.sim.camera import CameraSettings, beam_stop_mask, export_8bit, expose
from crystalview.sim.generators import simulate_one
from crystalview.sim.patterns import RingSettings, ring_intensities
from crystalview.sim.structures import TRAINING_STRUCTURES, to_crystal

SIZE = 96


def _camera(**kwargs) -> CameraSettings:
    return CameraSettings(size=SIZE, pixel_size=0.1, beam_stop=True, **kwargs)


def test_beam_stop_shapes():
    centre = (SIZE - 1) // 2
    arm = beam_stop_mask(_camera(beam_stop_shape="disc_arm"))
    disc = beam_stop_mask(_camera(beam_stop_shape="disc"))
    wedge = beam_stop_mask(_camera(beam_stop_shape="wedge"))
    blade = beam_stop_mask(_camera(beam_stop_shape="partial"))
    assert arm[centre, centre] and arm[centre, -1]  # disc on the beam, arm to the edge
    assert disc[centre, centre] and not disc[centre, -1]
    assert wedge[centre, centre] and wedge.sum() > arm.sum()
    assert not blade[centre, centre] and blade[centre, -1]  # the beam stays visible
    bigger = beam_stop_mask(_camera(beam_stop_shape="disc", beam_stop_scale=1.8))
    assert bigger.sum() > 2.5 * disc.sum()
    with pytest.raises(ValueError, match="shape"):
        beam_stop_mask(_camera(beam_stop_shape="star"))


def test_amorphous_halo_sits_at_the_carbon_spacing():
    rng = np.random.default_rng(0)
    flat = np.zeros((SIZE, SIZE))
    plain = CameraSettings(size=SIZE, pixel_size=0.2, dose=1e4, read_noise=0.0, background=0.0,
                           direct_beam=0.0)  # fmt: skip
    with_film = replace(plain, amorphous=1.0)
    flat[0, 0] = 1.0  # a reference so the signal's scale is defined
    halo = expose(flat, with_film, rng).astype(float) - expose(flat, plain, rng).astype(float)
    yy, xx = np.indices(halo.shape)
    r = np.hypot(yy - (SIZE - 1) / 2, xx - (SIZE - 1) / 2)
    profile = np.bincount(r.astype(int).ravel(), halo.ravel()) / np.bincount(r.astype(int).ravel())
    expected = 10.0 / 2.13 / 0.2  # camera constant / d of the first a-C halo, in px
    assert abs(int(np.argmax(profile[:45])) - expected) <= 2


def test_export_8bit_and_jpeg():
    rng = np.random.default_rng(1)
    counts = rng.poisson(100, (64, 64)).astype(np.uint16)
    plain = export_8bit(counts, rng, log_scale=False, jpeg_quality=None)
    jpeg = export_8bit(counts, rng, log_scale=True, jpeg_quality=60)
    assert plain.dtype == np.uint8 and jpeg.dtype == np.uint8 and jpeg.shape == counts.shape
    assert plain.max() == 255 and plain.min() <= 5


def test_dynamical_exponent_evens_out_ring_intensities():
    crystal = to_crystal(next(s for s in TRAINING_STRUCTURES if s.name == "NaCl"))
    rng = np.random.default_rng(0)
    kinematic = ring_intensities(crystal, 1.0, RingSettings(), rng).intensity
    evened = ring_intensities(crystal, 1.0, RingSettings(intensity_exponent=0.5), rng).intensity
    assert np.ptp(np.log(evened)) < 0.7 * np.ptp(np.log(kinematic))


def test_preferred_orientation_changes_ring_ratios():
    crystal = to_crystal(next(s for s in TRAINING_STRUCTURES if s.name == "Mg"))
    rng = np.random.default_rng(0)
    random = ring_intensities(crystal, 1.0, RingSettings(), rng)
    textured = ring_intensities(
        crystal, 1.0, RingSettings(preferred_orientation=0.5, preferred_axis=(0, 0, 1)), rng
    )
    assert np.allclose(random.d, textured.d)
    ratio = textured.intensity / random.intensity
    assert ratio.max() / ratio.min() > 2.0


@pytest.mark.parametrize("kind", ["rings", "spots"])
def test_training_draws_cover_real_structures_stops_and_exports(kind):
    samples = [simulate_one(kind, i, 64, 11) for i in range(16)]
    params = [s.params for s in samples]
    assert any(p["structure"] != "random" for p in params)
    assert any(p["structure"] == "random" for p in params)
    assert any(p["beam_stop"] for p in params)
    assert any(p["export"] != "16-bit" for p in params)
    eight_bit = [s for s in samples if s.params["export"] != "16-bit"]
    assert all(s.image.dtype == np.uint8 for s in eight_bit)
