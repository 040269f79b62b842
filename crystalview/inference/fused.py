"""The fused inference copy of a model: the same outputs, fewer passes over memory.

The copy has every batch norm folded into the convolution before it (one pass over memory less
per layer, a large win for small networks), every ReLU that feeds a max-pool moved behind it (the
two commute, and the ReLU then touches a quarter of the values: on the diffraction CNN ReLU and
pooling were half the time), and, on the CPU, 2 x 2 max-pools computed as the maximum of four
strided views (the CPU kernel behind ``nn.MaxPool2d`` also writes an int64 index per output,
which made it a quarter of the small CNN's time). These are exact graph rewrites: they change
speed, not values. The copy is cached per model and rebuilt when its weights change.
`crystalview.inference.runner.BatchRunner` runs batches on it.
"""

from __future__ import annotations

import copy
import logging
import weakref

import torch

from crystalview.models.base import CrystalNet

log = logging.getLogger(__name__)

# model -> (signature of weights and device, fused inference copy)
_INFERENCE_COPIES: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _weights_signature(model: torch.nn.Module) -> tuple:
    # In-place updates (optimiser steps, load_state_dict) bump a tensor's version counter.
    return tuple((t.data_ptr(), t._version) for t in model.state_dict().values())


def _is_relu(graph_module: torch.fx.GraphModule, node: torch.fx.Node) -> bool:
    if node.op == "call_module":
        return isinstance(graph_module.get_submodule(node.target), torch.nn.ReLU)
    return node.op == "call_function" and node.target in (torch.relu, torch.nn.functional.relu)


def pool_before_relu(graph_module: torch.fx.GraphModule) -> int:
    """Rewrite every ``relu -> max_pool`` into ``max_pool -> relu``; return how many moved.

    ``max(relu(x)) == relu(max(x))`` because ReLU is monotonic (padding counts as -inf and every
    window holds a real value), so the result is identical while the ReLU runs on the pooled,
    smaller tensor. Only a ReLU whose one user is the pool is moved.
    """
    moved = 0
    for pool in list(graph_module.graph.nodes):
        if pool.op != "call_module":
            continue
        module = graph_module.get_submodule(pool.target)
        if not isinstance(module, torch.nn.MaxPool2d) or module.return_indices:
            continue
        relu = pool.args[0]
        if not isinstance(relu, torch.fx.Node) or not _is_relu(graph_module, relu):
            continue
        if len(relu.users) != 1 or len(pool.args) != 1 or pool.kwargs:
            continue
        pool.replace_all_uses_with(relu)
        pool.args = (relu.args[0],)
        relu.args = (pool, *relu.args[1:])
        pool.append(relu)  # the graph must stay in execution order
        moved += 1
    if moved:
        graph_module.graph.lint()
        graph_module.recompile()
    return moved


class MaxPool2x2(torch.nn.Module):
    """``nn.MaxPool2d(2)`` as the maximum of the four pixels of each 2 x 2 block.

    Same values (an odd last row or column is dropped, as the floor-mode pool does); no index
    tensor is computed, which the CPU pooling kernel always does.
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        height, width = x.shape[-2] // 2 * 2, x.shape[-1] // 2 * 2
        x = x[..., :height, :width]
        top = torch.maximum(x[..., 0::2, 0::2], x[..., 0::2, 1::2])
        return torch.maximum(top, torch.maximum(x[..., 1::2, 0::2], x[..., 1::2, 1::2]))


def _is_plain_2x2_pool(module: torch.nn.Module) -> bool:
    if not isinstance(module, torch.nn.MaxPool2d) or module.return_indices or module.ceil_mode:
        return False
    plain = {"kernel_size": 2, "stride": 2, "padding": 0, "dilation": 1}
    for name, wanted in plain.items():
        value = getattr(module, name)
        pair = tuple(value) if isinstance(value, (tuple, list)) else (value, value)
        if pair != (wanted, wanted):
            return False
    return True


def replace_2x2_pools(network: torch.nn.Module) -> int:
    """Swap every plain ``nn.MaxPool2d(2)`` in ``network`` for `MaxPool2x2`; return the count."""
    swapped = 0
    for parent in list(network.modules()):
        for name, child in list(parent.named_children()):
            if _is_plain_2x2_pool(child):
                setattr(parent, name, MaxPool2x2())
                swapped += 1
    return swapped


class LogitsAndFeatures(torch.nn.Module):
    """``model`` returning ``(logits, pooled features)``: the features are the global average
    of the last feature map, ``(N, C)``."""

    def __init__(self, model: CrystalNet) -> None:
        super().__init__()
        self.net = model

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        fmap = self.net.forward_features(x)
        return self.net.forward_head(fmap), fmap.mean(dim=(2, 3))


def inference_copy(
    model: CrystalNet, device: torch.device, channels_last: bool, features: bool = False
) -> torch.nn.Module:
    """An eval-mode copy of ``model`` with batch norms folded into convolutions, on ``device``.

    ReLUs before max-pools are also moved behind them (`pool_before_relu`), and on the CPU
    2 x 2 max-pools become `MaxPool2x2`. Falls back to a plain copy when the architecture
    cannot be traced by torch.fx. With ``features`` the copy is of `LogitsAndFeatures`.
    """
    key = (str(device), channels_last, features, _weights_signature(model))
    cached = _INFERENCE_COPIES.get(model)
    if cached is not None and cached[0] == key:
        return cached[1]
    from torch.fx.experimental.optimization import fuse

    was_training = model.training
    model.eval()
    source = LogitsAndFeatures(model) if features else model
    try:
        fused = fuse(source)  # works on a deep copy
        pool_before_relu(fused)
    except Exception as error:  # tracing is an optimisation only; any failure keeps eager
        log.debug("batch-norm folding unavailable for %s: %s", model.arch, error)
        fused = copy.deepcopy(source)
    finally:
        model.train(was_training)
    fused.eval().to(device)
    if device.type == "cpu":
        replace_2x2_pools(fused)
    if channels_last:
        fused.to(memory_format=torch.channels_last)
    _INFERENCE_COPIES[model] = (key, fused)
    return fused
