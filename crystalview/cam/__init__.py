"""Where the network looked: class-activation heat maps and feature maps (no Qt).

`compute_cam` is the entry point (a progress generator over a whole micrograph, tiled or not);
`crystalview.cam.methods` has the per-batch methods (exact CAM, Grad-CAM, Grad-CAM++, occlusion),
`crystalview.cam.features` the feature-map browser and kernel playground, and
`crystalview.cam.export` writes the float32 TIFF and the overlay PNG.
"""

from crystalview.cam.compute import METHODS, CamResult, compute_cam
from crystalview.cam.export import render_overlay_png, save_cam_tiff, write_cam_outputs
from crystalview.cam.features import (
    KERNEL_PRESETS,
    apply_kernel,
    feature_maps,
    first_layer_kernels,
    pool2x2,
)

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
