"""The per-batch methods: exact CAM, Grad-CAM(++) and occlusion, and their autograd hygiene."""

from __future__ import annotations

import pytest
import torch

from crystalview.cam.layers import activation_at, forward_from_layer, resolve_layer
from crystalview.cam.methods import class_activation_maps, grad_cam, occlusion_map
from crystalview.models.registry import build_model


@pytest.fixture(scope="module")
def resnet():
    torch.manual_seed(0)
    return build_model("resnet18", num_classes=3, in_channels=1).eval()


@pytest.fixture(scope="module")
def batch():
    return torch.randn(3, 1, 64, 64, generator=torch.Generator().manual_seed(1))


def _hooks(model: torch.nn.Module) -> int:
    return sum(
        len(m._forward_hooks) + len(m._forward_pre_hooks) + len(m._backward_hooks)
        for m in model.modules()
    )


def test_exact_cam_equals_grad_cam_at_last_layer(resnet, batch):
    # For GAP + linear, the Grad-CAM weights are w[k] / (h*w); Grad-CAM applies its ReLU after
    # weighting, so it equals ReLU(CAM) / (h*w).
    with torch.no_grad():
        cams, logits = class_activation_maps(resnet, batch)
    gradcams, grad_logits, targets = grad_cam(resnet, batch, "layer4")
    assert torch.equal(targets, logits.argmax(dim=1))
    torch.testing.assert_close(grad_logits, logits, rtol=1e-5, atol=1e-5)
    h, w = cams.shape[-2:]
    expected = torch.relu(cams[torch.arange(len(batch)), targets]) / (h * w)
    torch.testing.assert_close(gradcams, expected, rtol=1e-4, atol=1e-6)
    assert gradcams.max() > 0


def test_exact_cam_mean_plus_bias_is_the_logit(resnet, batch):
    with torch.no_grad():
        cams, logits = class_activation_maps(resnet, batch)
    reconstructed = cams.mean(dim=(2, 3)) + resnet.classifier_bias()
    torch.testing.assert_close(reconstructed, logits, rtol=1e-4, atol=1e-4)


def test_exact_cam_refuses_a_head_with_a_hidden_layer():
    model = build_model("diffraction_cnn", num_classes=2).eval()
    with pytest.raises(ValueError, match="Grad-CAM"):
        class_activation_maps(model, torch.zeros(1, 1, 32, 32))


@pytest.mark.parametrize("plus_plus", [False, True])
def test_grad_cam_leaves_no_grads_and_no_hooks(resnet, batch, plus_plus):
    maps, _, _ = grad_cam(resnet, batch, "layer3", torch.tensor(2), plus_plus=plus_plus)
    assert maps.shape == (3, 4, 4)
    assert not maps.requires_grad
    assert all(p.grad is None for p in resnet.parameters())
    assert all(p.requires_grad for p in resnet.parameters())
    assert _hooks(resnet) == 0


def test_hooks_are_removed_when_the_forward_fails(resnet):
    wrong_channels = torch.zeros(1, 2, 32, 32)
    with pytest.raises(RuntimeError):
        grad_cam(resnet, wrong_channels, "layer2")
    with pytest.raises(RuntimeError):
        activation_at(resnet, resnet.layer2, wrong_channels)
    assert _hooks(resnet) == 0
    assert torch.is_grad_enabled()


def test_graph_starts_at_the_layer(resnet, batch):
    activation, logits = forward_from_layer(resnet, resnet.layer3, batch)
    assert activation.is_leaf and activation.requires_grad
    before = [resnet.conv1.weight, *resnet.layer3.parameters()]
    after = list(resnet.layer4.parameters())[:1]
    grads = torch.autograd.grad(logits.sum(), before + after, allow_unused=True)
    assert all(g is None for g in grads[: len(before)])  # not in the graph at all
    assert grads[-1] is not None
    with torch.no_grad():
        expected = resnet(batch)
    torch.testing.assert_close(logits.detach(), expected)


def test_grad_cam_works_inside_inference_mode(resnet):
    with torch.inference_mode():
        x = torch.randn(2, 1, 48, 48)  # an inference tensor
        maps, _, _ = grad_cam(resnet, x, "layer2")
    assert maps.shape == (2, 6, 6)
    assert torch.isfinite(maps).all()


def test_activation_at_matches_the_forward(resnet, batch):
    fmap = activation_at(resnet, resnet.layer4, batch)
    with torch.no_grad():
        torch.testing.assert_close(fmap, resnet.forward_features(batch))


def test_unknown_layer_lists_the_choices(resnet):
    with pytest.raises(ValueError, match="layer1, layer2"):
        resolve_layer(resnet, "fc")
    assert resolve_layer(resnet, None)[0] == "layer4"


def test_occlusion_finds_the_bright_blob(blob_loaded):
    model = blob_loaded().model
    x = -2.0 * torch.ones(1, 1, 32, 32)
    x[:, :, 4:12, 18:28] = 2.0  # bright rectangle, off-centre
    with torch.no_grad():
        maps, logits, targets = occlusion_map(model, x, patch=4, stride=2, batch_size=16)
    assert targets.item() == 1 and logits[0, 1] > logits[0, 0]
    peak = divmod(int(maps[0].argmax()), 32)
    assert 4 <= peak[0] < 12 and 18 <= peak[1] < 28
    inside = maps[0, 2:14, 16:30].clamp(min=0).sum() / maps[0].clamp(min=0).sum()
    assert inside > 0.9
