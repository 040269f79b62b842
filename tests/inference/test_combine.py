"""One verdict from several patterns of a sample: summed log-probabilities, agreement count."""

from __future__ import annotations

import numpy as np
import pytest

from crystalview.inference.combine import combine_predictions
from crystalview.inference.predict import ImagePrediction

CLASSES = ["cubic", "hexagonal", "orthorhombic"]


def prediction(probabilities, status="ok") -> ImagePrediction:
    values = np.asarray(probabilities, dtype=float)
    best = int(values.argmax())
    return ImagePrediction(
        label=CLASSES[best],
        confidence=float(values[best]),
        probabilities=dict(zip(CLASSES, values.tolist(), strict=True)),
        class_names=list(CLASSES),
        n_tiles=1,
        tile_boxes=np.zeros((1, 4), dtype=np.int64),
        tile_probabilities=values[None],
        probability_map=None,
        device="cpu",
        model_name="m",
        status=status,
    )


def test_the_sum_of_log_probabilities_decides_and_agreement_is_counted():
    patterns = [
        prediction([0.5, 0.3, 0.2], "unsure"),
        prediction([0.45, 0.1, 0.45], "unsure"),
        prediction([0.2, 0.7, 0.1]),
    ]
    verdict = combine_predictions(patterns, unsure_below=0.6, sources=["a", "b", "c"])
    logs = np.log([[0.5, 0.3, 0.2], [0.45, 0.1, 0.45], [0.2, 0.7, 0.1]]).sum(axis=0)
    expected = np.exp(logs - logs.max()) / np.exp(logs - logs.max()).sum()
    assert verdict.label == CLASSES[int(np.argmax(expected))] == "cubic"
    assert verdict.confidence == pytest.approx(expected.max())
    assert sum(verdict.probabilities.values()) == pytest.approx(1.0)
    assert (verdict.n_patterns, verdict.n_used, verdict.n_agree, verdict.n_unsure) == (3, 3, 2, 2)
    assert verdict.sources == ["a", "b", "c"]


def test_several_weak_agreeing_patterns_make_a_confident_verdict():
    patterns = [prediction([0.55, 0.25, 0.2], "unsure") for _ in range(5)]
    verdict = combine_predictions(patterns, unsure_below=0.8)
    assert verdict.label == "cubic" and verdict.confidence > 0.95
    assert verdict.status == "ok" and verdict.n_agree == 5


def test_not_this_kind_patterns_are_left_out():
    patterns = [prediction([0.1, 0.1, 0.8]), prediction([0.9, 0.05, 0.05], "not-this-kind")]
    verdict = combine_predictions(patterns, unsure_below=0.6)
    assert verdict.label == "orthorhombic" and verdict.n_used == 1 and verdict.n_patterns == 2
    assert "1 not-this-kind left out" in verdict.reason


def test_only_wrong_kind_patterns_give_no_verdict():
    verdict = combine_predictions([prediction([0.9, 0.05, 0.05], "not-this-kind")], 0.6)
    assert verdict.status == "not-this-kind" and verdict.label == "" and verdict.n_used == 0


def test_a_verdict_without_a_majority_is_unsure():
    patterns = [
        prediction([0.98, 0.01, 0.01]),
        prediction([0.3, 0.4, 0.3]),
        prediction([0.3, 0.3, 0.4]),
    ]
    verdict = combine_predictions(patterns, unsure_below=0.6)
    assert verdict.label == "cubic" and verdict.n_agree == 1
    assert verdict.status == "unsure" and "no majority" in verdict.reason


def test_predictions_of_different_models_are_refused():
    other = prediction([0.5, 0.3, 0.2])
    other.class_names = ["a", "b", "c"]
    with pytest.raises(ValueError, match="different classes"):
        combine_predictions([prediction([0.5, 0.3, 0.2]), other], 0.6)
