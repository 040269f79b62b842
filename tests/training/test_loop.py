"""The training loop: accuracy, caching equals the naive loop, cancel, bundles, saving."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from crystalview.core.errors import CrystalViewError
from crystalview.core.progress import CancelToken, run_to_completion
from crystalview.models.bundle import load_bundle
from crystalview.models.registry import build_model
from crystalview.training import (
    EpochMetrics,
    TrainingConfig,
    model_card,
    save_trained_model,
    train_model,
)
from crystalview.training.features import find_split
from crystalview.training.strategies import plan_strategy

from .conftest import CLASSES, synthetic_images


def _config(**overrides) -> TrainingConfig:
    settings = {
        "base": "diffraction_cnn",
        "strategy": "frozen",
        "epochs": 12,
        "batch_size": 16,
        "lr": 1e-2,
        "input_size": 32,
        "modality": "SEM",
        "augmentation": {},
        "early_stopping_patience": None,
        "device": "cpu",
    }
    settings.update(overrides)
    return TrainingConfig(**settings)


def _train(samples, config, cancel=None, on_progress=None):
    return run_to_completion(train_model(samples, CLASSES, config, cancel), on_progress)


def test_frozen_on_cached_features_learns_an_easy_task(easy_samples):
    events = []
    result = _train(easy_samples, _config(), on_progress=events.append)
    epochs = [e.partial for e in events if isinstance(e.partial, EpochMetrics)]
    assert [m.epoch for m in epochs] == list(range(1, 13)) == [m.epoch for m in result.history]
    assert result.val_accuracy >= 0.9
    assert np.array(result.confusion_matrix).sum() == len(result.val_predictions) == 12
    assert set(result.per_class) == set(CLASSES)
    assert not result.cancelled and result.manifest.classes == CLASSES
    provenance = result.manifest.provenance
    assert provenance["strategy"] == "frozen"
    assert provenance["data"]["counts"] == dict.fromkeys(CLASSES, 20)
    assert provenance["metrics"]["val_accuracy"] == result.val_accuracy
    per_batch = [e for e in events if e.partial is None and e.message.startswith("Epoch")]
    assert len(per_batch) == 12 * 3  # 48 training images in batches of 16


@pytest.mark.parametrize("strategy", ["frozen", "last-blocks"])
def test_cached_training_matches_the_naive_loop(easy_samples, strategy):
    config = _config(strategy=strategy, epochs=6, backbone_lr=1e-3)
    cached = _train(easy_samples, config)
    config.cache_features = False
    naive = _train(easy_samples, config)
    for a, b in zip(cached.history, naive.history, strict=True):
        assert a.train_loss == pytest.approx(b.train_loss, rel=1e-3, abs=1e-5)
        assert a.val_loss == pytest.approx(b.val_loss, rel=1e-3, abs=1e-5)
    for name, tensor in cached.model.state_dict().items():
        assert torch.allclose(tensor, naive.model.state_dict()[name], rtol=1e-2, atol=1e-3), name


def test_feature_split_is_verified_and_used():
    model = build_model("diffraction_cnn", 3)
    probe = torch.randn(2, 1, 32, 32)
    for strategy in ("frozen", "last-blocks"):
        plan = plan_strategy(model, strategy, 1e-3, 1e-5)
        assert find_split(model, plan, probe) is not None
    assert find_split(model, plan_strategy(model, "full", 1e-3, 1e-5), probe) is None


def test_cancel_mid_training_returns_the_best_checkpoint(easy_samples, tmp_path):
    cancel = CancelToken()
    seen = []

    def on_progress(event):
        if isinstance(event.partial, EpochMetrics):
            seen.append(event.partial)
            if len(seen) == 2:
                cancel.cancel()

    result = _train(easy_samples, _config(epochs=50), cancel, on_progress)
    assert result.cancelled and len(result.history) == 2
    assert result.best_epoch in (1, 2)
    assert result.val_accuracy == max(m.val_acc for m in result.history)
    path = save_trained_model(result, tmp_path / "cancelled.cvmodel")
    loaded = load_bundle(path)
    assert loaded.manifest.provenance["settings"]["cancelled"] is True
    with torch.no_grad():
        logits = loaded.model(torch.zeros(1, 1, 32, 32))
    assert logits.shape == (1, 3)


def test_fine_tune_from_a_bundle_never_touches_the_base(easy_samples, tmp_path):
    first = _train(easy_samples, _config(epochs=2))
    base_path = save_trained_model(first, tmp_path / "base.cvmodel")
    before = {k: v.clone() for k, v in load_bundle(base_path).model.state_dict().items()}
    two_classes = [(image, label) for image, label in easy_samples if label < 2]
    config = _config(base=str(base_path), strategy="last-blocks", epochs=2, input_size=None)
    result = run_to_completion(train_model(two_classes, ["h", "v"], config))
    assert result.manifest.classes == ["h", "v"] and result.model.num_classes == 2
    assert result.manifest.input_size == 32  # the bundle's preprocessing is kept
    assert result.manifest.provenance["base_kind"] == "bundle"
    after = load_bundle(base_path).model.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)


def test_fine_tune_from_a_calibrated_bundle_drops_the_bases_calibration(easy_samples, tmp_path):
    from crystalview.inference.calibration import fit_calibration
    from crystalview.inference.calibration_bundle import apply_calibration_to_bundle

    first = _train(easy_samples, _config(epochs=2))
    base_path = save_trained_model(first, tmp_path / "base.cvmodel")
    rng = np.random.default_rng(0)
    labels = np.arange(90) % 3
    logits = rng.normal(0, 1, (90, 3)) + 3 * np.eye(3)[labels]
    calibration = fit_calibration(logits, labels, rng.normal(0, 1, (90, 8)), split="test")
    apply_calibration_to_bundle(base_path, calibration)
    assert load_bundle(base_path).manifest.calibration is not None
    two_classes = [(image, label) for image, label in easy_samples if label < 2]
    config = _config(base=str(base_path), strategy="last-blocks", epochs=1, input_size=None)
    result = run_to_completion(train_model(two_classes, ["h", "v"], config))
    assert result.manifest.classes == ["h", "v"] and result.manifest.calibration is None


def test_save_never_overwrites(easy_samples, tmp_path):
    result = _train(easy_samples, _config(epochs=1, name="phases"))
    first = save_trained_model(result)
    second = save_trained_model(result)
    assert first != second and first.is_file() and second.is_file()
    assert first.stem == "phases" and second.stem == "phases-2"
    with pytest.raises(CrystalViewError, match="already exists"):
        save_trained_model(result, first)
    card = model_card(result)
    assert "phases" in card and "| horizontal | 20 |" in card
    assert load_bundle(first).model_card == card


def test_augmentation_and_tiles_mode_run(easy_samples):
    config = _config(epochs=2, input_mode="tiles", input_size=16, augmentation=None)
    result = _train(synthetic_images(4), config)
    assert result.manifest.input_mode == "tiles"
    assert result.manifest.provenance["augmentation"]["flips"] is True
    assert len(result.history) == 2


def test_too_few_images_is_a_clear_error():
    with pytest.raises(CrystalViewError, match="at least two readable images"):
        _train(synthetic_images(1), _config(epochs=1))


def test_unreadable_images_are_skipped_and_reported(easy_samples, tmp_path):
    missing = tmp_path / "moved-away.tif"
    result = _train([*easy_samples, (missing, 0)], _config(epochs=1))
    assert [path for path, _ in result.skipped_files] == [str(missing)]
    assert result.manifest.provenance["data"]["skipped_files"] == 1


def test_missing_imagenet_weights_give_the_registry_message(easy_samples, monkeypatch):
    from crystalview.models import registry

    def offline(arch, progress=None):
        raise registry.PretrainedWeightsUnavailable(f"ImageNet weights for {arch} are missing")

    monkeypatch.setattr(registry, "load_imagenet_state", offline)
    with pytest.raises(registry.PretrainedWeightsUnavailable, match="resnet18"):
        _train(easy_samples, _config(base="resnet18", pretrained=True, epochs=1))
    # diffraction_cnn has no ImageNet weights: "pretrained" simply does not apply to it.
    result = _train(easy_samples, _config(pretrained=True, epochs=1))
    assert result.manifest.provenance["pretrained"] is False


def test_radial_profile_network_gets_the_radial_profile_view(easy_samples):
    """Started from its name, the ring network reads the azimuthally averaged profile it was
    designed for, never the raw image (whose rows it would average into nonsense)."""
    result = _train(
        easy_samples, _config(base="radial_profile_cnn", input_size=64, modality=None, epochs=2)
    )
    manifest = result.manifest
    assert manifest.architecture == "radial_profile_cnn"
    assert manifest.normalization["transform"] == "log_polar_mean"
    assert manifest.input_size == 64 and len(result.history) == 2
