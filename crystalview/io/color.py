"""Colour images shown as grey: luminance for the view and the models, original kept aside."""

from __future__ import annotations

import numpy as np

# ITU-R BT.601 luma weights, what most image viewers use for "convert to greyscale".
_LUMA = np.array([0.299, 0.587, 0.114])


def luminance(rgb: np.ndarray) -> np.ndarray:
    """Grey image from ``(..., H, W, 3|4)`` colour data, in the input's dtype (alpha ignored)."""
    weighted = rgb[..., :3].astype(np.float64) @ _LUMA
    if np.issubdtype(rgb.dtype, np.integer):
        info = np.iinfo(rgb.dtype)
        return np.clip(np.rint(weighted), info.min, info.max).astype(rgb.dtype)
    return weighted.astype(rgb.dtype)


def is_grey_palette(colormap: np.ndarray) -> bool:
    """True when a TIFF palette (3, N) maps every index to R == G == B."""
    return bool(np.all(colormap[0] == colormap[1]) and np.all(colormap[1] == colormap[2]))
