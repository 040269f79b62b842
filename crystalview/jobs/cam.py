"""The heat-map and feature-map jobs the window runs on worker threads (no Qt in here).

Each job owns a private copy of its model, loaded from the bundle file by the job itself (a
`ModelCache`): the model the inference dock runs is never touched, so a heat map can be computed
while a classification runs. A `ModelCache` is used by one job at a time — the caller starts the
next job only after the previous one finished — because Grad-CAM and the feature browser put
temporary hooks on the network's layers.
"""

from __future__ import annotations

from collections.abc import Generator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from crystalview.cam.names import LAYER_METHODS
from crystalview.core.micrograph import Micrograph
from crystalview.core.progress import CancelToken, Progress
from crystalview.inference.settings import InferenceSettings
from crystalview.models.cache import ModelCache


@dataclass(frozen=True)
class CamRequest:
    """What to explain: which image, model, method, class and layer, run how.

    ``key`` identifies the result in the dock's cache (the micrograph itself is not hashed).
    """

    image_key: tuple
    model_path: Path
    method: str
    target: str | None
    layer: str | None
    frame: int = 0
    run: InferenceSettings = field(default_factory=InferenceSettings)
    """The model dock's settings, so the heat map explains exactly the tiles classified."""
    micrograph: Micrograph | None = field(default=None, compare=False, hash=False)

    @property
    def key(self) -> tuple:
        model = str(self.model_path)
        return (self.image_key, model, self.method, self.target, self.layer, self.frame, self.run)


def cam_job(
    request: CamRequest, model: ModelCache, cancel: CancelToken
) -> Generator[Progress, None, Any]:
    """Load the model copy if needed, then run `crystalview.cam.compute_cam` for ``request``.

    Returns the `CamResult`. Grad-CAM gets the micrograph (numpy), never a tensor made under
    ``inference_mode`` elsewhere.
    """
    from crystalview.cam import compute_cam

    yield Progress(0, 0, f"loading model {request.model_path.stem}")
    loaded = model.get(request.model_path)
    cancel.raise_if_cancelled()
    layer = request.layer if request.method in (*LAYER_METHODS, "auto") else None
    return (
        yield from compute_cam(
            loaded,
            request.micrograph,
            method=request.method,
            target=request.target,
            layer=layer,
            settings=request.run,
            cancel=cancel,
            frame=request.frame,
        )
    )


def model_layers(model: ModelCache, path: Path) -> tuple[list[str], list[str], bool]:
    """``(class names, Grad-CAM layer names, exact CAM possible)`` of the bundle at ``path``."""
    loaded = model.get(path)
    network = loaded.model
    return (
        list(loaded.manifest.classes),
        list(network.conv_layers()),
        bool(getattr(network, "gap_linear", False)),
    )


@dataclass
class FeatureResult:
    """Activation maps ``(C, h, w)`` of one layer (or first-layer kernels), for the browser."""

    maps: np.ndarray
    layer: str
    kernels: bool
    layers: list[str]


def feature_job(
    path: Path,
    model: ModelCache,
    micrograph: Micrograph | None,
    layer: str | None,
    box: tuple[int, int, int, int] | None,
    frame: int,
    cancel: CancelToken,
) -> FeatureResult:
    """Feature maps of ``layer`` for the micrograph, or the first conv kernels when ``layer`` is
    ``None`` ("what did Conv1 learn?")."""
    from crystalview.cam import feature_maps, first_layer_kernels

    loaded = model.get(path)
    layers = list(loaded.model.conv_layers())
    cancel.raise_if_cancelled()
    if layer is None:
        return FeatureResult(first_layer_kernels(loaded.model), "first layer", True, layers)
    if micrograph is None:
        raise ValueError("open an image first: feature maps show what a layer makes of an image")
    maps = feature_maps(loaded, micrograph, layer=layer, box=box, frame=frame)
    return FeatureResult(maps, layer, False, layers)
