"""The inference copy's graph rewrites change speed only: its outputs equal the model's in fp32."""

from __future__ import annotations

import pytest
import torch

from crystalview.inference.fused import (
    MaxPool2x2,
    inference_copy,
    pool_before_relu,
    replace_2x2_pools,
)
from crystalview.models.registry import build_model


def _with_trained_like_batch_norms(model: torch.nn.Module) -> torch.nn.Module:
    # Fresh batch norms are identities; real statistics make the folding do real work.
    generator = torch.Generator().manual_seed(0)
    for module in model.modules():
        if isinstance(module, torch.nn.BatchNorm2d):
            module.running_mean.normal_(generator=generator)
            module.running_var.uniform_(0.5, 2.0, generator=generator)
            module.weight.data.uniform_(0.5, 1.5, generator=generator)
            module.bias.data.normal_(generator=generator)
    return model.eval()


@pytest.mark.parametrize(
    ("arch", "pools"), [("diffraction_cnn", 2), ("resnet18", 1), ("polar_net_cnn", 4)]
)
def test_folded_and_reordered_copy_matches_the_model(arch, pools):
    torch.manual_seed(0)
    model = _with_trained_like_batch_norms(build_model(arch, 3))
    graph = torch.fx.symbolic_trace(model)
    assert pool_before_relu(graph) == pools
    copy = inference_copy(model, torch.device("cpu"), channels_last=False)
    x = torch.randn(3, 1, 48, 48)
    with torch.inference_mode():
        expected = model(x)
        torch.testing.assert_close(graph(x), expected, rtol=1e-5, atol=1e-5)
        torch.testing.assert_close(copy(x), expected, rtol=1e-4, atol=1e-4)


def test_relu_shared_with_another_user_stays_put():
    class Branching(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.relu = torch.nn.ReLU()
            self.pool = torch.nn.MaxPool2d(2)

        def forward(self, x):
            y = self.relu(x)
            return self.pool(y).sum() + y.sum()

    graph = torch.fx.symbolic_trace(Branching())
    assert pool_before_relu(graph) == 0
    x = torch.randn(1, 2, 4, 4)
    torch.testing.assert_close(graph(x), Branching()(x))


@pytest.mark.parametrize("shape", [(2, 3, 8, 8), (1, 2, 7, 9), (1, 1, 3, 5)])
def test_strided_2x2_pool_equals_max_pool(shape):
    x = torch.randn(shape)
    x[0, 0, 0, 0] = float("nan")  # a dead pixel propagates in both
    torch.testing.assert_close(MaxPool2x2()(x), torch.nn.MaxPool2d(2)(x), equal_nan=True)
    cl = torch.randn(2, 4, 6, 6).contiguous(memory_format=torch.channels_last).bfloat16()
    torch.testing.assert_close(MaxPool2x2()(cl), torch.nn.MaxPool2d(2)(cl))


def test_only_plain_2x2_pools_are_replaced():
    network = torch.nn.Sequential(
        torch.nn.MaxPool2d(2),
        torch.nn.MaxPool2d(3, stride=2, padding=1),
        torch.nn.MaxPool2d(2, ceil_mode=True),
        torch.nn.Sequential(torch.nn.MaxPool2d((2, 2), stride=(2, 2))),
    )
    assert replace_2x2_pools(network) == 2
    assert isinstance(network[0], MaxPool2x2) and isinstance(network[3][0], MaxPool2x2)
    assert isinstance(network[1], torch.nn.MaxPool2d) and isinstance(network[2], torch.nn.MaxPool2d)
