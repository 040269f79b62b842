"""Frozen pretrained features of native-resolution tiles, and a linear head fitted on them.

On a few dozen real micrographs the way to a useful model is to keep an ImageNet backbone as it
is and learn only a linear classifier on its pooled features; shrinking a 1024 x 700 micrograph
to 224 px first throws away the fibre-scale texture that separates the classes. So every image
is cut, at the pixel size the model will run at, into the same overlapping tile grid inference
uses (`crystalview.core.tiling.tile_grid`), and each tile's pooled features are computed once.

The head is trained on tiles (each labelled with its image's class, every image weighing the
same however many tiles it has) and an image's answer is the mean of its tiles' probabilities:
exactly what `crystalview.inference.predict` does with a ``"tiles"`` model, so validation scores
the very path the user runs. Because the backbone's head is global average pooling + one
``Linear``, the fitted weights go straight into the model's ``fc`` and CAM stays exact.

The head is multinomial logistic regression with an L2 penalty on standardised features, fitted
with L-BFGS (deterministic, seconds for thousands of tiles); the standardisation is folded into
the weights so the saved model reads raw features.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import torch

from crystalview.core.errors import CrystalViewError
from crystalview.core.progress import CancelToken, Progress
from crystalview.core.tiling import extract_tiles, tile_grid
from crystalview.models.base import CrystalNet
from crystalview.training.data import Sample, read_samples

log = logging.getLogger(__name__)

TILE_OVERLAP = 0.25  # the inference default, so training sees the tiles prediction will
MAX_TILES = 24  # per image; evenly spread when a grid has more (bounds time on huge frames)


@dataclass
class FeatureBank:
    """Pooled backbone features of every usable image.

    ``tiles[i]`` is ``(n_tiles_i, C)`` for image ``i`` (one row in "whole" mode).
    """

    tiles: list[np.ndarray]
    labels: np.ndarray
    sources: list[int]
    paths: list[Path | None]
    fingerprints: np.ndarray
    shrink: np.ndarray
    modalities: Counter = field(default_factory=Counter)
    skipped: list[tuple[str, str]] = field(default_factory=list)

    def stacked(self, images: Sequence[int]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(features, image index, label)`` of every tile of ``images``."""
        feats = [self.tiles[i] for i in images]
        owner = np.concatenate([np.full(len(f), i) for f, i in zip(feats, images, strict=True)])
        return np.concatenate(feats), owner, self.labels[owner]


def _spread(n: int, limit: int) -> np.ndarray:
    return np.arange(n) if n <= limit else np.linspace(0, n - 1, limit).round().astype(int)


def image_inputs(
    image: np.ndarray, manifest, pixel_size, pixel_unit, zoom: float = 1.0
) -> tuple[np.ndarray, float]:
    """``(inputs (n, S, S), shrink factor)`` of one image as the model will read it; ``zoom``
    reads the tiles at that fraction of the model's resolution (one of its `zooms`)."""
    from crystalview.inference.preprocess import prepare_image, prepare_whole

    size = manifest.input_size
    if manifest.input_mode == "whole":
        return prepare_whole(image, manifest)[None], max(1.0, max(image.shape) / size)
    prepared = prepare_image(image, manifest, pixel_size, pixel_unit, zoom=zoom)
    grid = tile_grid(prepared.shape, size, TILE_OVERLAP)
    tiles = extract_tiles(prepared, grid, _spread(grid.n_tiles, MAX_TILES))
    return np.ascontiguousarray(tiles), max(1.0, max(image.shape) / max(prepared.shape))


def compute_feature_banks(
    samples: Sequence[Sample],
    model: CrystalNet,
    manifests: Sequence,
    device: torch.device,
    cancel: CancelToken | None = None,
    batch_size: int = 16,
    zooms: Sequence[float] | None = None,
):
    """Generator: read every sample once and compute pooled features of its inputs under each
    of ``manifests`` (e.g. tiles and whole image; ``zooms[m]`` the zoom of tiles under
    ``manifests[m]``, 1 by default); returns one `FeatureBank` per manifest."""
    from crystalview.training.groups import fingerprint

    model.eval().to(device)
    zooms = list(zooms) if zooms is not None else [1.0] * len(manifests)
    tiles: list[list[np.ndarray]] = [[] for _ in manifests]
    shrink: list[list[float]] = [[] for _ in manifests]
    labels, sources, paths, prints = [], [], [], []
    modalities: Counter = Counter()
    skipped: list[tuple[str, str]] = []
    for i, source, label, _name, image, pixel_size, pixel_unit, modality in read_samples(
        samples, cancel, skipped
    ):
        for m, manifest in enumerate(manifests):
            inputs, factor = image_inputs(image, manifest, pixel_size, pixel_unit, zooms[m])
            tiles[m].append(_pooled(model, inputs, manifest.in_channels, device, batch_size))
            shrink[m].append(factor)
        labels.append(int(label))
        sources.append(i)
        paths.append(None if isinstance(source, np.ndarray) else Path(source))
        prints.append(fingerprint(image))
        modalities[modality] += 1
        yield Progress(i + 1, len(samples), f"Computing features {i + 1}/{len(samples)}")
    if not labels:
        raise CrystalViewError("None of the training images could be read.")
    return [
        FeatureBank(
            tiles=tiles[m],
            labels=np.asarray(labels, dtype=np.int64),
            sources=sources,
            paths=paths,
            fingerprints=np.stack(prints),
            shrink=np.asarray(shrink[m], dtype=np.float32),
            modalities=modalities,
            skipped=skipped,
        )
        for m in range(len(manifests))
    ]


