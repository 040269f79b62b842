"""Stratified train/validation split and inverse-frequency class weights."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def stratified_split(
    labels: Sequence[int], val_fraction: float, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """Indices ``(train, val)`` holding out ``val_fraction`` of every class.

    Each class with at least two images keeps at least one for training and puts at least one
    into validation, so every class is both learnt and judged; a class of one image goes to
    training only. The split depends only on the labels and the seed.
    """
    labels_array = np.asarray(labels, dtype=np.int64)
    rng = np.random.default_rng(seed)
    train: list[int] = []
    val: list[int] = []
    for cls in np.unique(labels_array):
        members = np.flatnonzero(labels_array == cls)
        rng.shuffle(members)
        if len(members) < 2:
            train.extend(members.tolist())
            continue
        n_val = round(val_fraction * len(members))
        n_val = min(max(n_val, 1), len(members) - 1)
        val.extend(members[:n_val].tolist())
        train.extend(members[n_val:].tolist())
    return np.sort(np.array(train, dtype=np.int64)), np.sort(np.array(val, dtype=np.int64))


def class_weights(labels: Sequence[int], n_classes: int) -> np.ndarray:
    """Inverse-frequency weights ``N / (K * count_k)`` (1 for a balanced set; 0 for absent)."""
    counts = np.bincount(np.asarray(labels, dtype=np.int64), minlength=n_classes).astype(float)
    weights = np.zeros(n_classes, dtype=np.float32)
    present = counts > 0
    weights[present] = counts.sum() / (present.sum() * counts[present])
    return weights
