"""The registry builds every architecture with the CrystalNet contract others rely on."""

from __future__ import annotations

import pytest
import torch

from crystalview.models.base import CrystalNet
from crystalview.models.registry import ARCHITECTURES, build_model


@pytest.mark.parametrize("arch", list(ARCHITECTURES))
def test_contract_holds_for_every_architecture(arch):
    model = build_model(arch, num_classes=4).eval()
    assert isinstance(model, CrystalNet)
    assert (model.arch, model.num_classes, model.in_channels) == (arch, 4, 1)
    x = torch.randn(2, 1, 64, 64)
    with torch.no_grad():
        fmap = model.forward_features(x)
        logits = model(x)
        assert torch.allclose(model.forward_head(fmap), logits)
    assert fmap.ndim == 4 and logits.shape == (2, 4)
    names = [name for name, _ in model.stages()]
    assert len(names) == len(set(names)) >= 3
    assert all(isinstance(m, torch.nn.Module) for m in model.head_modules())
    assert set(model.conv_layers()) & set(names)


def test_diffraction_cnn_size_and_layers():
    model = build_model("diffraction_cnn", 3)
    assert 100_000 <= sum(p.numel() for p in model.parameters()) <= 102_000
    assert list(model.conv_layers()) == ["block1", "block2", "block3"]
    assert model.gap_linear is False
    with pytest.raises(TypeError):
        model.classifier_weight()


def test_resnet_gap_linear_head_reproduces_logits():
    model = build_model("resnet18", 3).eval()
    assert model.gap_linear
    assert list(model.conv_layers()) == ["conv1", "layer1", "layer2", "layer3", "layer4"]
    x = torch.randn(1, 1, 64, 64)
    with torch.no_grad():
        fmap = model.forward_features(x)
        manual = fmap.mean(dim=(2, 3)) @ model.classifier_weight().T + model.classifier_bias()
        assert torch.allclose(manual, model(x), atol=1e-5)
    assert model.classifier_weight().shape == (3, 512)


@pytest.mark.parametrize(
    "arch", ["resnet18", "diffraction_cnn", "radial_profile_cnn", "polar_net_cnn"]
)
def test_replace_head_changes_only_the_output(arch):
    model = build_model(arch, 3)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    model.replace_head(5)
    assert model.num_classes == 5
    assert model(torch.randn(1, 1, 64, 64)).shape == (1, 5)
    after = model.state_dict()
    changed = {k for k in before if before[k].shape != after[k].shape}
    assert changed and all(k.startswith("fc.") for k in changed)


def test_radial_profile_cnn_reads_only_the_angle_averaged_profile():
    """Rows (angles of the radial-profile view) are averaged first: their order is irrelevant,
    and an input whose rows all equal the profile gives the profile's own answer."""
    model = build_model("radial_profile_cnn", 3).eval()
    assert 250_000 <= sum(p.numel() for p in model.parameters()) <= 290_000
    assert list(model.conv_layers()) == ["stage1", "stage2", "stage3", "stage4"]
    profile = torch.randn(2, 1, 1, 256, generator=torch.Generator().manual_seed(0))
    square = profile.expand(2, 1, 256, 256).clone()
    noisy = square + torch.randn(2, 1, 256, 256) * 0.1
    with torch.no_grad():
        assert torch.allclose(model(profile), model(square), atol=1e-5)
        shuffled = noisy[:, :, torch.randperm(256)]
        assert torch.allclose(model(noisy), model(shuffled), atol=1e-5)
        assert model.forward_features(square).shape == (2, 128, 1, 32)


def test_radial_profile_cnn_has_an_exact_cam_head():
    model = build_model("radial_profile_cnn", 3).eval()
    assert model.gap_linear
    x = torch.randn(2, 1, 16, 128)
    with torch.no_grad():
        fmap = model.forward_features(x)
        manual = fmap.mean(dim=(2, 3)) @ model.classifier_weight().T + model.classifier_bias()
        assert torch.allclose(manual, model(x), atol=1e-5)


def test_radial_profile_cnn_responds_to_ring_radius_ratios_not_position():
    """Convolutions along log-radius with global pooling: a profile moved by a multiple of the
    network's total stride (8 columns), away from the edges, gives the same logits (in float64,
    so rounding cannot hide a small change)."""
    torch.manual_seed(0)
    model = build_model("radial_profile_cnn", 3).eval().double()
    # Four "rings", moved by 96 columns, always more than the receptive field (96) from an edge.
    profile = torch.zeros(1, 1, 1, 512, dtype=torch.float64)
    for column in (160, 174, 183, 199):
        profile[..., column] = 1.0
    moved = torch.roll(profile, 96, dims=3)
    changed = profile.clone()
    changed[..., 183] = 0.0
    changed[..., 188] = 1.0  # one ring radius ratio changed
    with torch.no_grad():
        reference = model(profile)
        move_effect = float((model(moved) - reference).abs().max())
        change_effect = float((model(changed) - reference).abs().max())
    assert move_effect < 1e-12 < 1e-9 < change_effect


def test_unknown_architecture_is_refused():
    with pytest.raises(ValueError, match="unknown architecture"):
        build_model("vgg16", 3)


def test_polar_net_cnn_turns_with_the_pattern():
    """A rotation of the pattern is a cyclic shift of the polar view's angle rows: shifted by a
    multiple of the total stride (16 rows), the wrapped convolutions give the same logits; a
    change of the net's angles (peaks moved along rows by another amount) does not."""
    torch.manual_seed(0)
    model = build_model("polar_net_cnn", 5).eval().double()
    assert model.gap_linear
    view = torch.zeros(1, 1, 64, 64, dtype=torch.float64)
    for row, column in ((3, 20), (19, 20), (35, 20), (51, 20), (11, 31)):
        view[..., row, column] = 1.0
    turned = torch.roll(view, 16, dims=2)
    sheared = view.clone()
    sheared[..., 11, 31] = 0.0
    sheared[..., 14, 31] = 1.0
    with torch.no_grad():
        assert torch.allclose(model(view), model(turned), atol=1e-10)
        assert not torch.allclose(model(view), model(sheared), atol=1e-6)
        fmap = model.forward_features(view)
        manual = fmap.mean(dim=(2, 3)) @ model.classifier_weight().T + model.classifier_bias()
        assert torch.allclose(manual, model(view), atol=1e-10)
