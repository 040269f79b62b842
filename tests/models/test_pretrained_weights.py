"""ImageNet weights: offline failure is explained, import-weights fills torchvision's cache."""

from __future__ import annotations

import urllib.error

import pytest
import torch
from torchvision.models import resnet18

from crystalview.core.errors import CrystalViewError
from crystalview.models import pretrained
from crystalview.models.registry import PretrainedWeightsUnavailable, build_model


@pytest.fixture
def offline_hub(tmp_path, monkeypatch):
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path / "hub"))

    def no_network(*args, **kwargs):
        raise urllib.error.URLError("no network in tests")

    monkeypatch.setattr(torch.hub, "download_url_to_file", no_network)
    return tmp_path / "hub"


def test_offline_without_cache_says_how_to_import(offline_hub):
    with pytest.raises(PretrainedWeightsUnavailable, match="import-weights resnet18"):
        build_model("resnet18", 3, pretrained=True)


def test_diffraction_cnn_has_no_pretrained_weights():
    with pytest.raises(PretrainedWeightsUnavailable, match="from scratch"):
        build_model("diffraction_cnn", 3, pretrained=True)


def test_imported_weights_build_a_grey_stem_from_rgb_filters(offline_hub, tmp_path):
    torch.manual_seed(1)
    reference = resnet18(weights=None)
    source = tmp_path / "resnet18-download.pth"
    torch.save(reference.state_dict(), source)
    destination, official = pretrained.import_weights_file("resnet18", source)
    assert destination == pretrained.cached_weights_path("resnet18")
    assert destination.is_file() and destination.parent.parent == offline_hub
    assert official is False  # random weights do not match the published checksum

    model = build_model("resnet18", 3, pretrained=True)
    expected_stem = reference.conv1.weight.sum(dim=1, keepdim=True)
    assert torch.allclose(model.conv1.weight, expected_stem)
    assert torch.equal(model.layer4[1].conv2.weight, reference.layer4[1].conv2.weight)
    assert model.fc.out_features == 3


def test_import_weights_refuses_wrong_architecture(offline_hub, tmp_path):
    source = tmp_path / "other.pth"
    torch.save(build_model("diffraction_cnn", 3).state_dict(), source)
    with pytest.raises(CrystalViewError, match="does not match resnet18"):
        pretrained.import_weights_file("resnet18", source)
    assert not pretrained.cached_weights_path("resnet18").exists()


def test_import_weights_never_unpickles_objects(offline_hub, tmp_path):
    source = tmp_path / "evil.pth"
    torch.save({"payload": object()}, source)
    with pytest.raises(CrystalViewError, match="loaded safely"):
        pretrained.import_weights_file("resnet18", source)
