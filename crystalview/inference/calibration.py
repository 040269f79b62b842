"""Calibrated probabilities, an "unsure" threshold and an out-of-distribution score for a model.

A network trained with cross-entropy is usually over-confident: "0.9" is right less than nine
times in ten. Temperature scaling (Guo et al. 2017) divides the logits by one number fitted on a
calibration split, which fixes most of that without changing any answer. From the calibrated
confidences of the same split we choose the lowest threshold at which the answers kept are right
at least ``target_precision`` of the time; below it a result is ``unsure``.

The out-of-distribution score is the Mahalanobis distance of the pooled last feature map,
scaled to unit length, to the nearest class mean under the shared within-class covariance
(Lee et al. 2018), truncated to its leading principal axes (a few kB in the manifest) plus the
residual energy outside them. An image whose score lies far above what the calibration split
produced is not the kind the model was trained on. Unit length matters: measured on the
zone-lattice model, a threshold at the calibration split's 99 % quantile caught 75 % of ring
patterns and 76 % of generated wrong-kind images with it, 43 % and 22 % without (1 % of its
own held-out patterns flagged either way). On the ring model no feature score tried
(Mahalanobis, energy, maximum logit, k nearest neighbours) caught more than 10 %: its features
come from an azimuthal average, in which noise and textures look like faint ring patterns; the
image look of `crystalview.inference.image_kind` carries that model.

Everything here is numpy/scipy only and stores into plain JSON (the manifest's
``"calibration"`` key), so the model list can read it without torch.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
from scipy.optimize import minimize_scalar
from scipy.special import log_softmax

DEFAULT_TARGET_PRECISION = 0.98
# Below this uncalibrated top probability a model without calibration answers "unsure": the
# issue measured 41 % right below 0.6 for the shipped ring model, 97 % above 0.9.
UNCALIBRATED_UNSURE_BELOW = 0.6
ECE_BINS = 15
MIN_OK_ANSWERS = 20
OOD_AXES = 32
OOD_QUANTILE = 0.995
# The threshold sits this far above the calibration split's 99.5 % quantile: real patterns of
# the right kind are further from the simulator than its own held-out draws are.
OOD_MARGIN = 1.2
_TEMPERATURE_RANGE = (0.05, 20.0)


def softmax(logits: np.ndarray, temperature: float = 1.0) -> np.ndarray:
    """Row-wise softmax of ``logits / temperature`` (float64, numerically stable)."""
    return np.exp(log_softmax(np.asarray(logits, dtype=np.float64) / temperature, axis=1))


def negative_log_likelihood(logits: np.ndarray, labels: np.ndarray, temperature: float) -> float:
    """Mean cross-entropy of the labels under ``softmax(logits / temperature)``."""
    logp = log_softmax(np.asarray(logits, dtype=np.float64) / temperature, axis=1)
    return float(-logp[np.arange(len(labels)), labels].mean())


def fit_temperature(logits: np.ndarray, labels: np.ndarray) -> float:
    """The temperature that minimises the negative log-likelihood (searched in log T)."""
    low, high = (math.log(v) for v in _TEMPERATURE_RANGE)
    result = minimize_scalar(
        lambda log_t: negative_log_likelihood(logits, labels, math.exp(log_t)),
        bounds=(low, high),
        method="bounded",
        options={"xatol": 1e-4},
    )
    return float(math.exp(result.x))


def expected_calibration_error(
    probabilities: np.ndarray, labels: np.ndarray, n_bins: int = ECE_BINS
) -> float:
    """Expected calibration error of the top-1 confidence, ``n_bins`` equal-width bins.

    The mean over samples of ``|accuracy(bin) - mean confidence(bin)|`` of the bin each sample's
    top probability falls in: 0 for perfectly calibrated answers.
    """
    probabilities = np.asarray(probabilities, dtype=np.float64)
    if len(probabilities) == 0:
        return 0.0
    confidence = probabilities.max(axis=1)
    correct = probabilities.argmax(axis=1) == np.asarray(labels)
    bins = np.minimum((confidence * n_bins).astype(int), n_bins - 1)
    error = 0.0
    for b in np.unique(bins):
        inside = bins == b
        error += inside.sum() * abs(correct[inside].mean() - confidence[inside].mean())
    return float(error / len(confidence))


def accuracy_coverage_curve(
    confidence: np.ndarray, correct: np.ndarray, n_points: int = 20
) -> list[list[float]]:
    """Rows ``[threshold, coverage, accuracy]``: keeping only answers at or above ``threshold``
    answers ``coverage`` of the images, and ``accuracy`` of those are right.

    Points are evenly spaced in coverage (``1/n_points`` … 1), most confident answers first.
    """
    confidence = np.asarray(confidence, dtype=np.float64)
    correct = np.asarray(correct, dtype=bool)
    n = len(confidence)
    if n == 0:
        return []
    order = np.argsort(-confidence, kind="stable")
    running = np.cumsum(correct[order]) / np.arange(1, n + 1)
    rows = []
    for step in range(1, n_points + 1):
        kept = max(1, round(n * step / n_points))
        rows.append([float(confidence[order][kept - 1]), kept / n, float(running[kept - 1])])
    return rows


def choose_threshold(
    confidence: np.ndarray, correct: np.ndarray, target_precision: float
) -> tuple[float, float, float]:
    """``(threshold, coverage, accuracy)``: the largest set of most-confident answers whose
    accuracy is at least ``target_precision`` (and at least `MIN_OK_ANSWERS` answers).

    The threshold is the lowest confidence kept. When no such set exists the threshold is above
    every confidence (1.0 + tiny): every answer is unsure.
    """
    confidence = np.asarray(confidence, dtype=np.float64)
    correct = np.asarray(correct, dtype=bool)
    n = len(confidence)
    order = np.argsort(-confidence, kind="stable")
    sorted_conf = confidence[order]
    running = np.cumsum(correct[order]) / np.arange(1, n + 1)
    # A threshold cannot split tied confidences: only the last of each run of ties counts.
    last_of_tie = np.append(sorted_conf[1:] < sorted_conf[:-1], True)
    good = np.flatnonzero((running >= target_precision) & last_of_tie)
    good = good[good + 1 >= min(MIN_OK_ANSWERS, n)]
    if good.size == 0:
        return 1.0 + 1e-9, 0.0, float("nan")
    kept = int(good.max()) + 1
    return float(sorted_conf[kept - 1]), kept / n, float(running[kept - 1])


@dataclass
class OutOfDistribution:
    """Shared-covariance Mahalanobis distance to the nearest class, on ``d`` principal axes.

    ``components`` (d x C) are the leading axes of the within-class scatter of the pooled
    features, ``scales`` their standard deviations; ``residual_scale`` is the mean squared norm
    of what lies outside them. ``score`` is about ``d + 1`` for a typical training-like image.
    """

    class_means: list[list[float]]
    components: list[list[float]]
    scales: list[float]
    residual_scale: float
    threshold: float
    quantiles: dict[str, float] = field(default_factory=dict)
    method: str = "mahalanobis_unit_pca"

    def score(self, features: np.ndarray) -> np.ndarray:
        """Score of every row of ``features`` (n, C); larger is further from the training data."""
        f = unit_rows(features)
        means = np.asarray(self.class_means)
        axes = np.asarray(self.components)
        scales = np.asarray(self.scales)
        diff = f[:, None, :] - means[None, :, :]  # (n, k, C)
        projected = diff @ axes.T  # (n, k, d)
        inside = ((projected / scales) ** 2).sum(axis=2)
        residual = (diff**2).sum(axis=2) - (projected**2).sum(axis=2)
        total = inside + np.maximum(residual, 0.0) / self.residual_scale
        return total.min(axis=1)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> OutOfDistribution:
        return cls(**data)


def fit_out_of_distribution(
    features: np.ndarray,
    labels: np.ndarray,
    n_classes: int,
    axes: int = OOD_AXES,
    quantile: float = OOD_QUANTILE,
    margin: float = OOD_MARGIN,
) -> OutOfDistribution:
    """Class means and the leading axes of the within-class scatter of unit ``features``."""
    f = unit_rows(features)
    labels = np.asarray(labels)
    means = np.stack(
        [
            f[labels == c].mean(axis=0) if np.any(labels == c) else f.mean(axis=0)
            for c in range(n_classes)
        ]
    )
    within = f - means[labels]
    _, singular, vt = np.linalg.svd(within, full_matrices=False)
    d = int(min(axes, vt.shape[0], max(1, len(f) - n_classes)))
    variances = singular[:d] ** 2 / max(1, len(f) - n_classes)
    floor = max(float(variances[0]) * 1e-6, 1e-12)
    scales = np.sqrt(np.maximum(variances, floor))
    components = vt[:d]
    projected = within @ components.T
    residual = (within**2).sum(axis=1) - (projected**2).sum(axis=1)
    residual_scale = max(float(np.maximum(residual, 0).mean()), floor)
    model = OutOfDistribution(
        class_means=_rounded(means),
        components=_rounded(components),
        scales=_rounded(scales),
        residual_scale=float(residual_scale),
        threshold=0.0,
    )
    scores = model.score(f)
    levels = (0.5, 0.95, 0.99, 0.995)
    model.quantiles = {str(q): float(np.quantile(scores, q)) for q in levels}
    model.threshold = float(np.quantile(scores, quantile) * margin)
    return model


def unit_rows(features: np.ndarray) -> np.ndarray:
    """Rows of ``features`` (n, C) scaled to unit length (float64)."""
    f = np.atleast_2d(np.asarray(features, dtype=np.float64))
    return f / np.maximum(np.linalg.norm(f, axis=1, keepdims=True), 1e-12)


def _rounded(values: np.ndarray) -> list:
    """Seven significant digits: ample for a distance, half the JSON of full precision."""
    return np.vectorize(lambda v: float(f"{v:.7g}"))(np.asarray(values, dtype=np.float64)).tolist()


@dataclass
class Calibration:
    """What a model's manifest stores under ``"calibration"`` (see the module docstring)."""

    temperature: float
    unsure_below: float
    target_precision: float
    coverage: float
    ok_accuracy: float | None
    accuracy: float
    ece_before: float
    ece_after: float
    nll_before: float
    nll_after: float
    n: int
    curve: list[list[float]]
    split: str = ""
    ood: OutOfDistribution | None = None

    def probabilities(self, logits: np.ndarray) -> np.ndarray:
        """Calibrated probabilities ``softmax(logits / temperature)``."""
        return softmax(logits, self.temperature)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["ood"] = self.ood.to_dict() if self.ood is not None else None
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Calibration:
        values = dict(data)
        ood = values.pop("ood", None)
        return cls(**values, ood=OutOfDistribution.from_dict(ood) if ood else None)


