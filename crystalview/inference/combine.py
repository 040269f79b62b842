"""One verdict for a sample from several patterns of it (a folder, a selection in the gallery).

Patterns of one specimen are independent looks at the same crystal structure, so their evidence
adds: the combined class is the one with the largest sum of log-probabilities (the product of
the per-pattern probabilities, renormalised). Patterns the model does not read
(``not-this-kind``) are left out; ``unsure`` ones still count, since a weak answer is evidence
too. The verdict says how many patterns were used and how many of them, on their own, gave the
combined class.

Summed log-probabilities treat the patterns as independent; tilts of one grain are not, so the
combined probability is over-confident. The verdict is therefore ``ok`` only when it also
clears the model's single-pattern threshold *and* a majority of the patterns used agree with it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from crystalview.inference.status import NOT_THIS_KIND, OK, UNSURE

_FLOOR = 1e-6  # one pattern's zero must not veto every other pattern's evidence


@dataclass
class CombinedVerdict:
    """The combined answer of `combine_predictions`.

    ``label`` is empty when no pattern could be used. ``n_agree`` counts the used patterns
    whose own label is ``label``; ``n_unsure`` the used patterns that were unsure on their own.
    """

    label: str
    confidence: float
    probabilities: dict[str, float]
    status: str
    reason: str
    n_patterns: int
    n_used: int
    n_agree: int
    n_unsure: int
    sources: list[str] = field(default_factory=list)


def combine_predictions(
    predictions: Sequence, unsure_below: float, sources: Sequence[str] | None = None
) -> CombinedVerdict:
    """Combine `ImagePrediction`\\ s of one model (same class names) into one verdict.

    Parameters
    ----------
    predictions
        Results of one model on patterns of one sample (`crystalview.inference.predict`).
    unsure_below
        The model's single-pattern threshold (`crystalview.inference.status.unsure_threshold`).
    sources
        Names of the patterns (paths), kept in the verdict.
    """
    predictions = list(predictions)
    names = [str(s) for s in sources] if sources is not None else []
    used = [p for p in predictions if p.status != NOT_THIS_KIND]
    if not used:
        return CombinedVerdict(
            label="",
            confidence=0.0,
            probabilities={},
            status=NOT_THIS_KIND,
            reason=f"none of the {len(predictions)} patterns is the kind this model reads",
            n_patterns=len(predictions),
            n_used=0,
            n_agree=0,
            n_unsure=0,
            sources=names,
        )
    classes = list(used[0].class_names)
    if any(list(p.class_names) != classes for p in used):
        raise ValueError("cannot combine predictions of models with different classes")
    probabilities = np.array([[p.probabilities[c] for c in classes] for p in used])
    total = np.log(np.maximum(probabilities, _FLOOR)).sum(axis=0)
    combined = np.exp(total - total.max())
    combined /= combined.sum()
    best = int(np.argmax(combined))
    label = classes[best]
    n_agree = sum(p.label == label for p in used)
    n_unsure = sum(p.status == UNSURE for p in used)
    left_out = len(predictions) - len(used)
    summary = f"{n_agree} of {len(used)} patterns agree"
    if left_out:
        summary += f"; {left_out} not-this-kind left out"
    if combined[best] < unsure_below:
        status, reason = UNSURE, f"{summary}; combined probability {combined[best]:.2f} is low"
    elif 2 * n_agree <= len(used):
        status, reason = UNSURE, f"{summary}: no majority for {label}"
    else:
        status, reason = OK, summary
    return CombinedVerdict(
        label=label,
        confidence=float(combined[best]),
        probabilities={c: float(v) for c, v in zip(classes, combined, strict=True)},
        status=status,
        reason=reason,
        n_patterns=len(predictions),
        n_used=len(used),
        n_agree=n_agree,
        n_unsure=n_unsure,
        sources=names,
    )
