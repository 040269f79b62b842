"""Feature caching: run the frozen front of the network once, train the back on its output.

With a frozen backbone every epoch would otherwise recompute identical features; computing them
once turns 20 epochs over a few hundred images from minutes into seconds on a CPU.

The network is split at the first stage that learns:

* "frozen": the front is the whole backbone plus the head's global average pooling, so only
  ``C`` numbers per image are cached; the back feeds them to ``forward_head`` as a ``1 x 1``
  feature map (pooling a ``1 x 1`` map is the identity). Heads that do not start with global
  average pooling fall back to caching the full feature map.
* "last-blocks": the front is everything before the first unfrozen stage (its input is captured
  with a forward pre-hook); the back replays, in the order a probe forward pass called them,
  the model's top-level modules from that stage on (so pooling layers between stages are
  included), then the head. Training the last blocks then costs only their own compute.

A split is used only after checking, on a probe batch, that back(front(x)) equals the model's own
output, so an architecture whose forward does extra work between stages is never trained wrongly:
it simply falls back to the uncached loop.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from crystalview.models.base import CrystalNet
from crystalview.training.strategies import StrategyPlan

_TOLERANCE = {"rtol": 1e-3, "atol": 1e-4}


class _StopForward(Exception):
    """Raised by the capture hook so the rest of the network is not computed for nothing."""


class NetworkSplit:
    """A frozen front (cached once) and a trainable back of a `CrystalNet`."""

    def __init__(
        self,
        front: Callable[[torch.Tensor], torch.Tensor],
        back: Callable[[torch.Tensor], torch.Tensor],
        description: str,
    ) -> None:
        self.front = front
        self.back = back
        self.description = description

    def matches(self, model: CrystalNet, probe: torch.Tensor) -> bool:
        """Whether back(front(x)) reproduces ``model(x)`` on a probe batch (eval mode)."""
        was_training = model.training
        model.eval()
        try:
            with torch.no_grad():
                reference = model(probe)
                split = self.back(self.front(probe))
        finally:
            model.train(was_training)
        return split.shape == reference.shape and torch.allclose(split, reference, **_TOLERANCE)


def _pooled_split(model: CrystalNet) -> NetworkSplit:
    def front(x: torch.Tensor) -> torch.Tensor:
        return model.forward_features(x).mean(dim=(2, 3))

    def back(pooled: torch.Tensor) -> torch.Tensor:
        return model.forward_head(pooled[:, :, None, None])

    return NetworkSplit(front, back, "pooled backbone features")


def _feature_map_split(model: CrystalNet) -> NetworkSplit:
    return NetworkSplit(model.forward_features, model.forward_head, "backbone feature maps")


def _call_order(model: CrystalNet, probe: torch.Tensor) -> list[nn.Module]:
    """The model's direct children in the order ``forward_features`` calls them."""
    order: list[nn.Module] = []
    handles = [
        child.register_forward_hook(lambda module, _i, _o: order.append(module))
        for child in model.children()
    ]
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            model.forward_features(probe)
    finally:
        model.train(was_training)
        for handle in handles:
            handle.remove()
    return order


def _stage_input_split(
    model: CrystalNet, trainable: list[nn.Module], probe: torch.Tensor
) -> NetworkSplit:
    first = trainable[0]
    order = _call_order(model, probe)
    if first not in order:
        raise RuntimeError("the first unfrozen stage is not a direct part of the model")
    tail = order[order.index(first) :]

    def front(x: torch.Tensor) -> torch.Tensor:
        captured: list[torch.Tensor] = []

        def hook(_module: nn.Module, inputs: tuple[torch.Tensor, ...]) -> None:
            captured.append(inputs[0])
            raise _StopForward

        handle = first.register_forward_pre_hook(hook)
        try:
            model.forward_features(x)
        except _StopForward:
            pass
        finally:
            handle.remove()
        if not captured:
            raise RuntimeError("the first unfrozen stage was never reached")
        return captured[0]

    def back(cached: torch.Tensor) -> torch.Tensor:
        for module in tail:
            cached = module(cached)
        return model.forward_head(cached)

    return NetworkSplit(front, back, "output of the frozen stages")


def find_split(model: CrystalNet, plan: StrategyPlan, probe: torch.Tensor) -> NetworkSplit | None:
    """The cheapest verified split for the plan, or ``None`` when none reproduces the model."""
    if not plan.frozen:
        return None
    try:
        if plan.trainable_stages:
            candidates = [_stage_input_split(model, plan.trainable_stages, probe)]
        else:
            candidates = [_pooled_split(model), _feature_map_split(model)]
    except RuntimeError:
        return None
    for candidate in candidates:
        try:
            if candidate.matches(model, probe):
                return candidate
        except RuntimeError:
            continue
    return None


def compute_front(split: NetworkSplit, inputs: torch.Tensor, batch_size: int, device: torch.device):
    """Generator computing ``split.front`` over ``inputs`` in batches; returns it on ``device``.

    Yields the number of rows done after each batch so the caller can report progress and
    honour cancel between batches.
    """
    parts = []
    for start in range(0, len(inputs), batch_size):
        # no_grad per batch, never around the yield: grad mode must not leak to the consumer.
        with torch.no_grad():
            parts.append(split.front(inputs[start : start + batch_size].to(device)))
        yield min(start + batch_size, len(inputs))
    return torch.cat(parts) if parts else torch.empty(0, device=device)
