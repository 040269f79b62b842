"""The evidence stack: fit, gate, manifest checks, and the answer `predict_image` gives."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from crystalview.core.errors import ModelBundleError
from crystalview.inference.evidence import (
    EvidenceStack,
    feature_count,
    fit_evidence_stack,
    measure_evidence,
    model_evidence,
)
from crystalview.inference.predict import CalibratedOutputs, make_runner, predict_image
from crystalview.inference.preprocess import prepare_whole
from crystalview.inference.runner import softmax_rows
from crystalview.inference.settings import InferenceSettings
from crystalview.inference.spot_lattice import SPOT_FEATURE_NAMES
from crystalview.models.bundle import load_bundle, save_bundle
from crystalview.models.manifest import ManifestError, ModelManifest, default_normalization
from crystalview.models.registry import build_model

LATTICES = ["square", "hexagonal", "rectangular", "centered_rectangular", "oblique"]
F = len(SPOT_FEATURE_NAMES)
FOUND = SPOT_FEATURE_NAMES.index("found")


def square_net(size: int = 128, spacing: float = 14.0) -> np.ndarray:
    """Gaussian spots on a square net about the middle, on a weak background."""
    yy, xx = np.indices((size, size), dtype=float)
    image = np.full((size, size), 5.0)
    for i in range(-5, 6):
        for j in range(-5, 6):
            y, x = size / 2 + 0.3 + i * spacing, size / 2 - 0.2 + j * spacing
            image += 200.0 * np.exp(-((yy - y) ** 2 + (xx - x) ** 2) / (2 * 1.2**2))
    return np.random.default_rng(0).poisson(image).astype(np.uint16)


def synthetic_split(n: int = 600, seed: int = 0):
    """Logits that say little and features whose first columns carry the class."""
    rng = np.random.default_rng(seed)
    labels = np.arange(n) % len(LATTICES)
    logits = rng.normal(0.0, 1.0, (n, len(LATTICES)))
    features = rng.normal(0.0, 1.0, (n, F))
    features[:, FOUND] = 1.0
    informative = [i for i in range(F) if i != FOUND][: len(LATTICES)]
    features[np.arange(n), np.array(informative)[labels]] += 4.0
    return logits, features, labels


def test_the_stack_learns_what_the_features_say_and_the_gate_keeps_the_network():
    logits, features, labels = synthetic_split()
    stack = fit_evidence_stack("spot_lattice", logits, features, labels)
    test_logits, test_features, test_labels = synthetic_split(seed=1)
    assert np.mean(test_logits.argmax(1) == test_labels) < 0.35
    stacked = stack.apply(test_logits, test_features)
    assert np.mean(stacked.argmax(1) == test_labels) > 0.95
    test_features[:, FOUND] = 0.0  # no net found: the measures say nothing
    assert np.array_equal(stack.apply(test_logits, test_features), test_logits)
    with pytest.raises(ValueError, match="features"):
        stack.apply(test_logits, test_features[:, :-1])


def test_fit_is_deterministic_and_round_trips_through_the_manifest():
    logits, features, labels = synthetic_split()
    first = fit_evidence_stack("spot_lattice", logits, features, labels)
    assert fit_evidence_stack("spot_lattice", logits, features, labels) == first
    manifest = _manifest(first.to_dict())
    again = ModelManifest.from_json(manifest.to_json())
    assert model_evidence(again) == first


def _manifest(evidence: dict | None, **fields) -> ModelManifest:
    return ModelManifest(
        architecture="diffraction_cnn",
        classes=list(LATTICES),
        input_size=32,
        input_mode=fields.pop("input_mode", "whole"),
        normalization=default_normalization(log=True),
        evidence=evidence,
        **fields,
    )


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda d: d.pop("bias"), "exactly the keys"),
        (lambda d: d.update(method="ring_indexing"), "evidence.method"),
        (lambda d: d.update(mean=d["mean"][:-1]), "evidence.scale"),
        (lambda d: d["weights"].pop(), "evidence.weights"),
        (lambda d: d["weights"][0].append(1.0), "evidence.weights"),
        (lambda d: d["scale"].__setitem__(0, 0.0), "scale must be positive"),
        (lambda d: d["bias"].__setitem__(0, float("nan")), "evidence.bias"),
    ],
)
def test_a_damaged_stack_is_refused_with_the_field_named(change, message):
    logits, features, labels = synthetic_split(100)
    data = fit_evidence_stack("spot_lattice", logits, features, labels).to_dict()
    change(data)
    with pytest.raises(ManifestError, match=message):
        _manifest(data)


def test_a_stack_fitted_to_other_features_is_refused_when_the_bundle_loads(tmp_path):
    k = len(LATTICES)
    short = EvidenceStack("spot_lattice", (0.0,) * (k + 3), (1.0,) * (k + 3),
                          ((0.0,) * (k + 3),) * k, (0.0,) * k)  # fmt: skip
    model = build_model("diffraction_cnn", k)
    path = save_bundle(tmp_path / "short.cvmodel", model, _manifest(short.to_dict()))
    with pytest.raises(ModelBundleError, match="fitted to 3 spot_lattice features"):
        load_bundle(path)


def test_evidence_is_for_whole_image_models_only():
    logits, features, labels = synthetic_split(100)
    data = fit_evidence_stack("spot_lattice", logits, features, labels).to_dict()
    with pytest.raises(ManifestError, match="whole-image"):
        _manifest(data, input_mode="tiles")


def _stacked_bundle(tmp_path, weights: np.ndarray):
    torch.manual_seed(0)
    model = build_model("diffraction_cnn", len(LATTICES)).eval()
    k = len(LATTICES)
    stack = EvidenceStack(
        method="spot_lattice",
        mean=(0.0,) * (k + F),
        scale=(1.0,) * (k + F),
        weights=tuple(tuple(float(v) for v in row) for row in weights),
        bias=(0.0,) * k,
    )
    path = save_bundle(tmp_path / "stacked.cvmodel", model, _manifest(stack.to_dict()))
    return load_bundle(path), stack


def test_predict_image_answers_with_the_stacked_logits(tmp_path):
    k = len(LATTICES)
    weights = np.zeros((k, k + F))
    weights[:, :k] = np.eye(k)  # the network's logits ...
    weights[0, k + FOUND] = 6.0  # ... plus a strong vote for "square" when a net is found
    loaded, stack = _stacked_bundle(tmp_path, weights)
    image = square_net()
    features = measure_evidence("spot_lattice", image)
    assert features[FOUND] == 1.0
    prediction = _run(predict_image(loaded, image))
    view = torch.from_numpy(prepare_whole(image, loaded.manifest)[None, None])
    with torch.no_grad():
        raw = loaded.model(view).numpy()
    expected = softmax_rows(stack.apply(raw, features[None]), 1.0)[0]
    assert prediction.label == "square"
    probabilities = [prediction.probabilities[name] for name in LATTICES]
    assert np.allclose(probabilities, expected, atol=1e-4)


def test_without_a_net_the_network_alone_answers(tmp_path):
    k = len(LATTICES)
    weights = np.zeros((k, k + F))
    weights[0, k + FOUND] = 6.0
    loaded, _ = _stacked_bundle(tmp_path, weights)
    flat = np.random.default_rng(1).poisson(50.0, (128, 128)).astype(np.uint16)
    assert measure_evidence("spot_lattice", flat)[FOUND] == 0.0
    prediction = _run(predict_image(loaded, flat))
    view = torch.from_numpy(prepare_whole(flat, loaded.manifest)[None, None])
    with torch.no_grad():
        expected = softmax_rows(loaded.model(view).numpy(), 1.0)[0]
    probabilities = [prediction.probabilities[name] for name in LATTICES]
    assert np.allclose(probabilities, expected, atol=1e-4)


def test_a_stacked_model_refuses_a_batch_without_its_evidence(tmp_path):
    k = len(LATTICES)
    loaded, _ = _stacked_bundle(tmp_path, np.zeros((k, k + F)))
    outputs = CalibratedOutputs(make_runner(loaded, InferenceSettings()), loaded.manifest)
    view = prepare_whole(square_net(), loaded.manifest)[None]
    with pytest.raises(ValueError, match="evidence"):
        outputs(view)


def test_every_method_names_its_feature_count():
    assert feature_count("spot_lattice") == F


def _run(generator):
    try:
        while True:
            next(generator)
    except StopIteration as stop:
        return stop.value


def test_calibration_on_simulation_measures_the_evidence_and_keeps_the_stack(tmp_path):
    from crystalview.inference.calibration_bundle import (
        CALIBRATION_REGIME,
        calibrate_bundle_on_simulation,
        simulate_calibration_split,
    )
    from crystalview.sim.generators import class_names, simulate_one

    k = len(LATTICES)
    weights = np.zeros((k, k + F))
    weights[:, :k] = np.eye(k)
    weights[0, k + FOUND] = 2.0
    stack = EvidenceStack("spot_lattice", (0.0,) * (k + F), (1.0,) * (k + F),
                          tuple(tuple(r) for r in weights.tolist()), (0.0,) * k)  # fmt: skip
    torch.manual_seed(0)
    manifest = ModelManifest(
        architecture="diffraction_cnn",
        classes=list(class_names("spots")),
        input_size=32,
        modality="SAED",
        input_mode="whole",
        normalization=default_normalization(log=True, transform="polar_autocorrelation"),
        evidence=stack.to_dict(),
    )
    path = save_bundle(tmp_path / "spots.cvmodel", build_model("diffraction_cnn", k), manifest)
    _, _, evidence = simulate_calibration_split(manifest, n=6, seed=77, size=64)
    first = simulate_one("spots", 0, 64, 77, CALIBRATION_REGIME).image
    assert evidence.shape == (6, F)
    assert np.array_equal(evidence[0], measure_evidence("spot_lattice", first))
    calibrate_bundle_on_simulation(path, n=40, seed=77, size=64)
    stored = load_bundle(path).manifest
    assert model_evidence(stored) == stack and stored.calibration["n"] == 40
