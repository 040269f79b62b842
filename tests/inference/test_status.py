"""The cheap image look, the status of an answer, and the status in `predict_image`."""

from __future__ import annotations

import numpy as np
import pytest
from wrong_kind import KINDS, make

from crystalview.inference.calibration import fit_calibration
from crystalview.inference.calibration_bundle import apply_calibration_to_bundle
from crystalview.inference.image_kind import ImageKind, measure_image_kind
from crystalview.inference.predict import InferenceSettings, predict_image
from crystalview.inference.spot_lattice import NetSupport
from crystalview.inference.status import (
    NOT_THIS_KIND,
    OK,
    UNSURE,
    decide_status,
    kind_doubt,
    kind_mismatch,
)
from crystalview.models.bundle import load_bundle
from crystalview.models.manifest import ModelManifest, default_normalization
from crystalview.sim.generators import simulate_one


def ring_manifest(**fields) -> ModelManifest:
    return ModelManifest(
        architecture="radial_profile_cnn",
        classes=["cubic", "hexagonal", "orthorhombic"],
        modality="SAED",
        input_mode="whole",
        normalization=default_normalization(log=True, transform="log_polar_mean"),
        **fields,
    )


def spot_manifest() -> ModelManifest:
    return ModelManifest(
        architecture="diffraction_cnn",
        classes=["square", "hexagonal"],
        modality="SAED",
        input_mode="whole",
        input_size=64,
        normalization=default_normalization(log=True, transform="polar_autocorrelation"),
    )


def clean_rings(size=256, radii=(30, 52, 61, 86, 100)) -> np.ndarray:
    yy, xx = np.indices((size, size))
    r = np.hypot(yy - size / 2 + 3.3, xx - size / 2 - 5.1)
    image = 2000 * np.exp(-r / 12) + 20
    for i, radius in enumerate(radii):
        image += 400 / (i + 1) * np.exp(-(((r - radius) / 1.5) ** 2))
    return np.random.default_rng(0).poisson(image).astype(np.uint16)


def clean_spots(size=256, a=22.0, b=30.0) -> np.ndarray:
    yy, xx = np.indices((size, size))
    centre = np.array([size / 2 + 2.7, size / 2 - 4.2])
    image = 3000 * np.exp(-np.hypot(yy - centre[0], xx - centre[1]) / 10) + 20
    for i in range(-5, 6):
        for j in range(-5, 6):
            y, x = centre + i * np.array([a, 0]) + j * np.array([0.3 * b, b])
            weight = 600 * np.exp(-np.hypot(i * a, j * b) / 90)
            image += weight * np.exp(-((yy - y) ** 2 + (xx - x) ** 2) / 4.0)
    return np.random.default_rng(1).poisson(image).astype(np.uint16)


def test_blank_and_tiny_frames_are_recognised():
    assert measure_image_kind(np.full((200, 200), 513, np.uint16)).kind == "blank"
    assert measure_image_kind(np.zeros((8, 40))).kind == "tiny"
    nan_frame = np.full((64, 64), np.nan, dtype=np.float32)
    assert measure_image_kind(nan_frame).kind == "blank"


@pytest.mark.parametrize("kind", ["gauss_noise", "poisson_noise", "dark_frame", "blank_offset"])
def test_noise_frames_are_noise(kind):
    rng = np.random.default_rng(3)
    kinds = [measure_image_kind(make(kind, rng, 256)).kind for _ in range(4)]
    assert set(kinds) <= {"noise", "blank"}, kinds


def test_generated_wrong_kind_images_are_not_diffraction_patterns():
    rng = np.random.default_rng(4)
    looks = [measure_image_kind(make(k, rng, int(rng.choice([128, 256])))) for k in KINDS * 5]
    caught = np.mean([not look.is_diffraction for look in looks])
    assert caught >= 0.9, [(k, look.kind) for k, look in zip(KINDS * 5, looks, strict=True)]


def test_simulated_patterns_are_diffraction_patterns():
    looks = [
        measure_image_kind(simulate_one(kind, i, size, 11, "train").image)
        for kind, size in (("rings", 256), ("spots", 128))
        for i in range(10)
    ]
    assert np.mean([look.is_diffraction for look in looks]) >= 0.95, [x.kind for x in looks]


def test_clean_rings_and_spots_are_told_apart():
    """Hand-drawn patterns, unlike any training image; the flag thresholds are high (0.85), so
    a pattern the detector is less sure of is "diffraction" (either kind: no model rejects it)."""
    rings, spots = measure_image_kind(clean_rings()), measure_image_kind(clean_spots())
    assert rings.kind == "rings", rings
    assert spots.kind in ("spots", "diffraction"), spots
    assert rings.p_rings > 0.9 and rings.p_spots < 0.1
    assert spots.p_spots > 0.5 > spots.p_rings


def simulated(kind: str, index: int):
    return simulate_one(kind, index, {"rings": 256, "spots": 128}[kind], 11, "heldout").image


def test_wrong_pattern_kind_is_not_this_kind_for_each_model():
    rings, spots = (
        measure_image_kind(simulated("rings", 0)),
        measure_image_kind(simulated("spots", 0)),
    )
    # the look's own reason (how it knows), then what the model reads
    assert kind_mismatch(ring_manifest(), spots) == (
        f"{spots.reason}; this model reads ring patterns of polycrystalline films"
    )
    assert spots.reason.startswith("spot pattern")
    assert kind_mismatch(ring_manifest(), rings) is None
    assert kind_mismatch(spot_manifest(), rings) == (
        f"{rings.reason}; this model reads single-crystal spot patterns"
    )
    assert rings.reason.startswith("ring pattern")
    assert kind_mismatch(spot_manifest(), spots) is None


