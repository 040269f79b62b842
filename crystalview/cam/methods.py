"""The heat-map methods on one batch of model inputs, as tensors on the model's device.

Every function takes a batch ``x`` of shape ``(N, in_channels, S, S)`` (already normalised the way
inference normalises it) and returns low-resolution maps plus the logits of the same pass, so the
caller can choose the predicted class without another forward pass. Maps are *raw*: positive
values are evidence for the class, and the caller normalises them over the whole image.

- `class_activation_maps` — exact CAM (Zhou et al. 2016) for a global-average-pool + linear
  head: one forward pass, then the classifier weights applied to the last feature map.
- `grad_cam` — Grad-CAM (Selvaraju et al. 2017) and Grad-CAM++ (Chattopadhay et al. 2018) at any
  layer, differentiating only the part of the network after that layer.
- `occlusion_map` — how much the class score drops when a patch of the input is greyed out
  (Zeiler & Fergus 2014): slow, but independent of gradients and of the architecture.
"""

from __future__ import annotations

import torch
from torch import nn

from crystalview.cam.layers import forward_from_layer, resolve_layer
from crystalview.core.progress import CancelToken


def class_activation_maps(model: nn.Module, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Exact CAM for every class from one forward pass.

    Returns
    -------
    maps
        ``(N, num_classes, h, w)``: ``sum_c w[k, c] * F[c]``. Their spatial mean plus the bias is
        exactly the logit, which is what makes this map "exact".
    logits
        ``(N, num_classes)`` from the same pass.
    """
    if not getattr(model, "gap_linear", False):
        raise ValueError(
            f"exact CAM needs a global-average-pool + linear head; {model.arch!r} has another "
            "head (use Grad-CAM)"
        )
    features = model.forward_features(x)
    logits = model.forward_head(features)
    # float32 for the weighted sum even under reduced-precision autocast: it adds C products.
    weight = model.classifier_weight().detach().float()
    maps = torch.einsum("kc,nchw->nkhw", weight, features.float())
    return maps, logits


def _select(logits: torch.Tensor, targets: torch.Tensor | None) -> torch.Tensor:
    if targets is None:
        return logits.argmax(dim=1)
    return targets.to(device=logits.device, dtype=torch.long).expand(logits.shape[0])


def grad_cam(
    model: nn.Module,
    x: torch.Tensor,
    layer: str | None,
    targets: torch.Tensor | None = None,
    plus_plus: bool = False,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Grad-CAM (or Grad-CAM++) at ``layer`` for a batch.

    The network runs up to ``layer`` without autograd; that activation is detached and made a leaf
    that requires grad, the rest of the network runs with autograd (see
    `crystalview.cam.layers.forward_from_layer`), and `torch.autograd.grad` returns the gradient
    of the target scores with respect to the activation alone. So the graph spans only
    ``layer`` → output, no parameter receives a ``.grad``, and no hook outlives the call. The
    scores of the batch are summed into one backward pass, which is exact because an eval-mode
    network treats samples independently.

    Parameters
    ----------
    targets
        Class index per sample (``(N,)`` or a scalar tensor), or ``None`` for each sample's
        predicted class.
    plus_plus
        Use the Grad-CAM++ weights: for the score ``exp(S)`` the second and third derivatives are
        powers of the first, giving per-position weights ``g² / (2 g² + Σ A g³)`` on ``relu(g)``.

    Returns
    -------
    maps
        ``(N, h, w)`` at the layer's resolution, after the ReLU of the method.
    logits
        ``(N, num_classes)``, detached.
    targets
        ``(N,)`` the class explained for each sample.
    """
    _, module = resolve_layer(model, layer)
    activation, logits = forward_from_layer(model, module, x)
    with torch.inference_mode(False), torch.enable_grad():
        # Chosen here, outside any caller's inference_mode: gather saves the index for backward.
        chosen = _select(logits.detach(), None if targets is None else targets.clone())
        score = logits.gather(1, chosen[:, None]).sum()
        (gradient,) = torch.autograd.grad(score, activation)
    activation = activation.detach()
    gradient = gradient.float()
    activation = activation.float()
    if plus_plus:
        grad2 = gradient.pow(2)
        grad3 = grad2 * gradient
        denominator = 2.0 * grad2 + activation.sum(dim=(2, 3), keepdim=True) * grad3
        denominator = torch.where(denominator != 0, denominator, torch.ones_like(denominator))
        alpha = grad2 / denominator
        weights = (alpha * torch.relu(gradient)).sum(dim=(2, 3))
    else:
        weights = gradient.mean(dim=(2, 3))
    maps = torch.relu(torch.einsum("nc,nchw->nhw", weights, activation))
    return maps, logits.detach(), chosen


def _positions(size: int, patch: int, stride: int) -> list[int]:
    """Patch origins along one axis, the last flush with the edge so every pixel is covered."""
    starts = list(range(0, max(1, size - patch + 1), stride))
    if starts[-1] != size - patch:
        starts.append(max(0, size - patch))
    return starts


def occlusion_map(
    model: nn.Module,
    x: torch.Tensor,
    targets: torch.Tensor | None = None,
    patch: int | None = None,
    stride: int | None = None,
    batch_size: int = 32,
    cancel: CancelToken | None = None,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Occlusion sensitivity: mean drop of the target logit when a patch covering a pixel is greyed.

    The patch is filled with the input's own mean (a neutral grey for that tile), so the map
    measures what the content under the patch contributed. Occluded copies are evaluated in
    batches of ``batch_size``; ``cancel`` is checked between them.

    Returns
    -------
    maps
        ``(N, S, S)`` at input resolution (positive where hiding the content lowers the score).
    logits, targets
        As in `grad_cam`.
    """
    n, _, height, width = x.shape
    patch = patch or max(1, min(height, width) // 8)
    stride = stride or max(1, patch // 2)
    logits = model(x)
    chosen = _select(logits, targets)
    base = logits.gather(1, chosen[:, None])[:, 0]
    origins = [
        (y, x0)
        for y in _positions(height, patch, stride)
        for x0 in _positions(width, patch, stride)
    ]
    fill = x.mean(dim=(1, 2, 3))
    drop_sum = torch.zeros((n, height, width), device=x.device, dtype=torch.float32)
    coverage = torch.zeros((height, width), device=x.device, dtype=torch.float32)
    for y, x0 in origins:
        coverage[y : y + patch, x0 : x0 + patch] += 1.0
    jobs = [(i, origin) for i in range(n) for origin in origins]
    for start in range(0, len(jobs), batch_size):
        if cancel is not None:
            cancel.raise_if_cancelled()
        chunk = jobs[start : start + batch_size]
        sample_index = torch.tensor([i for i, _ in chunk], device=x.device)
        occluded = x[sample_index].clone()
        for row, (i, (y, x0)) in enumerate(chunk):
            occluded[row, :, y : y + patch, x0 : x0 + patch] = fill[i]
        scores = model(occluded).gather(1, chosen[sample_index][:, None])[:, 0]
        drops = (base[sample_index] - scores).float()
        for row, (i, (y, x0)) in enumerate(chunk):
            drop_sum[i, y : y + patch, x0 : x0 + patch] += drops[row]
    return drop_sum / coverage, logits, chosen
