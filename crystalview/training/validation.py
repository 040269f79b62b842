"""Validation splits that keep each group on one side, and intervals that admit how few there are.

A split by file on a folder of shifted copies validates on images the model trained on; a split
by group (`crystalview.training.groups`) does not. With few groups a single split is a lottery,
so small sets are scored by k-fold over groups: every group is validated once, by a model that
never saw it.

Accuracy comes with a 95 % interval. Images of one group are not independent (twins are right or
wrong together), so the interval is a bootstrap over groups: resample whole groups with
replacement and take the 2.5 and 97.5 percentiles of the accuracy. With one image per group it
behaves like the binomial interval; `wilson_interval` is the closed form for that case.
numpy only.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

KFOLD_BELOW_GROUPS = 60  # fewer groups than this: k-fold by group instead of one split
MAX_FOLDS = 5


def group_stratified_split(
    labels: Sequence[int], groups: Sequence[int], val_fraction: float, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """Indices ``(train, val)``: about ``val_fraction`` of each class's groups held out whole.

    A group is assigned to the class most of its images have. Every class with at least two
    groups keeps one for training and puts one into validation; a class of one group trains
    only (it cannot be validated honestly, and the caller warns).
    """
    labels, groups = np.asarray(labels, dtype=np.int64), np.asarray(groups, dtype=np.int64)
    rng = np.random.default_rng(seed)
    val_groups: list[int] = []
    for members in _groups_by_class(labels, groups).values():
        members = list(members)
        rng.shuffle(members)
        if len(members) < 2:
            continue
        n_val = min(max(round(val_fraction * len(members)), 1), len(members) - 1)
        val_groups += members[:n_val]
    is_val = np.isin(groups, val_groups)
    return np.flatnonzero(~is_val), np.flatnonzero(is_val)


def group_kfold(
    labels: Sequence[int], groups: Sequence[int], n_folds: int, seed: int
) -> list[tuple[np.ndarray, np.ndarray]]:
    """``n_folds`` ``(train, val)`` splits; every group is in exactly one validation fold.

    Groups are dealt to folds class by class in a shuffled round robin, so each fold holds a
    share of every class that has enough groups.
    """
    labels, groups = np.asarray(labels, dtype=np.int64), np.asarray(groups, dtype=np.int64)
    rng = np.random.default_rng(seed)
    fold_of: dict[int, int] = {}
    offset = 0
    for members in _groups_by_class(labels, groups).values():
        members = list(members)
        rng.shuffle(members)
        for i, g in enumerate(members):
            fold_of[g] = (offset + i) % n_folds
        offset += len(members)
    folds = []
    assigned = np.array([fold_of[int(g)] for g in groups])
    for k in range(n_folds):
        val = np.flatnonzero(assigned == k)
        if len(val):
            folds.append((np.flatnonzero(assigned != k), val))
    return folds


def choose_folds(labels: Sequence[int], groups: Sequence[int]) -> int:
    """How many folds a set deserves: 1 (a single split) for many groups, else up to 5.

    The fold count never exceeds the groups of the smallest class, so each fold still trains
    on every class.
    """
    labels, groups = np.asarray(labels), np.asarray(groups)
    n_groups = len(set(groups.tolist()))
    if n_groups >= KFOLD_BELOW_GROUPS:
        return 1
    per_class = [len(m) for m in _groups_by_class(labels, groups).values()]
    return max(2, min(MAX_FOLDS, min(per_class) if per_class else 2))


def _groups_by_class(labels: np.ndarray, groups: np.ndarray) -> dict[int, list[int]]:
    """Groups of each class, a group belonging to its majority class; sorted for determinism."""
    by_class: dict[int, list[int]] = {}
    for g in np.unique(groups):
        majority = int(np.bincount(labels[groups == g]).argmax())
        by_class.setdefault(majority, []).append(int(g))
    return dict(sorted(by_class.items()))


def cross_fitted_choice(
    candidates: Sequence[Sequence[np.ndarray]],
    labels: Sequence[int],
    groups: Sequence[int],
    seed: int = 0,
) -> np.ndarray | None:
    """Validation probabilities of a choice that never saw the image it is scored on.

    ``candidates[t][e]`` holds the validation probabilities ``(n, k)`` of run ``t`` (a recipe
    tried) after its epoch ``e``, all over the same ``n`` images. Keeping the most accurate of
    them and quoting its accuracy on the same images reports the best of many noisy scores:
    on a small validation set that is optimistic (measured: 9.7 points above held-out
    patterns, `benchmarks/README.md`). Here the validation groups are split into two halves,
    each class's groups alternately; on each half the (run, epoch) of highest accuracy is
    chosen (the first on a tie) and scored on the other half. Row ``i`` of the result comes
    from the choice made without image ``i``. None when a half would be empty (fewer than
    two validation groups) or nothing was validated.
    """
    labels, groups = np.asarray(labels, dtype=np.int64), np.asarray(groups, dtype=np.int64)
    scored = [p for run in candidates for p in run]
    if len(labels) == 0 or not scored:
        return None
    if any(p.shape[0] != len(labels) for p in scored):
        raise ValueError("every candidate must be scored on the same validation images")
    rng = np.random.default_rng(seed)
    first_half: list[int] = []
    for members in _groups_by_class(labels, groups).values():
        shuffled = [members[i] for i in rng.permutation(len(members))]
        first_half += shuffled[len(first_half) % 2 :: 2]
    in_first = np.isin(groups, first_half)
    if in_first.all() or not in_first.any():
        return None
    stacked = np.stack(scored)  # (choices, n, k)
    right = stacked.argmax(axis=2) == labels
    crossed = np.empty_like(stacked[0])
    for chosen_on in (in_first, ~in_first):
        best = int(np.argmax(right[:, chosen_on].mean(axis=1)))
        crossed[~chosen_on] = stacked[best][~chosen_on]
    return crossed


def wilson_interval(correct: int, total: int, z: float = 1.96) -> tuple[float, float]:
    """95 % Wilson score interval of a proportion (``(0, 1)`` when ``total`` is 0)."""
    if total <= 0:
        return 0.0, 1.0
    p = correct / total
    denominator = 1 + z * z / total
    centre = (p + z * z / (2 * total)) / denominator
    half = z * math.sqrt(p * (1 - p) / total + z * z / (4 * total * total)) / denominator
    return max(0.0, centre - half), min(1.0, centre + half)


def group_bootstrap_interval(
    correct: Sequence[bool], groups: Sequence[int], n_resamples: int = 2000, seed: int = 0
) -> tuple[float, float]:
    """95 % percentile interval of accuracy, resampling whole groups with replacement."""
    correct = np.asarray(correct, dtype=np.float64)
    groups = np.asarray(groups)
    if correct.size == 0:
        return 0.0, 1.0
    unique, index = np.unique(groups, return_inverse=True)
    hits = np.bincount(index, weights=correct, minlength=len(unique))
    sizes = np.bincount(index, minlength=len(unique)).astype(np.float64)
    if len(unique) == 1:
        return wilson_interval(int(hits[0]), int(sizes[0]))
    rng = np.random.default_rng(seed)
    draws = rng.integers(0, len(unique), size=(n_resamples, len(unique)))
    accuracies = hits[draws].sum(1) / sizes[draws].sum(1)
    low, high = np.percentile(accuracies, [2.5, 97.5])
    return float(low), float(high)


@dataclass(frozen=True)
class ValidationReport:
    """How the validation figure was obtained, in plain values for the manifest and the UI.

    Attributes
    ----------
    method
        ``"group k-fold"``, ``"group hold-out"`` or ``"file hold-out"``.
    accuracy, interval
        Validation accuracy and its 95 % interval (bootstrap over groups).
    n_images, n_groups
        Validation images and the distinct groups among them.
    folds
        Number of folds (1 for a single split).
    grouping
        How groups were formed (``"near-duplicates + file-name series"``).
    n_distinct, n_groups_total
        Distinct micrographs and groups in the whole set.
    warnings
        Reasons to trust the figure less.
    """

    method: str
    accuracy: float
    interval: tuple[float, float]
    n_images: int
    n_groups: int
    folds: int
    grouping: str
    n_distinct: int
    n_groups_total: int
    warnings: tuple[str, ...] = ()

    def headline(self) -> str:
        """E.g. ``"61.5 % (95 % CI 42-79 %) on 26 groups, 5-fold by group"``."""
        low, high = self.interval
        how = f"{self.folds}-fold by group" if self.folds > 1 else self.method
        return (
            f"{self.accuracy:.1%} (95 % CI {low:.0%}-{high:.0%}) on {self.n_images} images "
            f"from {self.n_groups} groups, {how}"
        )

    def to_dict(self) -> dict:
        return {
            "method": self.method,
            "accuracy": self.accuracy,
            "ci95": [self.interval[0], self.interval[1]],
            "images": self.n_images,
            "groups": self.n_groups,
            "folds": self.folds,
            "grouping": self.grouping,
            "distinct_micrographs": self.n_distinct,
            "groups_total": self.n_groups_total,
            "warnings": list(self.warnings),
        }