def test_file_modality_decides_for_real_space_files():
    look = ImageKind("diffraction", "looks like one")
    status = decide_status(ring_manifest(), 0.99, look, None, file_modality="SEM")
    assert status.status == NOT_THIS_KIND and "SEM" in status.reason
    sem_model = ModelManifest(architecture="resnet18", classes=["a", "b"], modality="SEM")
    assert decide_status(sem_model, 0.99, None, None, "SAED").status == NOT_THIS_KIND
    assert decide_status(sem_model, 0.99, None, None, "SEM").status == OK


def test_a_diffraction_file_without_rings_or_spots_says_so():
    """Metadata that says SAED does not make a featureless frame readable, and the reason
    must not claim that the file is not a diffraction pattern at all."""
    look = ImageKind("real-space", "not a diffraction pattern", p_other=0.93)
    reason = kind_mismatch(ring_manifest(), look, "SAED")
    assert reason.startswith("the file says it is a diffraction pattern, but the image-kind")
    assert "no rings or spots in it (93% not a pattern)" in reason
    assert decide_status(ring_manifest(), 0.99, look, None, "SAED").status == NOT_THIS_KIND
    noise = ImageKind("noise", "noise only: no structure about a centre")
    assert "noise only" in kind_mismatch(ring_manifest(), noise, "SAED")


def calibrated_ring_manifest(threshold_target=0.98) -> ModelManifest:
    """Calibrated on answers whose 80 least confident ones are wrong."""
    rng = np.random.default_rng(0)
    logits = rng.normal(0, 3, (400, 3))
    labels = logits.argmax(axis=1)
    least = np.argsort(np.sort(logits, axis=1)[:, -1] - np.sort(logits, axis=1)[:, -2])[:80]
    labels[least] = (labels[least] + 1) % 3
    features = rng.normal(0, 1, (400, 16)) + labels[:, None]
    calibration = fit_calibration(logits, labels, features, target_precision=threshold_target)
    return ring_manifest(calibration=calibration.to_dict())


def test_unsure_below_the_calibrated_threshold_and_ok_above():
    manifest = calibrated_ring_manifest()
    threshold = manifest.calibration["unsure_below"]
    assert 0.5 < threshold < 0.99
    look = ImageKind("rings", "ring pattern")
    assert decide_status(manifest, threshold - 0.01, look, 0.5).status == UNSURE
    assert decide_status(manifest, min(1.0, threshold + 0.01), look, 0.5).status == OK
    far = decide_status(manifest, 0.999, look, ood_score=3.0)
    assert far.status == NOT_THIS_KIND and "out-of-distribution" in far.reason


def test_uncalibrated_model_uses_the_default_threshold():
    look = ImageKind("rings", "ring pattern")
    unsure = decide_status(ring_manifest(), 0.55, look)
    assert unsure.status == UNSURE and "not calibrated" in unsure.reason
    assert decide_status(ring_manifest(), 0.65, look).status == OK


def test_predictions_carry_a_status(tmp_path, bundle_factory, textured):
    path = bundle_factory(
        tmp_path / "saed.cvmodel",
        modality="SAED",
        input_mode="whole",
        normalization=default_normalization(log=True),
    )
    old = load_bundle(path)
    blank = predict_image(old, np.full((64, 64), 7, np.uint16), InferenceSettings(fast=False))
    try:
        while True:
            next(blank)
    except StopIteration as stop:
        result = stop.value
    assert result.status == NOT_THIS_KIND and "blank" in result.status_reason
    assert not result.calibrated and result.ood_score is None and result.unsure_below == 0.6

    rng = np.random.default_rng(0)
    logits, labels = rng.normal(0, 3, (300, 3)), rng.integers(0, 3, 300)
    features = rng.normal(0, 1, (300, 128))
    apply_calibration_to_bundle(path, fit_calibration(logits, labels, features))
    calibrated = load_bundle(path)
    job = predict_image(calibrated, clean_spots(128), InferenceSettings(fast=False))
    try:
        while True:
            next(job)
    except StopIteration as stop:
        result = stop.value
    assert result.calibrated and result.ood_score is not None
    assert result.status in (OK, UNSURE, NOT_THIS_KIND) and result.status_reason
    assert result.unsure_below == calibrated.manifest.calibration["unsure_below"]
    assert sum(result.probabilities.values()) == pytest.approx(1.0, abs=1e-5)


def test_a_model_that_never_reaches_the_target_answers_unsure():
    manifest = calibrated_ring_manifest()
    manifest.calibration["unsure_below"] = 1.0 + 1e-9
    status = decide_status(manifest, 0.999, ImageKind("rings", "ring pattern"), 0.5)
    assert status.status == UNSURE and "every answer is unsure" in status.reason


def open_look(n_indexed: int) -> ImageKind:
    """A pattern the look could not place, with the spot net it measured."""
    share = 0.3 if n_indexed else 0.0
    return ImageKind(
        "diffraction", "diffraction pattern", net=NetSupport(20, n_indexed, share, 0.2)
    )


def test_a_spot_model_is_unsure_where_no_spot_net_confirms_an_open_pattern():
    no_net = decide_status(spot_manifest(), 0.99, open_look(0))
    assert no_net.status == UNSURE and "no 2-D net indexes the spots" in no_net.reason
    assert kind_doubt(spot_manifest(), open_look(0)) == no_net.reason
    # a net, even one too weak to call the pattern spots, or a clear look: the probability decides
    assert decide_status(spot_manifest(), 0.99, open_look(7)).status == OK
    assert decide_status(spot_manifest(), 0.99, ImageKind("spots", "spot pattern")).status == OK
    # a ring model reads such patterns as it reads any ring pattern
    assert kind_doubt(ring_manifest(), open_look(0)) is None
    assert decide_status(ring_manifest(), 0.99, open_look(0)).status == OK
