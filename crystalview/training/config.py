"""What a training run is asked to do, what it reports each epoch, and what it returns.

These dataclasses are the whole vocabulary the wizard (GUI) and ``crystalview train`` (CLI)
share with the training loop, so they hold plain values only and import no torch.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

STRATEGIES = ("frozen", "last-blocks", "full")
RECOMMENDED = "recommended"  # TrainingConfig.base: choose the recipe for the data

STRATEGY_HELP = {
    "frozen": "Frozen backbone: train only the classifier head. Fastest, needs the fewest images.",
    "last-blocks": "Last blocks: also adapt the last backbone block(s) gently, at a low rate.",
    "full": "Full retraining: adapt every layer. Slowest; needs many images or a similar base.",
}


# Augmentation settings (see `crystalview.training.augment` for what each does). They live here,
# free of torch, so the wizard can show and edit the defaults before anything heavy loads.
DIFFRACTION_AUGMENTATION: dict[str, Any] = {
    "rotation_deg": 180.0,  # random in-plane rotation about the beam centre, up to this angle
    "friedel": True,  # random 180° rotation about the beam centre (I(q) = I(-q))
    "dose": [20.0, 2000.0],  # Poisson noise, counts at the brightest pixel drawn in this range
}
REAL_SPACE_AUGMENTATION: dict[str, Any] = {
    "flips": True,  # random mirror
    "rot90": True,  # random multiple of 90°
    "contrast": 0.2,  # gain in 1 ± 0.2, offset within ± 0.2 standard deviations
    "noise": 0.05,  # Gaussian noise up to 0.05 standard deviations
}
AUGMENTATION_KEYS = frozenset(DIFFRACTION_AUGMENTATION) | frozenset(REAL_SPACE_AUGMENTATION)


def default_augmentation(modality: str | None) -> dict[str, Any]:
    """Default settings for a modality: ``"SAED"`` gets the diffraction set, others real space."""
    if str(modality).upper() == "SAED":
        return dict(DIFFRACTION_AUGMENTATION)
    return dict(REAL_SPACE_AUGMENTATION)


@dataclass
class TrainingConfig:
    """Settings of one fine-tuning run.

    Attributes
    ----------
    base
        An architecture name from ``crystalview.models.registry.ARCHITECTURES`` (a fresh network,
        ImageNet weights when ``pretrained``), a model bundle (name, built-in or path), or
        `RECOMMENDED`: let `crystalview.training.auto.train_recommended` choose base, strategy
        and rates within ``budget_s``.
    strategy
        ``"frozen"`` (head only), ``"last-blocks"`` (head at ``lr`` plus the last
        ``last_blocks`` backbone stages at ``backbone_lr``) or ``"full"`` (everything at ``lr``).
    epochs, batch_size, lr
        The optimiser's schedule (Adam); ``lr`` applies to the head (and to all layers in "full").
    backbone_lr
        Learning rate of the unfrozen stages in "last-blocks"; low, so they adapt without
        forgetting what the base learnt.
    last_blocks
        How many backbone stages "last-blocks" unfreezes (1 or 2 is usual).
    val_split
        Fraction of each class's groups held out for validation (at least one group per class
        with two or more). ``0`` trains on everything for exactly ``epochs`` epochs (after the
        recipe was validated elsewhere, e.g. by `crystalview.training.auto`).
    grouping
        How images are grouped so a group never straddles the split: ``"duplicates"``
        (near-duplicate images; the default), ``"series"`` (also the file-name series),
        ``"folder"`` (also the sub-folder inside each class folder) or ``"none"`` (every file on
        its own: only for data known to be independent, such as simulated patterns).
    group_names
        Optional group name per sample (a CSV column, the wizard's choice); merged with the
        groups of ``grouping``.
    seed
        Makes the split, initialisation, shuffling and augmentation reproducible.
    class_weighting
        Weight the loss by inverse class frequency so a small class is not ignored.
    augmentation
        Augmentation settings (see `crystalview.training.augment.default_augmentation`); ``None``
        picks the defaults of the data's modality, ``{}`` turns augmentation off.
    early_stopping_patience
        Stop after this many epochs without a better validation result; ``None`` never stops.
    pretrained
        For architecture names: start from ImageNet weights (they must be cached or importable).
    input_size, input_mode, modality
        For architecture names only (bundles carry their own): side of the square network input,
        ``"whole"`` (the whole image resized) or ``"tiles"`` (crops at the image's pixel scale),
        and the modality the model is meant for. ``None`` picks per-architecture defaults and the
        data's modality.
    cache_features
        Compute the frozen part of the network once and train on the cached output ("frozen" and
        "last-blocks"); turning it off runs the frozen part every epoch (the slow reference loop).
    cached_views
        Augmented views cached per training image when caching with augmentation on; each epoch
        draws one of them.
    device
        ``"auto"``, ``"cpu"``, ``"cuda"`` or ``"mps"``.
    name
        Name of the trained model (shown in the model list); empty picks one from the base.
    budget_s
        Seconds the recommended choice may spend trying recipes (``None``: its default).
    """

    base: str
    strategy: str = "frozen"
    epochs: int = 20
    batch_size: int = 32
    lr: float = 1e-3
    backbone_lr: float = 1e-5
    last_blocks: int = 1
    val_split: float = 0.2
    grouping: str = "duplicates"
    group_names: list[str | None] | None = None
    seed: int = 0
    class_weighting: bool = True
    augmentation: dict[str, Any] | None = None
    early_stopping_patience: int | None = 10
    pretrained: bool = True
    input_size: int | None = None
    input_mode: str | None = None
    modality: str | None = None
    cache_features: bool = True
    cached_views: int = 4
    device: str = "auto"
    name: str = ""
    budget_s: float | None = None

    def validate(self) -> None:
        """Raise ``ValueError`` with a readable message for impossible settings."""
        if self.strategy not in STRATEGIES:
            raise ValueError(
                f"strategy must be one of {', '.join(STRATEGIES)}, not {self.strategy!r}"
            )
        if self.epochs < 1:
            raise ValueError("epochs must be at least 1")
        if self.batch_size < 1:
            raise ValueError("batch size must be at least 1")
        if not (self.lr > 0 and self.backbone_lr > 0):
            raise ValueError("learning rates must be positive")
        if not 0.0 <= self.val_split < 1.0:
            raise ValueError("the validation split must be between 0 and 1 (e.g. 0.2)")
        if self.grouping not in ("duplicates", "series", "folder", "none"):
            raise ValueError("grouping must be 'duplicates', 'series', 'folder' or 'none'")
        if self.last_blocks < 1:
            raise ValueError("last_blocks must be at least 1")
        if self.input_mode not in (None, "whole", "tiles"):
            raise ValueError("input_mode must be 'whole' or 'tiles'")
        if self.cached_views < 1:
            raise ValueError("cached_views must be at least 1")


@dataclass(frozen=True)
class EpochMetrics:
    """One epoch's figures, yielded as ``Progress.partial`` for the live curves.

    ``validated`` is False when training on every image (the recommended path's final run):
    there is no validation set, so ``val_loss`` and ``val_acc`` are placeholders, not figures.
    """

    epoch: int
    train_loss: float
    train_acc: float
    val_loss: float
    val_acc: float
    seconds: float
    validated: bool = True


@dataclass(frozen=True)
class ValPrediction:
    """One validation image's outcome, for the misclassified gallery.

    ``path`` is ``None`` when the sample was given as an array; ``index`` is its position in the
    ``samples`` list given to `train_model`; ``group`` the near-duplicate (or user) group it was
    held out with.
    """

    path: Path | None
    index: int
    true: int
    predicted: int
    probabilities: list[float]
    group: int = -1

    @property
    def correct(self) -> bool:
        return self.true == self.predicted


@dataclass
class TrainingResult:
    """The trained model (best epoch), its manifest and honest validation figures.

    Attributes
    ----------
    model
        The trained `CrystalNet` (a copy: never the module inference uses), in eval mode, on CPU.
    manifest
        Ready to save: classes, preprocessing, provenance with data summary and metrics.
    history
        One `EpochMetrics` per finished epoch.
    val_accuracy, per_class, confusion_matrix
        Of the best checkpoint on the validation split; ``per_class[name]`` holds
        ``precision``, ``recall`` and ``support``; ``confusion_matrix[true][predicted]``.
    val_predictions
        Every validation image's prediction (filter ``not p.correct`` for the gallery).
    cancelled
        True when the user stopped the run; the model is then the best checkpoint so far.
    best_epoch
        Epoch (1-based) of the kept checkpoint; 0 when no epoch finished.
    train_seconds
        Wall time of the whole run, reading images included.
    class_names
        The model's classes, in output order.
    skipped_files
        ``(path, reason)`` of images that could not be read and were left out.
    validation
        How the validation figure was obtained, with its interval
        (`crystalview.training.validation.ValidationReport`); ``None`` without validation.
    data_summary
        E.g. ``"1,003 images, 26 distinct micrographs"``.
    warnings
        Reasons to trust the model or its validation less, in words for the user.
    epoch_val_probabilities
        The validation probabilities ``(n_val, n_classes)`` after every finished epoch, in the
        order of ``val_predictions``: what a choice among epochs and runs is made from
        (`crystalview.training.validation.cross_fitted_choice`). Empty without validation.
    """

    model: Any
    manifest: Any
    history: list[EpochMetrics]
    val_accuracy: float
    per_class: dict[str, dict[str, float]]
    confusion_matrix: list[list[int]]
    val_predictions: list[ValPrediction]
    cancelled: bool
    best_epoch: int = 0
    train_seconds: float = 0.0
    class_names: list[str] = field(default_factory=list)
    skipped_files: list[tuple[str, str]] = field(default_factory=list)
    validation: Any = None
    data_summary: str = ""
    warnings: list[str] = field(default_factory=list)
    epoch_val_probabilities: list[np.ndarray] = field(default_factory=list)

    @property
    def misclassified(self) -> list[ValPrediction]:
        return [p for p in self.val_predictions if not p.correct]
