"""Feature maps, first-layer kernels and a kernel playground, for looking inside a network.

`feature_maps` and `first_layer_kernels` feed the window's feature-map browser ("what did Conv1
learn?"); `apply_kernel` and `pool2x2` let a user try a 3 x 3 kernel and 2 x 2 pooling on their own
image, in numpy/scipy so it redraws live on a 1k image without the model.
"""

from __future__ import annotations

import numpy as np
import torch
from scipy import ndimage
from torch import nn

from crystalview.cam.inputs import prepare_model_input
from crystalview.cam.layers import activation_at, resolve_layer
from crystalview.core.micrograph import Micrograph
from crystalview.models.bundle import LoadedModel

# Longest side of the prepared image fed whole to the network for feature maps; larger images
# are cropped around their centre (pass ``box`` to choose the region) to bound memory.
MAX_FEATURE_INPUT = 1024

KERNEL_PRESETS: dict[str, np.ndarray] = {
    "identity": np.array([[0, 0, 0], [0, 1, 0], [0, 0, 0]], dtype=np.float32),
    "blur": np.full((3, 3), 1.0 / 9.0, dtype=np.float32),
    "sharpen": np.array([[0, -1, 0], [-1, 5, -1], [0, -1, 0]], dtype=np.float32),
    "laplacian": np.array([[0, 1, 0], [1, -4, 1], [0, 1, 0]], dtype=np.float32),
    "edge (horizontal)": np.array([[-1, -2, -1], [0, 0, 0], [1, 2, 1]], dtype=np.float32),
    "edge (vertical)": np.array([[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]], dtype=np.float32),
}


def _first_conv(model: nn.Module) -> nn.Conv2d:
    for module in model.modules():
        if isinstance(module, nn.Conv2d):
            return module
    raise ValueError("the model has no convolutional layer")


def first_layer_kernels(model: nn.Module) -> np.ndarray:
    """The first convolution's kernels ``(n, kh, kw)`` as seen by a grey image.

    A grey image fed to several input channels is the same picture in each, so the effective
    kernel is the sum over input channels.
    """
    weight = _first_conv(model).weight.detach().float().cpu()
    return weight.sum(dim=1).numpy()


def _crop(
    prepared: np.ndarray,
    image_shape: tuple[int, int],
    box: tuple[int, int, int, int] | None,
    limit: int,
) -> np.ndarray:
    """The region of the prepared image under ``box`` (image pixels), or its central square."""
    height, width = prepared.shape
    if box is not None:
        sy, sx = height / image_shape[0], width / image_shape[1]
        y0, x0, y1, x1 = (float(v) for v in box)
        top, left = max(0, round(y0 * sy)), max(0, round(x0 * sx))
        bottom, right = max(top + 1, round(y1 * sy)), max(left + 1, round(x1 * sx))
        return prepared[top : min(bottom, top + limit), left : min(right, left + limit)]
    top, left = max(0, (height - limit) // 2), max(0, (width - limit) // 2)
    return prepared[top : top + limit, left : left + limit]


def feature_maps(
    loaded: LoadedModel,
    image: Micrograph | np.ndarray,
    layer: str | None = None,
    box: tuple[int, int, int, int] | None = None,
    frame: int = 0,
) -> np.ndarray:
    """Activation maps ``(C, h, w)`` float32 of ``layer`` for an image (or a tile of it).

    The image is normalised (and, for tiled models, resampled to the model's pixel size) exactly
    as for inference; whole-image models see the whole image resized. For tiled models the
    network runs on one region of the prepared image — ``box`` (``y0, x0, y1, x1`` in the
    image's own pixels, e.g. a tile box from `ImagePrediction.tile_boxes`) or the central square
    — at most ``MAX_FEATURE_INPUT`` pixels on a side, since convolutions need no fixed input size.
    """
    model = loaded.model
    _, module = resolve_layer(model, layer)
    prepared = prepare_model_input(loaded, image, frame=frame)
    region = prepared.prepared
    if prepared.grid is not None:
        region = _crop(region, prepared.image_shape, box, MAX_FEATURE_INPUT)
    parameter = next(model.parameters())
    x = torch.from_numpy(np.ascontiguousarray(region, dtype=np.float32))[None, None]
    x = x.to(parameter.device).expand(-1, model.in_channels, -1, -1)
    with torch.inference_mode():
        activation = activation_at(model, module, x)
    return activation[0].float().cpu().numpy()


def apply_kernel(image: np.ndarray, kernel: np.ndarray) -> np.ndarray:
    """Slide ``kernel`` over ``image`` as a CNN layer does (cross-correlation, no flip).

    Edges are mirrored so the border does not light up; the result is float32, same shape.
    """
    kernel = np.asarray(kernel, dtype=np.float32)
    if kernel.ndim != 2:
        raise ValueError(f"a kernel must be 2-D, got shape {kernel.shape}")
    data = np.asarray(image, dtype=np.float32)
    return ndimage.correlate(data, kernel, mode="mirror").astype(np.float32, copy=False)


def pool2x2(fmap: np.ndarray, mode: str = "max") -> np.ndarray:
    """2 x 2 pooling with stride 2 (``"max"`` or ``"avg"``); an odd last row/column is dropped,
    as in ``torch.nn.MaxPool2d(2)``."""
    if mode not in ("max", "avg"):
        raise ValueError(f"pooling must be 'max' or 'avg', got {mode!r}")
    data = np.asarray(fmap, dtype=np.float32)
    height, width = data.shape[0] // 2 * 2, data.shape[1] // 2 * 2
    blocks = data[:height, :width].reshape(height // 2, 2, width // 2, 2)
    return blocks.max(axis=(1, 3)) if mode == "max" else blocks.mean(axis=(1, 3))
