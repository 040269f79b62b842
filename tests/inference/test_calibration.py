"""Temperature scaling, the unsure threshold, the accuracy-coverage curve and the OOD score."""

from __future__ import annotations

import json
import math
import zipfile

import numpy as np
import pytest

from crystalview.core.errors import ModelBundleError
from crystalview.inference.calibration import (
    Calibration,
    accuracy_coverage_curve,
    calibration_card_lines,
    choose_threshold,
    evaluate_calibration,
    expected_calibration_error,
    fit_calibration,
    fit_out_of_distribution,
    fit_temperature,
    softmax,
)
from crystalview.inference.calibration_bundle import apply_calibration_to_bundle
from crystalview.models.bundle import load_bundle
from crystalview.models.manifest import ModelManifest


def overconfident_split(n=3000, k=3, sharpen=3.0, seed=0):
    """Labels drawn from softmax(z); the model reports ``sharpen * z`` (over-confident)."""
    rng = np.random.default_rng(seed)
    z = rng.normal(0, 1.5, (n, k))
    labels = np.array([rng.choice(k, p=p) for p in softmax(z)])
    return sharpen * z, labels


def test_temperature_undoes_overconfidence_and_lowers_the_calibration_error():
    logits, labels = overconfident_split()
    temperature = fit_temperature(logits, labels)
    assert temperature == pytest.approx(3.0, rel=0.1)
    before = expected_calibration_error(softmax(logits), labels)
    after = expected_calibration_error(softmax(logits, temperature), labels)
    assert after < 0.03 < before


def test_perfectly_calibrated_answers_have_small_ece():
    logits, labels = overconfident_split(sharpen=1.0, seed=1)
    assert fit_temperature(logits, labels) == pytest.approx(1.0, rel=0.1)
    assert expected_calibration_error(softmax(logits), labels) < 0.03


def test_threshold_keeps_answers_that_are_right_often_enough():
    logits, labels = overconfident_split(seed=2)
    probabilities = softmax(logits, 3.0)
    confidence = probabilities.max(axis=1)
    correct = probabilities.argmax(axis=1) == labels
    threshold, coverage, accuracy = choose_threshold(confidence, correct, 0.98)
    kept = confidence >= threshold
    assert kept.mean() == pytest.approx(coverage)
    assert correct[kept].mean() == pytest.approx(accuracy) and accuracy >= 0.98
    # one more answer (the most confident one left out) would take it below the target
    below = confidence < threshold
    if below.any():
        extra = kept | (confidence == confidence[below].max())
        assert correct[extra].mean() < 0.98 or extra.sum() == kept.sum()
    assert 0.0 < coverage < 1.0


def test_no_threshold_reaches_the_target_on_a_model_that_is_always_wrong():
    threshold, coverage, accuracy = choose_threshold(np.linspace(0.4, 1, 50), np.zeros(50), 0.98)
    assert threshold > 1.0 and coverage == 0.0 and math.isnan(accuracy)


def test_accuracy_coverage_curve_goes_from_most_confident_to_all():
    confidence = np.array([0.99, 0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3, 0.2, 0.1])
    correct = np.array([1, 1, 1, 1, 0, 1, 0, 0, 1, 0], dtype=bool)
    curve = accuracy_coverage_curve(confidence, correct, n_points=5)
    assert [row[1] for row in curve] == [0.2, 0.4, 0.6, 0.8, 1.0]
    assert [row[2] for row in curve] == [1.0, 1.0, 5 / 6, 5 / 8, 0.6]
    assert [row[0] for row in curve] == [0.9, 0.7, 0.5, 0.3, 0.1]


def gaussian_features(n, k, shift=0.0, seed=0, dims=24):
    rng = np.random.default_rng(seed)
    centres = np.random.default_rng(99).normal(0, 3, (k, dims))
    labels = rng.integers(0, k, n)
    features = centres[labels] + rng.normal(0, 1, (n, dims)) + shift
    return features, labels


