"""Logits and pooled features of a model on prepared inputs, for calibration and evaluation.

Calibration must see exactly what inference computes: the same network, the same features
(`crystalview.inference.fused.LogitsAndFeatures`), in full precision.
"""

from __future__ import annotations

import numpy as np
import torch

from crystalview.inference.fused import LogitsAndFeatures
from crystalview.models.base import CrystalNet


def model_outputs(
    model: CrystalNet, x: torch.Tensor | np.ndarray, batch_size: int = 256
) -> tuple[np.ndarray, np.ndarray]:
    """Logits ``(n, k)`` and pooled features ``(n, C)`` of prepared inputs ``x``.

    ``x`` is ``(n, 1, H, W)`` (or ``(n, H, W)``) as `crystalview.inference.preprocess.prepare_whole`
    makes it; the model runs in eval mode, float32, on its current device, and is left in the
    training mode it had.
    """
    tensor = torch.as_tensor(np.asarray(x) if not isinstance(x, torch.Tensor) else x)
    tensor = tensor.float()
    if tensor.ndim == 3:
        tensor = tensor[:, None]
    if model.in_channels > 1:
        tensor = tensor.expand(-1, model.in_channels, -1, -1)
    device = next(model.parameters()).device
    wrapper = LogitsAndFeatures(model)
    was_training = model.training
    model.eval()
    logits, features = [], []
    try:
        with torch.inference_mode():
            for start in range(0, len(tensor), batch_size):
                out, pooled = wrapper(tensor[start : start + batch_size].to(device))
                logits.append(out.float().cpu().numpy())
                features.append(pooled.float().cpu().numpy())
    finally:
        model.train(was_training)
    return np.concatenate(logits), np.concatenate(features)