def fit_calibration(
    logits: np.ndarray,
    labels: np.ndarray,
    features: np.ndarray | None = None,
    *,
    target_precision: float = DEFAULT_TARGET_PRECISION,
    split: str = "",
) -> Calibration:
    """Fit temperature, unsure threshold and (with ``features``) the OOD score on one split.

    Parameters
    ----------
    logits
        ``(n, k)`` raw network outputs (before softmax) of the calibration split.
    labels
        ``(n,)`` true class indices.
    features
        ``(n, C)`` pooled last feature maps (`crystalview.inference.outputs.model_outputs`),
        or None to store no OOD score.
    target_precision
        Accuracy asked of ``ok`` answers.
    split
        Free text saying how the calibration split was made (stored in the manifest).
    """
    logits = np.asarray(logits, dtype=np.float64)
    labels = np.asarray(labels, dtype=np.int64)
    if logits.ndim != 2 or len(logits) != len(labels) or len(labels) < 2:
        raise ValueError(f"need (n, k) logits and n labels, got {logits.shape}, {labels.shape}")
    temperature = fit_temperature(logits, labels)
    before, after = softmax(logits), softmax(logits, temperature)
    confidence = after.max(axis=1)
    correct = after.argmax(axis=1) == labels
    threshold, coverage, ok_accuracy = choose_threshold(confidence, correct, target_precision)
    ood = None
    if features is not None:
        ood = fit_out_of_distribution(features, labels, logits.shape[1])
    return Calibration(
        temperature=temperature,
        unsure_below=threshold,
        target_precision=target_precision,
        coverage=coverage,
        ok_accuracy=None if math.isnan(ok_accuracy) else ok_accuracy,
        accuracy=float(correct.mean()),
        ece_before=expected_calibration_error(before, labels),
        ece_after=expected_calibration_error(after, labels),
        nll_before=negative_log_likelihood(logits, labels, 1.0),
        nll_after=negative_log_likelihood(logits, labels, temperature),
        n=len(labels),
        curve=accuracy_coverage_curve(confidence, correct),
        split=split,
        ood=ood,
    )