def test_ood_score_flags_shifted_features_and_spares_new_draws_of_the_same():
    features, labels = gaussian_features(2000, 3)
    ood = fit_out_of_distribution(features, labels, 3, axes=8)
    same, _ = gaussian_features(1000, 3, seed=1)
    far, _ = gaussian_features(1000, 3, shift=np.random.default_rng(5).normal(0, 4, 24), seed=2)
    assert (ood.score(same) > ood.threshold).mean() < 0.02
    assert (ood.score(far) > ood.threshold).mean() > 0.95
    assert len(ood.scales) == 8 and len(ood.components[0]) == 24


def test_fit_calibration_reports_before_and_after_and_survives_json():
    logits, labels = overconfident_split(seed=3)
    features, _ = gaussian_features(len(labels), 3, seed=4)
    calibration = fit_calibration(logits, labels, features, split="test split")
    assert calibration.ece_after < calibration.ece_before
    assert calibration.nll_after < calibration.nll_before
    assert calibration.ok_accuracy >= 0.98 and calibration.n == len(labels)
    assert calibration.curve[-1][1] == 1.0
    assert calibration.curve[-1][2] == pytest.approx(calibration.accuracy)
    again = Calibration.from_dict(json.loads(json.dumps(calibration.to_dict())))
    assert again.temperature == calibration.temperature
    np.testing.assert_allclose(again.ood.score(features[:5]), calibration.ood.score(features[:5]))
    text = "\n".join(calibration_card_lines(calibration, {"held-out": evaluate_calibration(
        calibration, logits, labels, features)}))  # fmt: skip
    assert "Temperature" in text and "| coverage | accuracy |" in text and "held-out" in text


def test_evaluation_on_another_split_uses_the_stored_threshold():
    logits, labels = overconfident_split(seed=5)
    calibration = fit_calibration(logits, labels)
    other_logits, other_labels = overconfident_split(seed=6)
    result = evaluate_calibration(calibration, other_logits, other_labels)
    confidence = softmax(other_logits, calibration.temperature).max(axis=1)
    assert result["coverage"] == pytest.approx((confidence >= calibration.unsure_below).mean())
    assert result["ok_accuracy"] > 0.95


def test_answers_flagged_not_this_kind_are_not_counted_as_ok():
    logits, labels = overconfident_split(seed=5)
    calibration = fit_calibration(logits, labels)
    other_logits, other_labels = overconfident_split(seed=6)
    plain = evaluate_calibration(calibration, other_logits, other_labels)
    flagged = np.zeros(len(other_labels), dtype=bool)
    flagged[::4] = True
    result = evaluate_calibration(calibration, other_logits, other_labels, None, flagged)
    assert result["look_flagged"] == pytest.approx(0.25)
    confident = softmax(other_logits, calibration.temperature).max(axis=1)
    expected = ((confident >= calibration.unsure_below) & ~flagged).mean()
    assert result["coverage"] == pytest.approx(expected) and expected < plain["coverage"]
    assert result["accuracy"] == plain["accuracy"]
    text = "\n".join(calibration_card_lines(calibration, {"independent": result}))
    assert "flagged not-this-kind by the image look 25.0 %" in text


def test_answers_the_look_holds_unsure_are_not_counted_as_ok():
    logits, labels = overconfident_split(seed=5)
    calibration = fit_calibration(logits, labels)
    other_logits, other_labels = overconfident_split(seed=6)
    flagged = np.zeros(len(other_labels), dtype=bool)
    doubted = np.zeros(len(other_labels), dtype=bool)
    doubted[1::5] = True
    result = evaluate_calibration(calibration, other_logits, other_labels, None, flagged, doubted)
    assert result["look_unsure"] == pytest.approx(0.2)
    confident = softmax(other_logits, calibration.temperature).max(axis=1)
    expected = ((confident >= calibration.unsure_below) & ~doubted).mean()
    assert result["coverage"] == pytest.approx(expected)
    text = "\n".join(calibration_card_lines(calibration, {"independent": result}))
    assert "held `unsure` by the look (no spot net in a pattern it could not place) 20.0 %" in text


