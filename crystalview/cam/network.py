"""The network copy heat maps run on: the caller's model in inference's fast form, cached.

Inference runs a copy of the model with batch norms folded into the convolutions before them,
channels-last, under reduced precision (see `crystalview.inference.fused`); a heat map computed
on the caller's unfolded, channels-first model would cost up to two to three times its inference
on a CPU. Inference folds with ``torch.fx``, which flattens the network and loses
``forward_features`` and the named layers the methods need, so heat maps keep their own copy:
the same modules, with each batch norm that directly follows a convolution folded into it
(inside ``nn.Sequential`` blocks and for ``convN``/``bnN`` pairs, as in ResNets), channels-last.
A convolution chosen as the Grad-CAM layer keeps its batch norm, so its activation is exactly
what the user picked. The folded copy is checked against the model on a random input
and dropped for a plain copy if they disagree. The caller's model is never modified, and the copy
is rebuilt when the model's weights change.
"""

from __future__ import annotations

import copy
import itertools
import logging
import re
import weakref

import torch
from torch import nn
from torch.nn.utils.fusion import fuse_conv_bn_eval

log = logging.getLogger(__name__)

# model -> (key of weights, device and layout, the copy)
_COPIES: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _key(model: nn.Module, device: torch.device, channels_last: bool) -> tuple:
    # In-place updates (optimiser steps, load_state_dict) bump a tensor's version counter.
    weights = tuple((t.data_ptr(), t._version) for t in model.state_dict().values())
    return (str(device), channels_last, weights)


def _foldable(conv: nn.Module, bn: nn.Module, keep: set[int]) -> bool:
    return (
        isinstance(conv, nn.Conv2d)
        and isinstance(bn, nn.BatchNorm2d)
        and id(conv) not in keep
        and bn.track_running_stats
    )


def _fold_batch_norms(network: nn.Module, keep: set[int]) -> int:
    """Fold in place every batch norm that directly follows a convolution; returns the count."""
    folded = 0
    for parent in list(network.modules()):
        children = dict(parent.named_children())
        pairs = []
        if isinstance(parent, nn.Sequential):
            names = list(children)
            pairs = list(itertools.pairwise(names))
        else:
            for name in children:
                match = re.fullmatch(r"conv(\d*)", name)
                if match and f"bn{match.group(1)}" in children:
                    pairs.append((name, f"bn{match.group(1)}"))
        for conv_name, bn_name in pairs:
            conv, bn = children[conv_name], children[bn_name]
            if _foldable(conv, bn, keep):
                setattr(parent, conv_name, fuse_conv_bn_eval(conv, bn))
                setattr(parent, bn_name, nn.Identity())
                children[conv_name], children[bn_name] = None, None
                folded += 1
    return folded


def _pool_before_stem_relu(network: nn.Module) -> int:
    """ResNet stem: ``maxpool(relu(x)) == relu(maxpool(x))``; the second runs ReLU on a quarter
    of the values. The inference copy makes the same exact rewrite on its graph, so heat maps
    keep their cost relative to a forward pass."""
    relu, pool = getattr(network, "relu", None), getattr(network, "maxpool", None)
    if not (isinstance(relu, nn.ReLU) and isinstance(pool, nn.MaxPool2d)):
        return 0
    network.relu = nn.Identity()
    network.maxpool = nn.Sequential(pool, nn.ReLU(inplace=True))
    return 1


def _agrees(reference: nn.Module, candidate: nn.Module, in_channels: int) -> bool:
    x = torch.randn(2, in_channels, 64, 64, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        expected, got = reference(x), candidate(x)
    scale = float(expected.abs().max()) + 1e-6
    return bool(torch.allclose(expected, got, rtol=1e-3, atol=1e-4 * scale))


def cam_network(
    model: nn.Module, device: torch.device, channels_last: bool, layer: str | None = None
) -> nn.Module:
    """The model to run heat maps on.

    ``model`` itself (eval mode, on ``device``) for the plain path, or a cached folded
    channels-last eval-mode copy on ``device`` for the fast path. When ``layer`` (a Grad-CAM
    layer) is a bare convolution, its batch norm is not folded into it, so its output stays the
    activation the user chose.
    """
    if not channels_last:
        return model.eval().to(device)
    bare = layer if isinstance(model.conv_layers().get(layer or ""), nn.Conv2d) else None
    key = (*_key(model, device, channels_last), bare)
    cached = _COPIES.get(model)
    if cached is not None and cached[0] == key:
        return cached[1]
    reference = copy.deepcopy(model).eval().cpu().float()
    network = copy.deepcopy(reference)
    keep = {id(network.conv_layers()[bare])} if bare else set()
    changed = _fold_batch_norms(network, keep) + _pool_before_stem_relu(network)
    if changed and not _agrees(reference, network, model.in_channels):
        log.debug("the fast rewrite changed %s's output; using it unchanged", model.arch)
        network = reference
    network.to(device).to(memory_format=torch.channels_last)
    for parameter in network.parameters():
        parameter.requires_grad_(False)  # Grad-CAM differentiates activations, never weights
    _COPIES[model] = (key, network)
    return network
