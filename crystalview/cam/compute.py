"""`compute_cam`: one heat map over a whole micrograph, tiled or not, as a progress generator.

The image goes through exactly the preprocessing and tiling that inference uses, so the map
explains the prediction the user saw. Per-tile maps are upsampled to the tile size, blended in
the overlaps into one map of the (resampled) image, brought back to the image's own pixel grid,
and only then normalised — over the whole image, never per tile, because per-tile scaling would
turn the weakest evidence in an empty tile into a bright hot spot.
"""

from __future__ import annotations

import contextlib
from collections.abc import Generator
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from crystalview.cam.blend import TileMapBlender
from crystalview.cam.inputs import ModelInput, frame_and_calibration, prepare_model_input
from crystalview.cam.layers import resolve_layer
from crystalview.cam.methods import class_activation_maps, grad_cam, occlusion_map
from crystalview.cam.names import METHODS
from crystalview.cam.network import cam_network
from crystalview.core.micrograph import Micrograph
from crystalview.core.progress import CancelToken, Progress
from crystalview.inference.predict import InferenceSettings, make_runner
from crystalview.inference.preprocess import normalize_intensity, transformed_view, working_copy
from crystalview.models.bundle import LoadedModel

# Patches per image side for occlusion in image space (autocorrelation models).
OCCLUSION_GRID = 12
# Model inputs without a pixel-wise inverse map onto the image: explained by image occlusion.
IMAGE_SPACE_TRANSFORMS = ("autocorrelation", "polar_autocorrelation")


@dataclass
class CamResult:
    """A class-activation heat map aligned with the image.

    Attributes
    ----------
    heatmap
        float32 ``(H, W)`` — the image's own height and width — in 0..1; 1 is the strongest
        evidence for ``target_class`` anywhere in the image, 0 none.
    target_class
        Index of the explained class in the model's class list.
    method
        ``"cam"``, ``"gradcam"``, ``"gradcam++"`` or ``"occlusion"`` (never ``"auto"``).
    layer
        The layer explained (``None`` for occlusion, which looks at the input).
    class_name
        Name of ``target_class``.
    peak
        The raw map value that became 1 (0 when the map holds no positive evidence); lets
        callers compare maps of the same image across classes.
    n_tiles
        Model inputs evaluated (1 for whole-image models).
    probabilities
        ``(k,)`` class probabilities of the image from the heat map's own forward passes (the
        mean over tiles, as inference reports them).
    downsampled
        1, or ``n`` for the map of an image larger than memory (`crystalview.cam.regions`):
        ``heatmap[r, c]`` is then the map at the image's pixel ``(n·r, n·c)``.
    """

    heatmap: np.ndarray
    target_class: int
    method: str
    layer: str | None
    class_name: str = ""
    peak: float = 0.0
    n_tiles: int = 1
    probabilities: np.ndarray | None = None
    downsampled: int = 1


def resolve_method(method: str, model: torch.nn.Module) -> str:
    """``"auto"`` → exact CAM when the head allows it, Grad-CAM otherwise."""
    if method not in METHODS:
        raise ValueError(f"unknown heat-map method {method!r}; choose one of {', '.join(METHODS)}")
    if method == "auto":
        return "cam" if getattr(model, "gap_linear", False) else "gradcam"
    return method


def resolve_target(target: int | str | None, class_names: list[str]) -> int | None:
    """Class index from an index, a class name, or ``None`` (the predicted class, decided later)."""
    if target is None:
        return None
    if isinstance(target, str):
        if target in class_names:
            return class_names.index(target)
        lowered = [name.lower() for name in class_names]
        if target.lower() in lowered:
            return lowered.index(target.lower())
        raise ValueError(
            f"the model has no class {target!r}; its classes: {', '.join(class_names)}"
        )
    index = int(target)
    if not 0 <= index < len(class_names):
        raise ValueError(f"class index {index} out of range for {len(class_names)} classes")
    return index


def _batches(n: int, size: int) -> list[slice]:
    return [slice(start, min(n, start + size)) for start in range(0, n, max(1, size))]


