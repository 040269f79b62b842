"""Multi-scale tiles with an image-level head: the manifest, the bank, and inference agreeing."""

from __future__ import annotations

import json
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from crystalview.core.progress import run_to_completion
from crystalview.inference.predict import predict_image
from crystalview.inference.settings import InferenceSettings
from crystalview.models.bundle import load_bundle, save_bundle
from crystalview.models.efficientnet_lite import EfficientNetLite0
from crystalview.models.manifest import ManifestError, ModelManifest, default_normalization
from crystalview.training import model_card
from crystalview.training.auto import candidate_banks, candidate_manifest, real_space_manifests
from crystalview.training.tile_features import (
    FeatureBank,
    compute_feature_banks,
    multiscale_bank,
)

POOLING = {"method": "mean_logits", "zooms": [1.0, 0.5]}


def _manifest(**extra) -> ModelManifest:
    return ModelManifest(
        architecture="efficientnet_lite0",
        classes=["a", "b", "c"],
        input_size=64,
        normalization=default_normalization(),
        modality="SEM",
        **extra,
    )


def test_manifest_keeps_image_pooling_and_refuses_bad_values():
    manifest = _manifest(image_pooling=POOLING)
    again = ModelManifest.from_dict(json.loads(manifest.to_json()))
    assert again.image_pooling == POOLING and again.zooms == [1.0, 0.5]
    assert _manifest().zooms == [1.0]  # bundles without the field pool tile probabilities
    bad = [
        {"method": "max", "zooms": [1.0]},
        {"method": "mean_logits", "zooms": [0.5, 1.0]},
        {"method": "mean_logits", "zooms": [1.0, 0.0]},
        {"method": "mean_logits", "zooms": [1.0, float("nan")]},
        {"method": "mean_logits", "zooms": [1.0] * 5},
        {"method": "mean_logits"},
        [1.0, 0.5],
    ]
    for pooling in bad:
        with pytest.raises(ManifestError, match="image_pooling"):
            _manifest(image_pooling=pooling)
    with pytest.raises(ManifestError, match="input_mode"):
        _manifest(image_pooling=POOLING, input_mode="whole")


def _bank(rows: list[np.ndarray]) -> FeatureBank:
    n = len(rows)
    return FeatureBank(rows, np.zeros(n, np.int64), list(range(n)), [None] * n,
                       np.zeros((n, 4)), np.ones(n, np.float32))  # fmt: skip


def test_multiscale_bank_is_the_mean_over_zooms_of_the_tile_means():
    native = _bank([np.array([[0.0, 2.0], [2.0, 4.0]]), np.array([[1.0, 1.0]])])
    half = _bank([np.array([[4.0, 0.0]]), np.array([[3.0, 5.0], [5.0, 7.0]])])
    pooled = multiscale_bank([native, half])
    np.testing.assert_allclose(pooled.tiles[0], [[2.5, 1.5]])
    np.testing.assert_allclose(pooled.tiles[1], [[2.5, 3.5]])
    banks = candidate_banks({"tiles": native, "tiles_half": half, "whole": native})
    assert list(banks) == ["multiscale", "tiles", "whole"]
    manifests = real_space_manifests({"architecture": "efficientnet_lite0", "classes": ["a", "b"]})
    assert candidate_manifest(manifests, "multiscale").image_pooling == POOLING
    assert candidate_manifest(manifests, "tiles").image_pooling is None


def test_saved_multiscale_model_answers_with_the_features_it_was_fitted_on(tmp_path):
    """Inference of the saved bundle = the linear head on the training code's multi-scale row."""
    torch.manual_seed(0)
    model = EfficientNetLite0(3, 1).eval()
    with torch.no_grad():  # a fresh network's features are ~0: give it ones that vary
        for module in model.modules():
            if isinstance(module, torch.nn.BatchNorm2d):
                module.running_var.fill_(0.01)
                module.bias.uniform_(-0.1, 0.3)
        model.fc.weight.normal_(0, 0.01)
    manifest = _manifest(image_pooling=POOLING)
    rng = np.random.default_rng(1)
    image = rng.normal(size=(150, 200)).astype(np.float32)
    image += np.sin(np.arange(200) / 3.0)[None] * 2
    banks = run_to_completion(
        compute_feature_banks(
            [(image, 0)], model, [manifest, manifest], torch.device("cpu"), zooms=[1.0, 0.5]
        )
    )
    assert len(banks[0].tiles[0]) > len(banks[1].tiles[0]) >= 1
    row = multiscale_bank(banks).tiles[0].astype(np.float64)
    weight = model.fc.weight.detach().double().numpy()
    logits = row @ weight.T + model.fc.bias.detach().double().numpy()
    expected = np.exp(logits - logits.max()) / np.exp(logits - logits.max()).sum()

    loaded = load_bundle(save_bundle(tmp_path / "m.cvmodel", model, manifest))
    card = model_card(
        SimpleNamespace(
            manifest=manifest,
            per_class={},
            confusion_matrix=[[1, 0, 0], [0, 1, 0], [0, 0, 1]],
            data_summary="",
            validation=None,
            warnings=[],
        )
    )
    assert "tiled at zooms 1, 0.5" in card
    assert loaded.manifest.image_pooling == POOLING
    exact = InferenceSettings(fast=False)  # full precision: the comparison is to 1e-3
    prediction = run_to_completion(predict_image(loaded, image, exact))
    got = np.array([prediction.probabilities[c] for c in manifest.classes])
    np.testing.assert_allclose(got, expected[0], atol=2e-3)
    # ... which is not what the mean of the native tiles' probabilities says.
    assert not np.allclose(prediction.tile_probabilities.mean(0), got, atol=2e-3)
    assert prediction.tile_probabilities.shape[0] == len(banks[0].tiles[0])


def test_region_wise_reading_refuses_a_multiscale_model_clearly(tmp_path):
    import tifffile

    from crystalview.core.errors import CrystalViewError
    from crystalview.inference import regions
    from crystalview.inference.predict import make_runner
    from crystalview.io import tiff_regions

    path = tmp_path / "mosaic.tif"
    tifffile.imwrite(path, np.zeros((300, 410), np.uint16), bigtiff=True)
    model = EfficientNetLite0(3, 1).eval()
    loaded = load_bundle(
        save_bundle(tmp_path / "m.cvmodel", model, _manifest(image_pooling=POOLING))
    )
    settings = InferenceSettings(device="cpu", fast=False)
    job = regions.predict_regions(
        loaded, tiff_regions.locate_contiguous(path), settings, make_runner(loaded, settings)
    )
    with pytest.raises(CrystalViewError, match="several resolutions"):
        run_to_completion(job)
