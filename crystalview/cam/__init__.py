"""Where the network looked: class-activation heat maps and feature maps (no Qt).

`compute_cam` is the entry point (a progress generator over a whole micrograph, tiled or not);
`crystalview.cam.methods` has the per-batch methods (exact CAM, Grad-CAM, Grad-CAM++, occlusion),
`crystalview.cam.features` the feature-map browser and kernel playground, and
`crystalview.cam.export` writes the float32 TIFF and the overlay PNG. The names below load their
module (and torch) when first used, so the torch-free parts (`crystalview.cam.names`,
`crystalview.cam.colormaps`) can be imported by the window at start-up.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from crystalview.cam.compute import CamResult, compute_cam
    from crystalview.cam.export import render_overlay_png, save_cam_tiff, write_cam_outputs
    from crystalview.cam.features import (
        KERNEL_PRESETS,
        apply_kernel,
        feature_maps,
        first_layer_kernels,
        pool2x2,
    )
    from crystalview.cam.names import METHODS

_LAZY = {
    "KERNEL_PRESETS": "crystalview.cam.features",
    "METHODS": "crystalview.cam.names",
    "CamResult": "crystalview.cam.compute",
    "apply_kernel": "crystalview.cam.features",
    "compute_cam": "crystalview.cam.compute",
    "feature_maps": "crystalview.cam.features",
    "first_layer_kernels": "crystalview.cam.features",
    "pool2x2": "crystalview.cam.features",
    "render_overlay_png": "crystalview.cam.export",
    "save_cam_tiff": "crystalview.cam.export",
    "write_cam_outputs": "crystalview.cam.export",
}
__all__ = [
    "KERNEL_PRESETS",
    "METHODS",
    "CamResult",
    "apply_kernel",
    "compute_cam",
    "feature_maps",
    "first_layer_kernels",
    "pool2x2",
    "render_overlay_png",
    "save_cam_tiff",
    "write_cam_outputs",
]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
