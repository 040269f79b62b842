"""The training loop, as a generator the CLI and the wizard's worker both drive.

``train_model`` yields a `Progress` after every batch (so cancel acts within a second) and one
with ``partial=EpochMetrics`` after every epoch (for the live curves), and returns a
`TrainingResult` holding the best checkpoint. Cancelling keeps the best checkpoint so far and
still returns a complete, usable result with ``cancelled=True``; cancelling before training
starts (while images are read or frozen features computed) raises `Cancelled` instead, as there
is nothing to keep yet.

The best checkpoint is the epoch with the highest validation accuracy, ties going to the lower
validation loss; early stopping counts epochs since it last improved. The training loss is
class-weighted when ``class_weighting`` is on; the validation loss never is, so it stays
comparable between runs. The run seeds torch's global generator with ``config.seed`` (dropout
draws from it) and uses its own generator for shuffling and augmentation.
"""

from __future__ import annotations

import dataclasses
import functools
import time
from collections.abc import Generator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from crystalview import __version__
from crystalview.core.errors import CrystalViewError
from crystalview.core.progress import CancelToken, Progress, relay
from crystalview.training.augment import (
    augment_batch,
    check_augmentation,
    default_augmentation,
    is_active,
)
from crystalview.training.base import StartingPoint, resolve_base
from crystalview.training.config import EpochMetrics, TrainingConfig, TrainingResult, ValPrediction
from crystalview.training.data import PreparedData, Sample, prepare_inputs
from crystalview.training.features import NetworkSplit, compute_front, find_split
from crystalview.training.groups import (
    Grouping,
    group_samples,
    grouping_warnings,
    user_group_names,
)
from crystalview.training.metrics import accuracy, confusion_matrix, per_class_scores
from crystalview.training.split import class_weights, stratified_split
from crystalview.training.strategies import (
    StrategyPlan,
    plan_strategy,
    set_training_mode,
    unfreeze_all,
)
from crystalview.training.validation import ValidationReport, group_bootstrap_interval

SHRINK_WARNING = 4.0  # whole images reduced by more than this lose the texture that matters


@dataclass
class _Batches:
    """Where training batches come from: cached front outputs, or raw inputs through the model.

    ``train`` is ``(n, V, ...)``: V views per training image (cached views, or crops).
    """

    train: torch.Tensor
    val: torch.Tensor
    forward: Any
    augment: dict[str, Any] | None
    view: str = "none"


def _batch_indices(order: torch.Tensor, batch_size: int) -> list[torch.Tensor]:
    """Split a permutation into batches, never leaving a last batch of one image.

    Batch norm cannot normalise a single image, so a lone last image joins the batch before it.
    """
    batches = list(torch.split(order, batch_size))
    if len(batches) > 1 and len(batches[-1]) == 1:
        batches[-2] = torch.cat([batches[-2], batches.pop()])
    return batches


def _state_copy(model: torch.nn.Module, frozen: list[torch.nn.Module]) -> dict[str, torch.Tensor]:
    """A CPU copy of what training changes; frozen stages never change, so they are skipped.

    Copying a whole ResNet every time validation improves would cost more than training its
    head on cached features.
    """
    fixed = {id(t) for module in frozen for t in (*module.parameters(), *module.buffers())}
    state = model.state_dict(keep_vars=True)
    return {k: v.detach().to("cpu", copy=True) for k, v in state.items() if id(v) not in fixed}


