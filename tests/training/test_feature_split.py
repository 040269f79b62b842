"""Last-blocks training is cached even when pooling layers sit between the stages."""

from __future__ import annotations

import pytest
import torch

from crystalview.models.registry import build_model
from crystalview.training.features import find_split
from crystalview.training.strategies import plan_strategy


@pytest.mark.parametrize(("arch", "blocks"), [("radial_profile_cnn", 2), ("resnet18", 2)])
def test_stage_input_split_reproduces_the_model(arch, blocks):
    torch.manual_seed(0)
    model = build_model(arch, 3).eval()
    plan = plan_strategy(model, "last-blocks", 1e-3, 1e-4, blocks)
    probe = torch.randn(2, 1, 64, 64)
    split = find_split(model, plan, probe)
    assert split is not None and split.description == "output of the frozen stages"
    with torch.no_grad():
        assert torch.allclose(split.back(split.front(probe)), model(probe), atol=1e-5)