def evaluate_calibration(
    calibration: Calibration,
    logits: np.ndarray,
    labels: np.ndarray,
    features: np.ndarray | None = None,
    not_this_kind: np.ndarray | None = None,
    look_unsure: np.ndarray | None = None,
) -> dict[str, Any]:
    """The calibration's numbers measured on another split (held-out, independent generator).

    Returns ``accuracy``, ``ece_before``, ``ece_after``, ``coverage`` and ``ok_accuracy`` at the
    stored threshold, the ``curve`` and ``n``. With features, ``ood_flagged`` is the fraction
    whose OOD score exceeds the threshold; with ``not_this_kind`` (a mask of the patterns the
    image look or the file's modality would flag, as `crystalview.inference.status` does),
    ``look_flagged`` is its mean. These patterns are all of the right kind, so both should be
    small; an answer flagged either way is not ``ok``, so coverage counts what a user sees.
    ``look_unsure`` masks the answers the status holds `unsure` whatever their probability
    (`crystalview.inference.status.kind_doubt`); ``look_unsure`` in the result is its mean.
    """
    logits = np.asarray(logits, dtype=np.float64)
    labels = np.asarray(labels, dtype=np.int64)
    after = calibration.probabilities(logits)
    confidence = after.max(axis=1)
    correct = after.argmax(axis=1) == labels
    ok = confidence >= calibration.unsure_below
    result: dict[str, Any] = {
        "n": len(labels),
        "accuracy": float(correct.mean()),
        "ece_before": expected_calibration_error(softmax(logits), labels),
        "ece_after": expected_calibration_error(after, labels),
        "curve": accuracy_coverage_curve(confidence, correct),
    }
    if features is not None and calibration.ood is not None:
        flagged = calibration.ood.score(features) > calibration.ood.threshold
        result["ood_flagged"] = float(flagged.mean())
        ok &= ~flagged
    if not_this_kind is not None:
        flagged = np.asarray(not_this_kind, dtype=bool)
        result["look_flagged"] = float(flagged.mean())
        ok &= ~flagged
    if look_unsure is not None:
        doubted = np.asarray(look_unsure, dtype=bool)
        result["look_unsure"] = float(doubted.mean())
        ok &= ~doubted
    result["coverage"] = float(ok.mean())
    result["ok_accuracy"] = float(correct[ok].mean()) if ok.any() else None
    return result