def train_model(
    samples: Sequence[Sample],
    class_names: Sequence[str],
    config: TrainingConfig,
    cancel: CancelToken | None = None,
    prepared: PreparedData | None = None,
) -> Generator[Progress, None, TrainingResult]:
    """Fine-tune ``config.base`` on ``samples`` and return the best checkpoint with its figures.

    Parameters
    ----------
    samples
        ``(path or 2-D array, class index)`` pairs; paths are read with ``crystalview.io``.
    class_names
        Names of the class indices, in order; they become the model's classes.
    config
        The run's settings (`TrainingConfig`).
    cancel
        Polled after every batch; cancelling ends the run early with the best checkpoint so far.
    prepared
        Inputs already read by `prepare_inputs` for this base's manifest (the automatic choice
        tries several recipes on one reading); ``None`` reads ``samples``.

    Yields
    ------
    Progress
        While reading images (``done``/``total`` count images), while computing cached
        features (rows), then after every training batch (``done``/``total`` count batches
        of the whole run) and after every epoch with ``partial`` an `EpochMetrics`.

    Raises
    ------
    Cancelled
        Cancelled before the first training batch.
    CrystalViewError
        Unknown base model, unavailable ImageNet weights, or too few readable images per class.
    """
    started = time.perf_counter()
    config.validate()
    cancel = cancel if cancel is not None else CancelToken()
    names = list(class_names)
    if len(names) < 2:
        raise CrystalViewError("Training needs at least two classes.")
    torch.manual_seed(config.seed)

    from crystalview.inference.device import select_device

    device = select_device(config.device)
    start = resolve_base(config, names, samples)
    if prepared is None:
        prepared = yield from prepare_inputs(samples, start.manifest, config.seed, cancel)
    data: PreparedData = prepared
    _check_classes(data, names)
    groups = _group_and_split(data, start, config, names)
    fit = yield from _prepare_fit(start, data, groups, len(names), config, device, cancel)

    history: list[EpochMetrics] = []
    epoch_probabilities: list[np.ndarray] = []
    best = _Checkpoint()
    cancelled = False
    patience = config.early_stopping_patience
    for epoch in range(1, config.epochs + 1):
        outcome = yield from _train_epoch(fit, epoch, cancel)
        if outcome is None:
            cancelled = True
            break
        metrics, val_probabilities = outcome
        history.append(metrics)
        if metrics.validated:
            epoch_probabilities.append(val_probabilities)
        best.offer(metrics, fit)
        yield Progress(
            epoch * fit.per_epoch,
            fit.total,
            f"Epoch {epoch}/{config.epochs}: train loss {metrics.train_loss:.3f}, "
            + (
                f"validation accuracy {metrics.val_acc:.1%}"
                if metrics.validated
                else "no validation"  # the run's own label says it trains on all images
            ),
            partial=metrics,
        )
        if fit.has_val and patience is not None and best.stale >= patience:
            break

    probabilities = yield from _keep_best(fit, best, len(names))
    run = _RunRecord(
        history,
        best.epoch,
        cancelled,
        fit.augmentation,
        time.perf_counter() - started,
        epoch_probabilities,
    )
    split = (groups.train_idx, groups.val_idx)
    return _result(fit.model, start, config, data, names, split, probabilities, run, groups)


@dataclass
class _Fit:
    """What every epoch works on: the model, its optimiser and where its batches come from."""

    model: torch.nn.Module
    plan: StrategyPlan
    batches: _Batches
    optimizer: torch.optim.Optimizer
    weights: torch.Tensor | None  # class weights of the training loss, or None
    train_labels: torch.Tensor
    val_labels: torch.Tensor
    generator: torch.Generator  # shuffling, view choice and augmentation
    device: torch.device
    augmentation: dict[str, Any]
    batch_size: int
    epochs: int

    @property
    def n_train(self) -> int:
        return len(self.train_labels)

    @property
    def has_val(self) -> bool:
        return len(self.val_labels) > 0

    @functools.cached_property
    def per_epoch(self) -> int:
        return len(_batch_indices(torch.arange(self.n_train), self.batch_size))

    @property
    def total(self) -> int:
        return self.epochs * self.per_epoch


def _group_and_split(
    data: PreparedData, start: StartingPoint, config: TrainingConfig, names: list[str]
) -> _GroupRecord:
    """Group the images, gather the data warnings and split train from validation."""
    grouping = group_samples(
        data.paths,
        data.labels,
        data.fingerprints,
        config.grouping,
        None if config.group_names is None else [config.group_names[i] for i in data.sources],
    )
    warnings = data_warnings(data, grouping, names)
    if config.strategy == "frozen" and start.provenance.get("pretrained") is False:
        warnings.insert(
            0,
            f"{start.provenance['base']} has random weights and the strategy is 'frozen': only "
            "the last layer learns, on random features. Use 'full', or a pretrained base.",
        )
    train_idx, val_idx, method = _split(data, grouping, config, warnings)
    return _GroupRecord(grouping, method, warnings, train_idx, val_idx)


