"""Run a CrystalNet "up to a layer" and "from a layer on", for Grad-CAM and the feature browser.

Grad-CAM only needs the graph from the chosen layer to the output. A CrystalNet's ``stages()``
list its backbone blocks for fine-tuning but skip the glue between them (the stem's ReLU and max
pool, the diffraction CNN's pools), so composing them is not ``forward_features``. Instead we run
the model's own ``forward`` once with a temporary forward hook on the layer: everything before the
layer runs without autograd, the hook swaps the layer's output for a detached leaf and switches
autograd on, and the rest of the network records a graph that starts at that leaf. The hook is
removed in a ``finally`` block, so no hook outlives the call, whatever happens.
"""

from __future__ import annotations

import torch
from torch import nn


def resolve_layer(model: nn.Module, layer: str | None) -> tuple[str, nn.Module]:
    """``(name, module)`` of a Grad-CAM target layer; ``None`` means the last one.

    Raises
    ------
    ValueError
        For an unknown name; the message lists the model's layers.
    """
    layers = model.conv_layers()
    if layer is None:
        layer = list(layers)[-1]
    if layer not in layers:
        raise ValueError(
            f"model {model.arch!r} has no layer {layer!r}; choose one of {', '.join(layers)}"
        )
    return layer, layers[layer]


def forward_from_layer(
    model: nn.Module, module: nn.Module, x: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """Forward ``x`` with autograd only after ``module``.

    Returns
    -------
    activation
        The output of ``module``, a detached leaf with ``requires_grad=True``.
    logits
        Whose graph reaches back to ``activation`` and no further (no parameter of the layers
        before it is in the graph).
    """
    captured: list[torch.Tensor] = []

    def swap_for_leaf(_module: nn.Module, _inputs: object, output: torch.Tensor) -> torch.Tensor:
        leaf = output.detach().requires_grad_(True)
        captured.append(leaf)
        # Grad mode is thread-local; the surrounding no_grad block restores it on exit.
        torch.set_grad_enabled(True)
        return leaf

    handle = module.register_forward_hook(swap_for_leaf)
    try:
        # inference_mode(False): a caller inside inference_mode would otherwise forbid autograd;
        # the clone turns a possible inference tensor into an ordinary one.
        with torch.inference_mode(False), torch.no_grad():
            logits = model(x.clone())
    finally:
        handle.remove()
    if len(captured) != 1:
        raise RuntimeError(f"layer ran {len(captured)} times in one forward pass; expected once")
    return captured[0], logits


class _StopForward(Exception):
    """Raised by the capture hook to end a forward pass once the wanted layer has run."""


def activation_at(model: nn.Module, module: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """Output of ``module`` for input ``x``, without running the layers after it."""
    captured: list[torch.Tensor] = []

    def capture(_module: nn.Module, _inputs: object, output: torch.Tensor) -> None:
        captured.append(output.detach())
        raise _StopForward

    handle = module.register_forward_hook(capture)
    try:
        with torch.no_grad():
            model(x)
    except _StopForward:
        pass
    finally:
        handle.remove()
    if not captured:
        raise RuntimeError("the layer did not run in the forward pass")
    return captured[0]
