"""Turning labelled images into network inputs, with the inference path's own preprocessing.

Every image goes through ``crystalview.inference.preprocess`` exactly as at prediction time, so
the model never sees a difference between training and use:

* ``input_mode == "whole"``: `prepare_whole` resizes the whole image to ``input_size``; one view
  per image.
* ``input_mode == "tiles"``: `prepare_image` brings the image to the model's pixel size (the scale
  inference tiles at), then we keep a centre crop (used for validation) and a few random crops of
  ``input_size`` (used for training; each is labelled with its image's class). Images smaller
  than a tile are reflect-padded. Keeping crops rather than whole resampled images bounds memory
  for big micrographs while still showing the network different parts of each image.

A few hundred images fit in memory, so everything is loaded up front (no worker processes).
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from crystalview.core.errors import CrystalViewError
from crystalview.core.progress import CancelToken, Progress

log = logging.getLogger(__name__)

Sample = tuple[Path | np.ndarray, int]

TILE_CROPS = 4  # random training crops kept per image in "tiles" mode (plus the centre crop)


@dataclass
class PreparedData:
    """Network inputs for every usable sample.

    Attributes
    ----------
    views
        ``(N, K, C, S, S)`` float32; view 0 is the canonical input (whole image or centre crop)
        used for validation, the others are extra training crops ("tiles" mode only).
    labels
        ``(N,)`` class index per row.
    sources
        Index into the caller's ``samples`` list for each row.
    paths
        Path of each row, or ``None`` for samples given as arrays.
    skipped
        ``(path, reason)`` of samples that could not be read (moved, deleted, damaged).
    modalities
        How many of the images each modality was.
    fingerprints
        ``(N, D)`` content fingerprint of each row (`crystalview.training.groups.fingerprint`),
        for finding near-duplicates without reading the files again.
    shrink
        Factor by which each row's image was reduced to fit the input (1 when not shrunk).
    """

    views: np.ndarray
    labels: np.ndarray
    sources: list[int]
    paths: list[Path | None]
    skipped: list[tuple[str, str]] = field(default_factory=list)
    modalities: Counter = field(default_factory=Counter)
    fingerprints: np.ndarray | None = None
    shrink: np.ndarray | None = None


def samples_from_folder(
    data_dir: str | Path, is_image: Callable[[Path], bool] | None = None
) -> tuple[list[tuple[Path, int]], list[str]]:
    """Samples of a labelled folder tree: one subfolder per class, images inside (recursively).

    Classes are the subfolder names in sorted order; subfolders without images are ignored.
    """
    root = Path(data_dir)
    if not root.is_dir():
        raise CrystalViewError(
            f"{root} is not a folder; give a folder with one subfolder per class."
        )
    if is_image is None:
        from crystalview.io import is_supported_path as is_image
    samples: list[tuple[Path, int]] = []
    names: list[str] = []
    for folder in sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")):
        files = sorted(p for p in folder.rglob("*") if p.is_file() and is_image(p))
        if files:
            samples += [(f, len(names)) for f in files]
            names.append(folder.name)
    if len(names) < 2:
        raise CrystalViewError(
            f"{root} needs at least two subfolders of images (one per class); found {len(names)}."
        )
    return samples, names


def _read(source: Path | np.ndarray):
    """``(image2d, pixel_size, pixel_unit, modality)`` of a sample."""
    if isinstance(source, np.ndarray):
        if source.ndim != 2:
            raise CrystalViewError(f"array samples must be 2-D images, got shape {source.shape}")
        return source, None, None, "unknown"
    from crystalview.io import open_image

    micrograph = open_image(source)
    return micrograph.image, micrograph.pixel_size, micrograph.pixel_unit, str(micrograph.modality)


def read_samples(
    samples: Sequence[Sample], cancel: CancelToken | None, skipped: list[tuple[str, str]]
) -> Iterator[tuple]:
    """Read each sample in turn, skipping (and recording in ``skipped``) the unreadable ones.

    Yields ``(index, source, label, name, image, pixel_size, pixel_unit, modality)``; checks
    ``cancel`` before each read, so every input preparation stops within one image.
    """
    for i, (source, label) in enumerate(samples):
        if cancel is not None:
            cancel.raise_if_cancelled()
        name = "array" if isinstance(source, np.ndarray) else str(source)
        try:
            image, pixel_size, pixel_unit, modality = _read(source)
        except (CrystalViewError, OSError) as error:
            log.warning("skipping %s: %s", name, error)
            skipped.append((name, str(error)))
            continue
        yield i, source, label, name, image, pixel_size, pixel_unit, modality


def sniff_modality(samples: Sequence[Sample], limit: int = 15) -> str:
    """Most common modality the reader detects among up to ``limit`` path samples.

    The samples are taken evenly across the list (which is sorted by class), so one class's
    folder cannot decide alone; ``"unknown"`` when none can be read. Images of unknown modality
    are outvoted by any known one.
    """
    paths = [i for i, (source, _) in enumerate(samples) if not isinstance(source, np.ndarray)]
    if len(paths) > limit:
        paths = [paths[round(k)] for k in np.linspace(0, len(paths) - 1, limit)]
    found: Counter = Counter()
    for i in paths:
        try:
            found[_read(samples[i][0])[3]] += 1
        except (CrystalViewError, OSError):
            continue
    known = Counter({k: v for k, v in found.items() if k != "unknown"})
    best = (known or found).most_common(1)
    return best[0][0] if best else "unknown"


def _crops(image: np.ndarray, size: int, n_random: int, rng: np.random.Generator) -> np.ndarray:
    """Centre crop then ``n_random`` random crops of ``size`` (reflect-padded when too small)."""
    h, w = image.shape
    if h < size or w < size:
        pad_h, pad_w = max(0, size - h), max(0, size - w)
        image = np.pad(
            image,
            ((pad_h // 2, pad_h - pad_h // 2), (pad_w // 2, pad_w - pad_w // 2)),
            mode="reflect" if min(h, w) > 1 else "edge",
        )
        h, w = image.shape
    y0, x0 = (h - size) // 2, (w - size) // 2
    crops = [image[y0 : y0 + size, x0 : x0 + size]]
    for _ in range(n_random):
        y, x = int(rng.integers(0, h - size + 1)), int(rng.integers(0, w - size + 1))
        crops.append(image[y : y + size, x : x + size])
    return np.stack(crops).astype(np.float32)


def prepare_inputs(
    samples: Sequence[Sample],
    manifest,
    seed: int,
    cancel: CancelToken | None = None,
):
    """Generator reading and preprocessing every sample; returns `PreparedData`.

    Unreadable samples are skipped and listed (a moved file must not stop a training run); if
    nothing is left, a `CrystalViewError` says so.
    """
    from crystalview.inference.preprocess import prepare_image, prepare_whole
    from crystalview.training.groups import fingerprint

    rng = np.random.default_rng(seed)
    size, channels = manifest.input_size, manifest.in_channels
    views, labels, sources, paths = [], [], [], []
    skipped: list[tuple[str, str]] = []
    modalities: Counter = Counter()
    prints, shrink = [], []
    for i, source, label, _name, image, pixel_size, pixel_unit, modality in read_samples(
        samples, cancel, skipped
    ):
        modalities[modality] += 1
        prints.append(fingerprint(image))
        if manifest.input_mode == "whole":
            stack = prepare_whole(image, manifest)[None].astype(np.float32)
            shrink.append(max(1.0, max(image.shape) / size))
        else:
            prepared = prepare_image(image, manifest, pixel_size, pixel_unit)
            stack = _crops(prepared, size, TILE_CROPS, rng)
            shrink.append(max(1.0, max(image.shape) / max(prepared.shape)))
        views.append(np.repeat(stack[:, None], channels, axis=1))
        labels.append(int(label))
        sources.append(i)
        paths.append(None if isinstance(source, np.ndarray) else Path(source))
        yield Progress(i + 1, len(samples), f"Reading images {i + 1}/{len(samples)}")
    if not views:
        raise CrystalViewError("None of the training images could be read.")
    return PreparedData(
        views=np.stack(views),
        labels=np.asarray(labels, dtype=np.int64),
        sources=sources,
        paths=paths,
        skipped=skipped,
        modalities=modalities,
        fingerprints=np.stack(prints),
        shrink=np.asarray(shrink, dtype=np.float32),
    )