def _prepare_fit(
    start: StartingPoint,
    data: PreparedData,
    groups: _GroupRecord,
    n_classes: int,
    config: TrainingConfig,
    device: torch.device,
    cancel: CancelToken,
) -> Generator[Progress, None, _Fit]:
    """Plan the strategy, move the model and labels to ``device``, cache the frozen front.

    Yields the cached-feature progress (rows) when the frozen front is cached.
    """
    model, manifest = start.model, start.manifest
    generator = torch.Generator().manual_seed(config.seed)
    augmentation = (
        default_augmentation(manifest.modality)
        if config.augmentation is None
        else check_augmentation(dict(config.augmentation))
    )
    train_idx, val_idx = groups.train_idx, groups.val_idx
    model.to(device)
    plan = plan_strategy(model, config.strategy, config.lr, config.backbone_lr, config.last_blocks)
    views = torch.from_numpy(data.views)
    labels = torch.from_numpy(data.labels).to(device)
    raw_train = views[train_idx]  # (n_train, K, C, S, S)
    raw_val = views[val_idx, 0]

    split = None
    if config.cache_features and plan.frozen:
        model.eval()
        split = find_split(model, plan, raw_train[:2, 0].to(device))
    if split is not None:
        batches = yield from _cache(
            split,
            raw_train,
            raw_val,
            augmentation,
            config,
            generator,
            device,
            cancel,
            view=manifest.transform,
        )
    else:
        batches = _Batches(
            raw_train,
            raw_val,
            model,
            augmentation if is_active(augmentation) else None,
            view=manifest.transform,
        )

    weights = None
    if config.class_weighting:
        weights = torch.from_numpy(class_weights(data.labels[train_idx], n_classes)).to(device)
    return _Fit(
        model=model,
        plan=plan,
        batches=batches,
        optimizer=torch.optim.Adam(plan.param_groups),
        weights=weights,
        train_labels=labels[train_idx],
        val_labels=labels[val_idx],
        generator=generator,
        device=device,
        augmentation=augmentation,
        batch_size=config.batch_size,
        epochs=config.epochs,
    )


def _train_epoch(
    fit: _Fit, epoch: int, cancel: CancelToken
) -> Generator[Progress, None, tuple[EpochMetrics, np.ndarray] | None]:
    """One epoch: a pass over the shuffled training set, then validation.

    Yields a `Progress` after every batch; returns the epoch's figures and its validation
    probabilities (no rows without validation), or ``None`` when cancelled part-way (the epoch
    then counts for nothing).
    """
    epoch_start = time.perf_counter()
    set_training_mode(fit.model, fit.plan)
    n_train, n_views = fit.n_train, fit.batches.train.shape[1]
    order = torch.randperm(n_train, generator=fit.generator)
    view_of = (
        torch.randint(0, n_views, (n_train,), generator=fit.generator)
        if n_views > 1
        else torch.zeros(n_train, dtype=torch.long)
    )
    loss_sum, correct = 0.0, 0
    for b, idx in enumerate(_batch_indices(order, fit.batch_size)):
        if cancel.cancelled:
            return None
        loss, hits = _train_step(fit, idx, view_of[idx])
        loss_sum += loss * len(idx)
        correct += hits
        done = (epoch - 1) * fit.per_epoch + b + 1
        yield Progress(
            done, fit.total, f"Epoch {epoch}/{fit.epochs}, batch {b + 1}/{fit.per_epoch}"
        )
    val_loss, val_acc = 0.0, 0.0  # training on everything: the last epoch is the model
    val_probabilities = np.zeros((0, 0), dtype=np.float32)
    if fit.has_val:
        evaluation = yield from _evaluate(
            fit.model, fit.batches, fit.val_labels, fit.batch_size, cancel
        )
        if evaluation is None:
            return None
        val_loss, val_acc, val_probabilities = evaluation
    return EpochMetrics(
        epoch=epoch,
        train_loss=loss_sum / n_train,
        train_acc=correct / n_train,
        val_loss=val_loss,
        val_acc=val_acc,
        seconds=time.perf_counter() - epoch_start,
        validated=fit.has_val,
    ), val_probabilities


