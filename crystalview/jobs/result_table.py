"""The classification table: one schema for ``crystalview classify`` and the window's export.

A lab merges CSVs from the terminal and from the window, so both write exactly these columns,
then one ``p_<class>`` column per class. No Qt and no torch here.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from crystalview.inference.predict import ImagePrediction

BASE_COLUMNS = [
    "path",
    "label",
    "confidence",
    "status",
    "n_tiles",
    "model",
    "modality",
    "ood_score",
    "status_reason",
]
"""The leading columns; read ``label`` only where ``status`` is ``ok``."""


def columns(class_names: list[str]) -> list[str]:
    """The header: `BASE_COLUMNS`, then ``p_<class>`` for each class."""
    return BASE_COLUMNS + [f"p_{name}" for name in class_names]


def row(
    path: str | Path, prediction: ImagePrediction, modality: str | None, class_names: list[str]
) -> list[str]:
    """One image's row; a class the prediction's model lacks is left blank."""
    probabilities = [
        f"{prediction.probabilities[name]:.6f}" if name in prediction.probabilities else ""
        for name in class_names
    ]
    return [
        str(path),
        prediction.label,
        f"{prediction.confidence:.6f}",
        prediction.status,
        str(prediction.n_tiles),
        prediction.model_name,
        modality or "",
        "" if prediction.ood_score is None else f"{prediction.ood_score:.4f}",
        prediction.status_reason,
        *probabilities,
    ]