def multiscale_bank(banks: Sequence[FeatureBank]) -> FeatureBank:
    """One row per image: the mean over ``banks`` (the same images tiled at several zooms) of
    the mean of its tiles' features.

    A linear head on this row is, by linearity, the mean over zooms of the mean of the tiles'
    logits: what inference computes for a model with ``image_pooling`` ``mean_logits``. Fitted
    on one row per image it is an image-level head, which on real micrographs beat the
    tile-level one (see the Issue 15 section of ``benchmarks/README.md``).
    """
    first = banks[0]
    rows = [
        np.mean([bank.tiles[i].mean(axis=0) for bank in banks], axis=0, keepdims=True)
        for i in range(len(first.tiles))
    ]
    return replace(first, tiles=rows)


def _pooled(model: CrystalNet, inputs: np.ndarray, channels: int, device, batch_size: int):
    rows = []
    for start in range(0, len(inputs), batch_size):
        batch = torch.from_numpy(np.ascontiguousarray(inputs[start : start + batch_size]))
        batch = batch[:, None].repeat(1, channels, 1, 1).to(device)
        with torch.no_grad():
            rows.append(model.forward_features(batch).mean(dim=(2, 3)).float().cpu().numpy())
    return np.concatenate(rows)


def fit_linear_head(
    features: np.ndarray,
    labels: np.ndarray,
    owner: np.ndarray,
    n_classes: int,
    l2: float,
    class_weighting: bool = True,
    max_iter: int = 200,
) -> tuple[np.ndarray, np.ndarray]:
    """``(W (K, C), b (K,))`` of an L2-penalised multinomial logistic regression on raw features.

    Every image weighs the same (its tiles share its weight) and, with ``class_weighting``, every
    class weighs the same, so a class of few micrographs is not ignored. ``l2`` is the penalty
    on the weights of standardised features, per unit of total sample weight.
    """
    x = torch.from_numpy(np.asarray(features, dtype=np.float64))
    mean, std = x.mean(0), x.std(0).clamp_min(1e-6)
    z = (x - mean) / std
    y = torch.from_numpy(np.asarray(labels, dtype=np.int64))
    _, owner_index, per_image = np.unique(owner, return_inverse=True, return_counts=True)
    weight = 1.0 / per_image[owner_index].astype(np.float64)
    if class_weighting:
        image_labels = np.asarray(labels)
        for k in range(n_classes):
            share = weight[image_labels == k].sum()
            if share > 0:
                weight[image_labels == k] /= share
    weight = torch.from_numpy(weight / weight.sum())
    w = torch.zeros((n_classes, z.shape[1]), dtype=torch.float64, requires_grad=True)
    b = torch.zeros(n_classes, dtype=torch.float64, requires_grad=True)
    optimizer = torch.optim.LBFGS(
        [w, b], lr=1.0, max_iter=max_iter, line_search_fn="strong_wolfe", tolerance_grad=1e-9
    )

    def closure():
        optimizer.zero_grad()
        logits = z @ w.T + b
        loss = (torch.nn.functional.cross_entropy(logits, y, reduction="none") * weight).sum()
        loss = loss + 0.5 * l2 * (w * w).sum()
        loss.backward()
        return loss

    optimizer.step(closure)
    with torch.no_grad():
        raw_w = w / std  # z = (x - mean) / std  ->  logits = x @ (w / std).T + (b - w @ mean/std)
        raw_b = b - raw_w @ mean
    return raw_w.numpy().astype(np.float32), raw_b.numpy().astype(np.float32)


def image_probabilities(
    bank: FeatureBank, images: Sequence[int], weight: np.ndarray, bias: np.ndarray
) -> np.ndarray:
    """``(len(images), K)``: mean over each image's tiles of the softmax of the linear head."""
    out = []
    for i in images:
        logits = bank.tiles[i] @ weight.T + bias
        logits -= logits.max(axis=1, keepdims=True)
        p = np.exp(logits)
        out.append((p / p.sum(axis=1, keepdims=True)).mean(axis=0))
    return np.stack(out) if out else np.zeros((0, len(bias)), dtype=np.float32)


def cross_validated_probabilities(
    bank: FeatureBank,
    folds: Sequence[tuple[np.ndarray, np.ndarray]],
    n_classes: int,
    l2: float,
    cancel: CancelToken | None = None,
) -> np.ndarray:
    """Each image's probabilities from the fold that held it out (NaN rows if never held out)."""
    probabilities = np.full((len(bank.tiles), n_classes), np.nan, dtype=np.float64)
    for train, val in folds:
        if cancel is not None:
            cancel.raise_if_cancelled()
        features, owner, labels = bank.stacked(train)
        weight, bias = fit_linear_head(features, labels, owner, n_classes, l2)
        probabilities[val] = image_probabilities(bank, val, weight, bias)
    return probabilities


def install_head(model: CrystalNet, weight: np.ndarray, bias: np.ndarray) -> None:
    """Put a fitted linear head into the model's classifier (GAP + Linear: CAM stays exact)."""
    fc = model.classifier()
    with torch.no_grad():
        fc.weight.copy_(torch.from_numpy(weight).to(fc.weight))
        fc.bias.copy_(torch.from_numpy(bias).to(fc.bias))
