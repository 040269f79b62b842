"""Validation figures a scientist can judge a model by: accuracy, per-class precision and recall,
and the confusion matrix (numpy only, so the GUI can recompute them from stored predictions)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def confusion_matrix(true: Sequence[int], predicted: Sequence[int], n_classes: int) -> np.ndarray:
    """``(n_classes, n_classes)`` counts, rows the true class, columns the predicted one."""
    matrix = np.zeros((n_classes, n_classes), dtype=np.int64)
    np.add.at(matrix, (np.asarray(true, dtype=np.int64), np.asarray(predicted, dtype=np.int64)), 1)
    return matrix


def per_class_scores(matrix: np.ndarray, class_names: Sequence[str]) -> dict[str, dict[str, float]]:
    """Precision, recall and support of each class from a confusion matrix.

    A class never predicted has precision 0 (not NaN), so the figures stay JSON-friendly and an
    ignored class looks as bad as it is.
    """
    scores: dict[str, dict[str, float]] = {}
    for k, name in enumerate(class_names):
        hits = float(matrix[k, k])
        predicted = float(matrix[:, k].sum())
        support = float(matrix[k, :].sum())
        scores[name] = {
            "precision": hits / predicted if predicted else 0.0,
            "recall": hits / support if support else 0.0,
            "support": int(support),
        }
    return scores


def accuracy(matrix: np.ndarray) -> float:
    """Share of correct predictions; 0 for an empty matrix."""
    total = matrix.sum()
    return float(np.trace(matrix) / total) if total else 0.0
