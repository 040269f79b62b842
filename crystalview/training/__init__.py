"""Fine-tuning: datasets, augmentation, strategies, the training loop, metrics and saving.

The public API used by the wizard (GUI) and ``crystalview train`` (CLI)::

    samples, classes = samples_from_folder(folder)        # or LabelProject.samples()
    config = TrainingConfig(base="diffraction_cnn", strategy="frozen", epochs=20)
    result = run_to_completion(train_model(samples, classes, config, cancel), on_progress)
    path = save_trained_model(result)                     # versioned, never overwrites

No Qt here; torch is imported by the submodules that need it, not by this package's import.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from crystalview.training.config import (
    STRATEGIES,
    STRATEGY_HELP,
    EpochMetrics,
    TrainingConfig,
    TrainingResult,
    ValPrediction,
    default_augmentation,
)

if TYPE_CHECKING:
    from crystalview.training.data import samples_from_folder
    from crystalview.training.loop import train_model
    from crystalview.training.save import model_card, save_trained_model

__all__ = [
    "STRATEGIES",
    "STRATEGY_HELP",
    "EpochMetrics",
    "TrainingConfig",
    "TrainingResult",
    "ValPrediction",
    "default_augmentation",
    "model_card",
    "samples_from_folder",
    "save_trained_model",
    "train_model",
]

_LAZY = {
    "samples_from_folder": "crystalview.training.data",
    "train_model": "crystalview.training.loop",
    "model_card": "crystalview.training.save",
    "save_trained_model": "crystalview.training.save",
}


def __getattr__(name: str):
    """Import the torch-using parts on first use, so the wizard's first page opens fast."""
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'crystalview.training' has no attribute {name!r}")