def _train_step(fit: _Fit, idx: torch.Tensor, views: torch.Tensor) -> tuple[float, int]:
    """One optimiser step on the training images ``idx``; ``(mean loss, correct count)``."""
    batches = fit.batches
    x = batches.train[idx, views].to(fit.device)
    if batches.augment is not None:
        x = augment_batch(x, batches.augment, fit.generator, batches.view)
    y = fit.train_labels[idx.to(fit.device)]
    logits = batches.forward(x)
    loss = F.cross_entropy(logits, y, weight=fit.weights)
    fit.optimizer.zero_grad(set_to_none=True)
    loss.backward()
    fit.optimizer.step()
    return float(loss.detach()), int((logits.detach().argmax(1) == y).sum())


@dataclass
class _Checkpoint:
    """The best epoch so far: highest validation accuracy, ties to the lower validation loss.

    Without a validation split every epoch replaces the last. ``stale`` counts the epochs
    since the best one, for early stopping.
    """

    state: dict[str, torch.Tensor] | None = None
    key: tuple[float, float] | None = None
    epoch: int = 0
    stale: int = 0

    def offer(self, metrics: EpochMetrics, fit: _Fit) -> None:
        key = (metrics.val_acc, -metrics.val_loss)
        if not fit.has_val or self.key is None or key > self.key:
            self.state, self.key = _state_copy(fit.model, fit.plan.frozen), key
            self.epoch, self.stale = metrics.epoch, 0
        else:
            self.stale += 1


def _keep_best(
    fit: _Fit, best: _Checkpoint, n_classes: int
) -> Generator[Progress, None, np.ndarray]:
    """Load the best checkpoint, hand the model back on the CPU, unfrozen.

    Returns its validation probabilities (``(0, n_classes)`` without a validation split).
    """
    model = fit.model
    if best.state is not None:
        model.load_state_dict(best.state, strict=False)
    probabilities = np.zeros((0, n_classes), dtype=np.float32)
    if fit.has_val:
        final = yield from _evaluate(model, fit.batches, fit.val_labels, fit.batch_size, None)
        probabilities = final[2]
    unfreeze_all(model)
    model.to("cpu")
    return probabilities


def data_warnings(data: PreparedData, grouping: Grouping, names: list[str]) -> list[str]:
    """Warnings about the data: too few distinct groups, a class from one series, shrinking."""
    series = user_group_names(data.paths, data.labels, "series")
    has_names = any(p is not None for p in data.paths)
    warnings = grouping_warnings(grouping, data.labels, names, series if has_names else None)
    if data.shrink is not None and len(data.shrink):
        shrunk = int((data.shrink > SHRINK_WARNING).sum())
        if shrunk:
            warnings.append(
                f"{shrunk} of {len(data.shrink)} images were shrunk more than "
                f"{SHRINK_WARNING:g}x (up to {float(data.shrink.max()):.0f}x) to fit the "
                "network input; fine texture is lost. Train on tiles at native resolution "
                "instead (input mode 'tiles')."
            )
    return warnings


def _split(
    data: PreparedData, grouping: Grouping, config: TrainingConfig, warnings: list[str]
) -> tuple[np.ndarray, np.ndarray, str]:
    """``(train, val, method)``: by group where possible, by file (with a warning) otherwise."""
    from crystalview.training.validation import group_stratified_split

    if config.val_split == 0:
        return np.arange(len(data.labels)), np.zeros(0, dtype=np.int64), "none"
    if config.grouping == "none":
        train, val = stratified_split(data.labels, config.val_split, config.seed)
        return train, val, "file hold-out"
    train, val = group_stratified_split(
        data.labels, grouping.group_of, config.val_split, config.seed
    )
    if len(val):
        return train, val, "group hold-out"
    warnings.append(
        "no class has two distinct groups of images, so validation had to split files of the "
        "same micrographs: the validation figure is not an estimate for new images."
    )
    train, val = stratified_split(data.labels, config.val_split, config.seed)
    return train, val, "file hold-out (groups ignored)"


