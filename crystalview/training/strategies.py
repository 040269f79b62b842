"""Fine-tuning strategies: which parts of the network learn, and at which learning rate.

* ``frozen``: every backbone stage is fixed; only the head learns (at ``lr``).
* ``last-blocks``: the last ``last_blocks`` stages learn at a low ``backbone_lr`` (about 1e-5, so
  they adapt without forgetting the base's features); the head learns at ``lr``.
* ``full``: everything learns at ``lr``.

Frozen stages also stay in eval mode while training, so their batch-norm statistics are the
base model's, which keeps them a pure function and makes their output cacheable.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from torch import nn

from crystalview.models.base import CrystalNet


@dataclass
class StrategyPlan:
    """How one strategy applies to one model.

    Attributes
    ----------
    frozen
        Backbone stages that neither learn nor update batch-norm statistics, input first.
    trainable_stages
        Backbone stages that learn, input first (empty for "frozen").
    param_groups
        Optimiser parameter groups with their learning rates.
    """

    frozen: list[nn.Module] = field(default_factory=list)
    trainable_stages: list[nn.Module] = field(default_factory=list)
    param_groups: list[dict] = field(default_factory=list)


def plan_strategy(
    model: CrystalNet, strategy: str, lr: float, backbone_lr: float, last_blocks: int = 1
) -> StrategyPlan:
    """Freeze what ``strategy`` keeps fixed and return the optimiser's parameter groups."""
    stages = [module for _, module in model.stages()]
    if strategy == "full":
        frozen, trainable = [], stages
    elif strategy == "frozen":
        frozen, trainable = stages, []
    elif strategy == "last-blocks":
        k = min(max(1, last_blocks), len(stages) - 1)
        frozen, trainable = stages[:-k], stages[-k:]
    else:
        raise ValueError(f"unknown strategy {strategy!r}")

    for parameter in model.parameters():
        parameter.requires_grad_(True)
    frozen_ids = set()
    for module in frozen:
        for parameter in module.parameters():
            parameter.requires_grad_(False)
            frozen_ids.add(id(parameter))
    stage_ids = {id(p) for module in trainable for p in module.parameters()}
    other = [p for p in model.parameters() if id(p) not in frozen_ids and id(p) not in stage_ids]
    if strategy == "full":
        groups = [{"params": list(model.parameters()), "lr": lr}]
    else:
        groups = [{"params": other, "lr": lr}]
        if trainable:
            stage_params = [p for module in trainable for p in module.parameters()]
            groups.append({"params": stage_params, "lr": backbone_lr})
    return StrategyPlan(frozen=frozen, trainable_stages=trainable, param_groups=groups)


def set_training_mode(model: CrystalNet, plan: StrategyPlan) -> None:
    """Train mode for what learns (dropout, batch norm), eval mode for the frozen stages."""
    model.train()
    for module in plan.frozen:
        module.eval()


def unfreeze_all(model: CrystalNet) -> None:
    """Leave the trained model as an ordinary module (all parameters trainable, eval mode)."""
    for parameter in model.parameters():
        parameter.requires_grad_(True)
    model.eval()