def calibration_for(manifest: ModelManifest, features_dim: int = 128) -> Calibration:
    rng = np.random.default_rng(0)
    logits = rng.normal(0, 2, (200, manifest.num_classes))
    labels = logits.argmax(axis=1)
    labels[:20] = (labels[:20] + 1) % manifest.num_classes
    features, _ = gaussian_features(200, manifest.num_classes, dims=features_dim)
    return fit_calibration(logits, labels, features, split="random")


def test_calibration_is_stored_in_the_bundle_and_the_weights_are_kept(tmp_path, bundle_factory):
    path = bundle_factory(tmp_path / "tiny.cvmodel")
    before = load_bundle(path)
    assert before.manifest.calibration is None
    calibration = calibration_for(before.manifest)
    out = apply_calibration_to_bundle(path, calibration, tmp_path / "cal.cvmodel", "spots")
    after = load_bundle(out)
    assert after.manifest.calibration == json.loads(json.dumps(calibration.to_dict()))
    assert after.manifest.pattern_kind == "spots"
    with zipfile.ZipFile(path) as old, zipfile.ZipFile(out) as new:
        assert old.read("weights.safetensors") == new.read("weights.safetensors")


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda c: c.update(temperature=float("nan")), "temperature"),
        (lambda c: c.update(temperature=-1.0), "temperature"),
        (lambda c: c.update(extra=1), "exactly the keys"),
        (lambda c: c["ood"].update(class_means=[[0.0] * 128]), "class_means"),
        (lambda c: c["ood"].update(scales=[1.0]), "scales"),
        (lambda c: c["ood"].update(method="pickle"), "method"),
        (lambda c: c.update(curve=[[0.5, 0.5]]), "curve"),
    ],
)
def test_a_malformed_calibration_is_refused_by_name(tmp_path, bundle_factory, change, message):
    manifest = load_bundle(bundle_factory(tmp_path / "tiny.cvmodel")).manifest
    data = manifest.to_dict()
    data["calibration"] = calibration_for(manifest).to_dict()
    ModelManifest.from_dict(json.loads(json.dumps(data)))  # the good one passes
    change(data["calibration"])
    with pytest.raises(ModelBundleError, match=message):
        ModelManifest.from_dict(data)


def test_a_version_1_manifest_without_calibration_still_loads():
    manifest = ModelManifest.from_json(
        json.dumps({"format_version": 1, "architecture": "diffraction_cnn", "classes": ["a", "b"]})
    )
    assert manifest.calibration is None and manifest.expected_pattern_kind is None


def test_models_calibrate_fits_on_simulated_patterns(tmp_path, capsys):
    import torch

    from crystalview.cli import main
    from crystalview.models.bundle import save_bundle
    from crystalview.models.manifest import default_normalization
    from crystalview.models.registry import build_model
    from crystalview.sim.generators import class_names

    torch.manual_seed(0)
    classes = list(class_names("spots"))
    manifest = ModelManifest(
        architecture="diffraction_cnn",
        classes=classes,
        input_size=32,
        modality="SAED",
        input_mode="whole",
        normalization=default_normalization(log=True, transform="polar_autocorrelation"),
    )
    path = save_bundle(tmp_path / "spots.cvmodel", build_model("diffraction_cnn", 5), manifest)
    args = ["models", "calibrate", str(path), "--n", "60", "--sim-size", "64", "--seed", "77"]
    assert main(args) == 0
    printed = json.loads(capsys.readouterr().out)
    stored = load_bundle(path).manifest
    assert stored.calibration["temperature"] == printed["temperature"]
    assert stored.calibration["n"] == 60 and "seed 77" in stored.calibration["split"]
    assert stored.pattern_kind == "spots" and stored.calibration["ood"] is not None
    assert printed["ood_threshold"] == stored.calibration["ood"]["threshold"]


def test_models_calibrate_refuses_a_model_the_simulator_cannot_feed(
    tmp_path, bundle_factory, capsys
):
    from crystalview.cli import main

    path = bundle_factory(tmp_path / "tiny.cvmodel")
    assert main(["models", "calibrate", str(path), "--n", "60"]) == 1
    assert "calibrate it on labelled images" in capsys.readouterr().err
