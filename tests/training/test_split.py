from __future__ import annotations

import numpy as np

from crystalview.training.metrics import accuracy, confusion_matrix, per_class_scores
from crystalview.training.split import class_weights, stratified_split


def test_stratified_split_keeps_class_shares_and_is_reproducible():
    labels = [0] * 50 + [1] * 20 + [2] * 3 + [3]
    train, val = stratified_split(labels, 0.2, seed=1)
    labels_array = np.array(labels)
    assert set(train).isdisjoint(val) and len(train) + len(val) == len(labels)
    assert np.bincount(labels_array[val], minlength=4).tolist() == [10, 4, 1, 0]
    assert np.bincount(labels_array[train], minlength=4).tolist() == [40, 16, 2, 1]
    again = stratified_split(labels, 0.2, seed=1)
    assert np.array_equal(again[1], val)
    assert not np.array_equal(stratified_split(labels, 0.2, seed=2)[1], val)


def test_class_weights_balance_the_loss():
    weights = class_weights([0] * 30 + [1] * 10, 3)
    assert np.allclose(weights, [40 / 60, 40 / 20, 0.0])
    assert np.allclose(class_weights([0, 1, 2], 3), 1.0)


def test_metrics_from_confusion_matrix():
    matrix = confusion_matrix([0, 0, 1, 1, 2], [0, 1, 1, 1, 1], 3)
    assert matrix.tolist() == [[1, 1, 0], [0, 2, 0], [0, 1, 0]]
    assert accuracy(matrix) == 0.6
    scores = per_class_scores(matrix, ["a", "b", "c"])
    assert scores["a"] == {"precision": 1.0, "recall": 0.5, "support": 2}
    assert scores["b"]["precision"] == 0.5 and scores["c"]["precision"] == 0.0
