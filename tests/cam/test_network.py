"""The fast copy heat maps run on: folded batch norms, channels-last, the caller's model intact."""

from __future__ import annotations

import torch
from torch import nn

from crystalview.cam.methods import class_activation_maps, grad_cam
from crystalview.cam.network import cam_network
from crystalview.models.registry import build_model

CPU = torch.device("cpu")


def _trained_like(arch: str) -> nn.Module:
    """A model whose batch norms have non-trivial statistics, as after training."""
    torch.manual_seed(0)
    model = build_model(arch, num_classes=3)
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, nn.BatchNorm2d):
                module.running_mean.uniform_(-0.5, 0.5)
                module.running_var.uniform_(0.5, 2.0)
                module.weight.uniform_(0.5, 1.5)
                module.bias.uniform_(-0.2, 0.2)
    return model.eval()


def test_fast_copy_matches_the_model_and_leaves_it_alone():
    model = _trained_like("resnet18")
    before = {name: t.clone() for name, t in model.state_dict().items()}
    network = cam_network(model, CPU, channels_last=True)
    assert network is not model
    assert not any(isinstance(m, nn.BatchNorm2d) for m in network.layer1.modules())
    assert network.conv1.weight.is_contiguous(memory_format=torch.channels_last)
    x = torch.randn(2, 1, 64, 64)
    with torch.no_grad():
        fast_maps, fast_logits = class_activation_maps(network, x)
        maps, logits = class_activation_maps(model, x)
    torch.testing.assert_close(fast_logits, logits, rtol=1e-4, atol=1e-4)
    torch.testing.assert_close(fast_maps, maps, rtol=1e-4, atol=1e-4)
    assert model.state_dict().keys() == before.keys()
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
    assert model.conv1.weight.is_contiguous()  # still channels-first


def test_grad_cam_layer_that_is_a_bare_convolution_keeps_its_batch_norm():
    model = _trained_like("resnet18")
    network = cam_network(model, CPU, channels_last=True, layer="conv1")
    assert isinstance(network.bn1, nn.BatchNorm2d)
    x = torch.randn(2, 1, 64, 64)
    fast, _, _ = grad_cam(network, x, "conv1", torch.tensor(1))
    plain, _, _ = grad_cam(model, x, "conv1", torch.tensor(1))
    torch.testing.assert_close(fast, plain, rtol=1e-3, atol=1e-6)


def test_copy_is_cached_and_rebuilt_when_weights_change():
    model = _trained_like("diffraction_cnn")
    first = cam_network(model, CPU, channels_last=True)
    assert cam_network(model, CPU, channels_last=True) is first
    with torch.no_grad():
        model.fc.weight.add_(1.0)
    second = cam_network(model, CPU, channels_last=True)
    assert second is not first
    torch.testing.assert_close(second.fc.weight, model.fc.weight)


def test_plain_path_uses_the_model_itself():
    model = _trained_like("diffraction_cnn")
    assert cam_network(model, CPU, channels_last=False) is model