@dataclass
class _GroupRecord:
    """How the images were grouped and split, and what the data warnings are."""

    grouping: Grouping
    method: str
    warnings: list[str]
    train_idx: np.ndarray
    val_idx: np.ndarray


def _check_classes(data: PreparedData, names: list[str]) -> None:
    counts = np.bincount(data.labels, minlength=len(names))
    if len(counts) > len(names):
        raise CrystalViewError(f"a sample's class index is out of range for {len(names)} classes")
    empty = [names[k] for k in range(len(names)) if counts[k] < 2]
    if empty:
        raise CrystalViewError(
            "Every class needs at least two readable images (one to train on, one to check "
            f"with); not enough for: {', '.join(empty)}."
        )


def _cache(
    split: NetworkSplit,
    raw_train: torch.Tensor,
    raw_val: torch.Tensor,
    augmentation: dict[str, Any],
    config: TrainingConfig,
    generator: torch.Generator,
    device: torch.device,
    cancel: CancelToken,
    view: str = "none",
):
    """Compute the frozen front once: a few (augmented) views per training image, and val.

    ``view`` is the model's input transform, which decides how a rotation is applied.
    """
    n_train, n_crops = raw_train.shape[:2]
    augment = is_active(augmentation)
    n_views = config.cached_views if (augment or n_crops > 1) else 1
    total = n_views * n_train + len(raw_val)
    done = 0
    views = []
    for v in range(n_views):
        inputs = raw_train[:, v % n_crops]
        if augment and v > 0:  # view 0 stays as the data are; the others vary
            inputs = torch.cat(
                [
                    augment_batch(chunk.to(device), augmentation, generator, view).cpu()
                    for chunk in torch.split(inputs, config.batch_size)
                ]
            )
        features = yield from _front_progress(
            split, inputs, config.batch_size, device, cancel, done, total
        )
        views.append(features)
        done += n_train
    val = yield from _front_progress(split, raw_val, config.batch_size, device, cancel, done, total)
    return _Batches(torch.stack(views, dim=1), val, split.back, None)


def _front_progress(split, inputs, batch_size, device, cancel, done, total):
    def relabel(rows: int) -> Progress:
        cancel.raise_if_cancelled()
        return Progress(done + rows, total, f"Computing frozen features {done + rows}/{total}")

    return (yield from relay(compute_front(split, inputs, batch_size, device), relabel))


def _evaluate(model, batches: _Batches, val_labels, batch_size: int, cancel: CancelToken | None):
    """``(loss, accuracy, probabilities)`` on the validation split; ``None`` if cancelled."""
    model.eval()
    losses, probabilities = [], []
    for start in range(0, len(batches.val), batch_size):
        with torch.no_grad():
            x = batches.val[start : start + batch_size].to(val_labels.device)
            logits = batches.forward(x).float()
            y = val_labels[start : start + batch_size]
            losses.append(float(F.cross_entropy(logits, y, reduction="sum")))
            probabilities.append(torch.softmax(logits, dim=1).cpu())
        if cancel is not None:
            if cancel.cancelled:
                return None
            yield Progress(start, len(batches.val), "Validating")
    probs = torch.cat(probabilities).numpy()
    acc = float((probs.argmax(1) == val_labels.cpu().numpy()).mean())
    return sum(losses) / len(batches.val), acc, probs


@dataclass
class _RunRecord:
    """How the epochs went: what the result and the provenance report."""

    history: list[EpochMetrics]
    best_epoch: int
    cancelled: bool
    augmentation: dict[str, Any]
    seconds: float
    epoch_probabilities: list[np.ndarray]