def coverage_at_precision(curve: list[list[float]], precision: float) -> float:
    """Largest coverage of ``curve`` whose accuracy reaches ``precision`` (0 when none)."""
    reached = [coverage for _, coverage, accuracy in curve if accuracy >= precision]
    return max(reached, default=0.0)


def calibration_card_lines(
    calibration: Calibration, evaluations: dict[str, dict[str, Any]] | None = None
) -> list[str]:
    """Markdown for a model card: temperature, ECE, threshold, coverage, the curve, OOD."""
    c = calibration
    ok = "n/a" if c.ok_accuracy is None else f"{100 * c.ok_accuracy:.1f} %"
    lines = [
        "## Calibration and unsure answers",
        f"- Calibration split: {c.split or 'not recorded'} ({c.n} patterns).",
        f"- Temperature {c.temperature:.3f}: expected calibration error "
        f"{100 * c.ece_before:.1f} % -> {100 * c.ece_after:.1f} % ({ECE_BINS} bins), "
        f"negative log-likelihood {c.nll_before:.3f} -> {c.nll_after:.3f}.",
        f"- `unsure` below a calibrated top probability of {c.unsure_below:.3f}, chosen so that "
        f"`ok` answers are right >= {100 * c.target_precision:.0f} % of the time: on the "
        f"calibration split {100 * c.coverage:.1f} % of patterns are `ok`, {ok} of them right.",
    ]
    for name, ev in (evaluations or {}).items():
        ok_acc = "n/a" if ev.get("ok_accuracy") is None else f"{100 * ev['ok_accuracy']:.1f} %"
        line = (
            f"- {name} ({ev['n']} patterns): accuracy {100 * ev['accuracy']:.1f} %, ECE "
            f"{100 * ev['ece_before']:.1f} % -> {100 * ev['ece_after']:.1f} %, `ok` "
            f"{100 * ev['coverage']:.1f} % of patterns, {ok_acc} of them right"
        )
        if "ood_flagged" in ev:
            line += f", flagged out-of-distribution {100 * ev['ood_flagged']:.1f} %"
        if "look_flagged" in ev:
            line += f", flagged not-this-kind by the image look {100 * ev['look_flagged']:.1f} %"
        if ev.get("look_unsure"):
            line += (
                f", held `unsure` by the look (no spot net in a pattern it could not place) "
                f"{100 * ev['look_unsure']:.1f} %"
            )
        lines.append(line + ".")
    if c.ood is not None:
        lines.append(
            f"- Out-of-distribution score: Mahalanobis distance of the pooled features (unit "
            f"length) to the "
            f"nearest class ({len(c.ood.scales)} principal axes + residual); `not-this-kind` "
            f"above {c.ood.threshold:.1f} ({OOD_MARGIN:g} x the calibration split's "
            f"{100 * OOD_QUANTILE:.1f} % quantile {c.ood.quantiles.get(str(OOD_QUANTILE), 0):.1f})."
        )
    lines += [
        "",
        "Accuracy against coverage (calibration split; answers with the highest calibrated "
        "confidence first):",
        "",
        "| coverage | accuracy | confidence at least |",
        "|---|---|---|",
    ]
    lines += [
        f"| {100 * coverage:.0f} % | {100 * accuracy:.1f} % | {threshold:.3f} |"
        for threshold, coverage, accuracy in c.curve
    ]
    return [*lines, ""]
