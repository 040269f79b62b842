"""The inference copy's graph rewrites change speed only: its outputs equal the model's in fp32."""

from __future__ import annotations

import pytest
import torch

from crystalview.inference.runner import inference_copy, pool_before_relu
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


@pytest.mark.parametrize(("arch", "pools"), [("diffraction_cnn", 2), ("resnet18", 1)])
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