def _result(
    model: torch.nn.Module,
    start: StartingPoint,
    config: TrainingConfig,
    data: PreparedData,
    names: list[str],
    split: tuple[np.ndarray, np.ndarray],
    probabilities: np.ndarray,
    run: _RunRecord,
    groups: _GroupRecord,
) -> TrainingResult:
    """Validation figures of the kept checkpoint, and the manifest with full provenance."""
    train_idx, val_idx = split
    base_provenance = start.provenance
    true = data.labels[val_idx]
    predicted = probabilities.argmax(axis=1)
    matrix = confusion_matrix(true, predicted, len(names))
    per_class = per_class_scores(matrix, names)
    val_accuracy = accuracy(matrix)
    grouping = groups.grouping
    validation = None
    val_groups = grouping.group_of[val_idx]
    if len(val_idx):
        validation = ValidationReport(
            method=groups.method,
            accuracy=val_accuracy,
            interval=group_bootstrap_interval(true == predicted, val_groups, seed=config.seed),
            n_images=len(val_idx),
            n_groups=len(set(val_groups.tolist())),
            folds=1,
            grouping=grouping.rule,
            n_distinct=grouping.n_distinct,
            n_groups_total=grouping.n_groups,
            warnings=tuple(groups.warnings),
        )
    predictions = [
        ValPrediction(
            path=data.paths[row],
            index=data.sources[row],
            true=int(true[i]),
            predicted=int(predicted[i]),
            probabilities=[float(p) for p in probabilities[i]],
            group=int(val_groups[i]),
        )
        for i, row in enumerate(val_idx)
    ]
    counts = np.bincount(data.labels, minlength=len(names))
    provenance = {
        **base_provenance,
        "strategy": config.strategy,
        "trained_with": f"CrystalView {__version__}",
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "data": {
            "counts": {name: int(counts[k]) for k, name in enumerate(names)},
            "train_images": len(train_idx),
            "validation_images": len(val_idx),
            "skipped_files": len(data.skipped),
            "modalities": dict(data.modalities),
            "distinct_micrographs": grouping.n_distinct,
            "groups": grouping.n_groups,
            "grouping": grouping.rule,
        },
        "validation": validation.to_dict() if validation is not None else None,
        "warnings": list(groups.warnings),
        "augmentation": run.augmentation,
        "settings": {
            "epochs": config.epochs,
            "epochs_run": len(run.history),
            "best_epoch": run.best_epoch,
            "batch_size": config.batch_size,
            "lr": config.lr,
            "backbone_lr": config.backbone_lr if config.strategy == "last-blocks" else None,
            "last_blocks": config.last_blocks if config.strategy == "last-blocks" else None,
            "val_split": config.val_split,
            "seed": config.seed,
            "class_weighting": config.class_weighting,
            "cancelled": run.cancelled,
        },
        "metrics": {
            "val_accuracy": val_accuracy,
            "per_class": per_class,
            "confusion_matrix": matrix.tolist(),
        },
    }
    name = config.name or f"{base_provenance['base']}-finetuned"
    summary = grouping.summary(int(counts.sum()), start.manifest.modality)
    description = (
        f"Fine-tuned from {base_provenance['base']} ({config.strategy}) on {summary} of "
        f"{len(names)} classes"
        + (f"; validation {validation.headline()}." if validation is not None else ".")
    )
    trained_manifest = dataclasses.replace(
        start.manifest, provenance=provenance, name=name, description=description
    )
    return TrainingResult(
        model=model,
        manifest=trained_manifest,
        history=run.history,
        val_accuracy=val_accuracy,
        per_class=per_class,
        confusion_matrix=matrix.tolist(),
        val_predictions=predictions,
        cancelled=run.cancelled,
        skipped_files=data.skipped,
        best_epoch=run.best_epoch,
        train_seconds=run.seconds,
        class_names=names,
        validation=validation,
        data_summary=summary,
        warnings=list(groups.warnings),
        epoch_val_probabilities=run.epoch_probabilities,
    )
