"""Group-aware splits, k-fold by group and the intervals reported with accuracy."""

from __future__ import annotations

import numpy as np
import pytest

from crystalview.training.validation import (
    choose_folds,
    cross_fitted_choice,
    group_bootstrap_interval,
    group_kfold,
    group_stratified_split,
    wilson_interval,
)


def _data(n_groups=30, per_group=4, n_classes=3, seed=0):
    rng = np.random.default_rng(seed)
    groups = np.repeat(np.arange(n_groups), per_group)
    labels = np.repeat(rng.integers(0, n_classes, n_groups), per_group)
    return labels, groups


def test_group_split_never_straddles_and_covers_every_class():
    labels, groups = _data()
    train, val = group_stratified_split(labels, groups, 0.2, seed=3)
    assert set(groups[train]).isdisjoint(groups[val])
    assert sorted(np.concatenate([train, val]).tolist()) == list(range(len(labels)))
    assert set(labels[val]) == set(labels)
    again = group_stratified_split(labels, groups, 0.2, seed=3)
    assert np.array_equal(again[1], val)


def test_single_group_class_trains_only():
    labels = np.array([0, 0, 0, 1, 1, 1, 1])
    groups = np.array([0, 0, 0, 1, 2, 3, 4])
    train, val = group_stratified_split(labels, groups, 0.5, seed=0)
    assert set(labels[val]) == {1}
    assert {0, 1, 2} <= set(train.tolist())


def test_kfold_validates_every_group_once():
    labels, groups = _data(n_groups=12)
    folds = group_kfold(labels, groups, 4, seed=0)
    seen = np.concatenate([val for _, val in folds])
    assert sorted(seen.tolist()) == list(range(len(labels)))
    for train, val in folds:
        assert set(groups[train]).isdisjoint(groups[val])


def test_fold_count_follows_the_smallest_class():
    labels, groups = _data(n_groups=200)
    assert choose_folds(labels, groups) == 1
    labels = np.array([0] * 3 + [1] * 10)
    assert choose_folds(labels, np.arange(13)) == 3


def test_wilson_interval_known_value():
    low, high = wilson_interval(8, 10)
    assert low == pytest.approx(0.490, abs=2e-3) and high == pytest.approx(0.943, abs=2e-3)
    assert wilson_interval(0, 0) == (0.0, 1.0)


def test_bootstrap_over_groups_is_wider_when_twins_agree():
    """Forty images in four groups are four observations, not forty."""
    rng = np.random.default_rng(0)
    independent = rng.random(40) < 0.7
    grouped = np.repeat(np.array([True, True, True, False]), 10)
    lo_i, hi_i = group_bootstrap_interval(independent, np.arange(40))
    lo_g, hi_g = group_bootstrap_interval(grouped, np.repeat(np.arange(4), 10))
    assert hi_g - lo_g > hi_i - lo_i
    assert lo_g <= 0.75 <= hi_g
    assert group_bootstrap_interval(np.ones(5, bool), np.arange(5)) == (1.0, 1.0)


def _one_hot(predicted: np.ndarray, n_classes: int = 3) -> np.ndarray:
    return np.eye(n_classes, dtype=np.float32)[predicted]


def test_cross_fitting_removes_the_optimism_of_the_best_of_many_noisy_runs():
    """60 runs x 30 epochs of guesses on 120 images: the best scores far above chance on the
    images it was chosen on; scored on the images it was not chosen on, it is at chance."""
    labels, groups = _data(n_groups=60, per_group=2)
    rng = np.random.default_rng(1)
    runs = [[_one_hot(rng.integers(0, 3, len(labels))) for _ in range(30)] for _ in range(60)]
    best_on_same = max(float((p.argmax(1) == labels).mean()) for run in runs for p in run)
    crossed = cross_fitted_choice(runs, labels, groups, seed=0)
    assert crossed.shape == (len(labels), 3)
    assert best_on_same > 0.45  # chance is 1/3
    assert abs(float((crossed.argmax(1) == labels).mean()) - 1 / 3) < 0.08


def test_cross_fitting_keeps_a_run_that_is_truly_better():
    labels, groups = _data(n_groups=30, per_group=2)
    rng = np.random.default_rng(2)
    good = labels.copy()
    wrong = rng.choice(len(labels), 6, replace=False)
    good[wrong] = (good[wrong] + 1) % 3  # right on 90 %
    runs = [[_one_hot(rng.integers(0, 3, len(labels))) for _ in range(5)] for _ in range(4)]
    runs.insert(2, [_one_hot(good)])
    crossed = cross_fitted_choice(runs, labels, groups, seed=0)
    np.testing.assert_array_equal(crossed.argmax(1), good)  # chosen on both halves


def test_cross_fitting_needs_two_groups_and_the_same_images():
    labels = np.array([0, 1, 2, 0])
    one_group = np.zeros(4, dtype=np.int64)
    assert cross_fitted_choice([[_one_hot(labels)]], labels, one_group) is None
    assert cross_fitted_choice([], labels, np.arange(4)) is None
    with pytest.raises(ValueError, match="same validation images"):
        cross_fitted_choice([[_one_hot(labels)], [_one_hot(labels[:3])]], labels, np.arange(4))