def _low_res_maps(
    model: torch.nn.Module,
    batch: torch.Tensor,
    method: str,
    layer: str | None,
    target: int | None,
    batch_size: int,
    cancel: CancelToken,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Raw maps for one batch — ``(n, k, h, w)`` for exact CAM (every class), ``(n, 1, h, w)``
    otherwise — and the batch's logits."""
    targets = None if target is None else torch.tensor(target)
    if method == "cam":
        with torch.inference_mode():
            maps, logits = class_activation_maps(model, batch)
        return maps.float(), logits.float()
    if method == "occlusion":
        with torch.inference_mode():
            maps, logits, _ = occlusion_map(
                model, batch, targets, batch_size=batch_size, cancel=cancel
            )
        return maps[:, None], logits.float()
    maps, logits, _ = grad_cam(model, batch, layer, targets, plus_plus=method == "gradcam++")
    return maps[:, None], logits.float()


def _upsample(maps: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """Bilinear resize with pixel centres aligned (``align_corners=False``): a feature-map cell
    covers the block of input pixels it was computed from, so nothing shifts or flips."""
    if tuple(maps.shape[-2:]) == size:
        return maps
    return F.interpolate(maps, size=size, mode="bilinear", align_corners=False)


def _assemble(maps: torch.Tensor, model_input: ModelInput, chunk: int) -> np.ndarray:
    """Per-input raw maps ``(n, 1, h, w)`` → one raw map ``(H, W)`` on the image's pixel grid."""
    if model_input.grid is None and model_input.to_image is not None:
        size = (model_input.tile_size, model_input.tile_size)
        return model_input.to_image(_upsample(maps.float(), size)[0, 0].cpu().numpy())
    if model_input.grid is None:
        return _upsample(maps.float(), model_input.image_shape)[0, 0].cpu().numpy()
    size = (model_input.tile_size, model_input.tile_size)
    blender = TileMapBlender(model_input.grid)
    for part in _batches(len(maps), chunk):
        blender.add(part.start, _upsample(maps[part], size)[:, 0].float().cpu().numpy())
    blended = blender.result()
    if model_input.prepared_shape == model_input.image_shape:
        return blended
    resampled = _upsample(torch.from_numpy(blended)[None, None], model_input.image_shape)
    return resampled[0, 0].numpy()


def _image_occlusion(
    loaded: LoadedModel,
    image: np.ndarray,
    runner,
    target: int | None,
    batch_size: int,
    cancel: CancelToken,
) -> Generator[Progress, None, tuple[np.ndarray, np.ndarray, int]]:
    """Occlusion in *image* space for models whose input is not a resampled image.

    The autocorrelation has no pixel-to-pixel inverse: every input pixel mixes the whole image.
    So patches of the image itself (on the working copy `prepare_whole` uses) are greyed out one
    at a time, each occluded image goes through the model's own transform, and a pixel's value is
    the mean drop of the target probability over the patches covering it. Returns
    ``(raw map (H, W), probabilities (k,), target)``.
    """
    manifest = loaded.manifest
    work = working_copy(normalize_intensity(image, manifest.normalization))
    height, width = work.shape
    patch = max(2, min(height, width) // OCCLUSION_GRID)
    stride = max(1, patch // 2)
    origins = [
        (y, x)
        for y in range(0, max(1, height - patch + 1), stride)
        for x in range(0, max(1, width - patch + 1), stride)
    ]
    fill = np.float32(np.median(work))
    probabilities = runner.probabilities(transformed_view(work, manifest)[None])[0]
    if target is None:
        target = int(probabilities.argmax())
    drop_sum = np.zeros(work.shape, np.float32)
    coverage = np.zeros(work.shape, np.float32)
    parts = _batches(len(origins), batch_size)
    for done, part in enumerate(parts, start=1):
        cancel.raise_if_cancelled()
        views = []
        for y, x in origins[part]:
            occluded = work.copy()
            occluded[y : y + patch, x : x + patch] = fill
            views.append(transformed_view(occluded, manifest))
        drops = probabilities[target] - runner.probabilities(np.stack(views))[:, target]
        for (y, x), drop in zip(origins[part], drops, strict=True):
            drop_sum[y : y + patch, x : x + patch] += drop
            coverage[y : y + patch, x : x + patch] += 1.0
        yield Progress(done, len(parts), "heat map (occlusion of the pattern)")
    raw = drop_sum / np.maximum(coverage, 1.0)
    resized = _upsample(torch.from_numpy(raw)[None, None], image.shape)[0, 0].numpy()
    return resized, probabilities, target


def normalise_map(raw: np.ndarray) -> tuple[np.ndarray, float]:
    """Keep positive evidence and scale the whole map so its peak is 1; returns ``(map, peak)``."""
    positive = np.maximum(np.nan_to_num(raw.astype(np.float32), nan=0.0), 0.0)
    peak = float(positive.max()) if positive.size else 0.0
    if peak > 0:
        positive /= peak
    return positive.astype(np.float32), peak


def autocast_context(device: torch.device, precision: str) -> contextlib.AbstractContextManager:
    """The reduced precision the inference runner chose for this device, for the same speed."""
    dtype = {"bf16": torch.bfloat16, "fp16": torch.float16}.get(precision)
    if dtype is None:
        return contextlib.nullcontext()
    return torch.autocast(device_type=device.type, dtype=dtype)


@dataclass(frozen=True)
class BatchExplainer:
    """One method on one layer of the model's heat-map copy, applied a batch of inputs at a
    time: what `compute_cam` and the region-wise maps of huge images
    (`crystalview.cam.regions`) both run, so the two explain tiles identically."""

    network: torch.nn.Module
    method: str
    layer: str | None
    device: torch.device
    precision: str
    channels_last: bool
    in_channels: int
    batch_size: int

    @classmethod
    def of(
        cls, loaded: LoadedModel, runner, method: str, layer: str | None, settings
    ) -> BatchExplainer:
        """The explainer of ``method`` (already resolved) on ``layer`` for ``runner``'s device."""
        device = runner.device
        channels_last = settings.fast and device.type in ("cpu", "cuda")
        explained_layer = layer if method != "cam" else None
        network = cam_network(loaded.model, device, channels_last, explained_layer)
        return cls(
            network=network,
            method=method,
            layer=layer,
            device=device,
            precision=runner.precision,
            channels_last=channels_last,
            in_channels=loaded.model.in_channels,
            batch_size=settings.batch_size,
        )

    def __call__(
        self, inputs: np.ndarray, target: int | None, cancel: CancelToken
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Raw low-resolution maps of ``inputs`` ``(n, S, S)`` and their logits (see
        `_low_res_maps`: every class for exact CAM, the target's otherwise)."""
        x = torch.from_numpy(np.ascontiguousarray(inputs, np.float32))[:, None].to(self.device)
        x = x.expand(-1, self.in_channels, -1, -1)
        if self.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        with autocast_context(self.device, self.precision):
            return _low_res_maps(
                self.network, x, self.method, self.layer, target, self.batch_size, cancel
            )


def compute_cam(
    loaded: LoadedModel,
    micrograph: Micrograph | np.ndarray,
    method: str = "auto",
    target: int | str | None = None,
    layer: str | None = None,
    settings: InferenceSettings | None = None,
    cancel: CancelToken | None = None,
    frame: int = 0,
) -> Generator[Progress, None, CamResult]:
    """Heat map of one image for one class, yielding `Progress` once per batch.

    Parameters
    ----------
    loaded
        The model and its manifest. Like inference, it runs on the settings' device, as a
        channels-last copy under reduced precision when ``settings.fast`` (see
        `crystalview.cam.network`).
    micrograph
        A `Micrograph` (its pixel size drives resampling to the model's scale) or a bare 2-D
        array (treated as uncalibrated).
    method
        ``"auto"`` (exact CAM when the head is GAP + linear, else Grad-CAM), ``"cam"``,
        ``"gradcam"``, ``"gradcam++"`` or ``"occlusion"``. Models reading the log-polar view of a
        pattern get their map drawn back through the inverse transform; models reading its
        autocorrelation (plain or polar), which has no pixel-wise inverse, are always explained
        by occlusion of the image itself (the result's ``method`` says so).
    target
        Class index or name; ``None`` explains the image's predicted class (the mean of the
        tiles' probabilities, as inference decides it). Grad-CAM and occlusion of a tiled image
        then need one extra forward pass to know that class before explaining it.
    layer
        Grad-CAM layer (a name from the model's ``conv_layers()``); default the last one.
    settings
        Tile size, overlap, batch size, device and speed options, shared with inference so the
        tiles match it exactly.
    cancel
        Checked between batches; cancelling raises `crystalview.core.errors.Cancelled`.
    frame
        Which frame of a stack to explain.
    """
    settings = settings or InferenceSettings()
    cancel = cancel or CancelToken()
    model, manifest = loaded.model, loaded.manifest
    method = resolve_method(method, model)
    if method == "occlusion":
        layer_name = None
    elif method == "cam":
        layer_name = list(model.conv_layers())[-1]
    else:
        layer_name = resolve_layer(model, layer)[0]
    target_index = resolve_target(target, list(manifest.classes))
    if manifest.transform in IMAGE_SPACE_TRANSFORMS:
        # No inverse map from the autocorrelation back to the image: explain in image space.
        image, _, _ = frame_and_calibration(micrograph, frame)
        runner = make_runner(loaded, settings)
        raw, probabilities, target_index = yield from _image_occlusion(
            loaded, image, runner, target_index, max(1, settings.batch_size), cancel
        )
        heatmap, peak = normalise_map(raw)
        return CamResult(
            heatmap=heatmap,
            target_class=target_index,
            method="occlusion",
            layer=None,
            class_name=manifest.classes[target_index],
            peak=peak,
            n_tiles=1,
            probabilities=probabilities.astype(np.float32),
        )
    model_input = prepare_model_input(
        loaded, micrograph, settings.tile_size, settings.overlap, frame
    )
    runner = make_runner(loaded, settings)
    explainer = BatchExplainer.of(loaded, runner, method, layer_name, settings)
    # Occlusion evaluates many copies of each input, so it takes one tile per step.
    batch_size = 1 if method == "occlusion" else max(1, settings.batch_size)
    slices = _batches(model_input.n_inputs, batch_size)
    needs_prediction = target_index is None and method != "cam" and model_input.n_inputs > 1
    prediction_slices = _batches(model_input.n_inputs, settings.batch_size)
    total = len(slices) + (len(prediction_slices) if needs_prediction else 0)
    done = 0

    if needs_prediction:
        probabilities = []
        for part in prediction_slices:
            cancel.raise_if_cancelled()
            probabilities.append(runner.probabilities(model_input.batch(part)))
            done += 1
            yield Progress(done, total, "finding the predicted class")
        target_index = int(np.concatenate(probabilities).mean(axis=0).argmax())

    maps, all_logits = [], []
    for part in slices:
        cancel.raise_if_cancelled()
        batch_maps, batch_logits = explainer(model_input.batch(part), target_index, cancel)
        maps.append(batch_maps)
        all_logits.append(batch_logits.cpu())
        done += 1
        yield Progress(done, total, f"heat map ({method})")
    probabilities = torch.softmax(torch.cat(all_logits), dim=1).mean(dim=0).numpy()
    if target_index is None:
        target_index = int(probabilities.argmax())
    stacked = torch.cat(maps)
    if method == "cam":
        stacked = stacked[:, target_index : target_index + 1]
    cancel.raise_if_cancelled()
    raw = _assemble(stacked, model_input, max(1, settings.batch_size))
    heatmap, peak = normalise_map(raw)
    return CamResult(
        heatmap=heatmap,
        target_class=target_index,
        method=method,
        layer=layer_name,
        class_name=manifest.classes[target_index],
        peak=peak,
        n_tiles=model_input.n_inputs,
        probabilities=probabilities.astype(np.float32),
    )
