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
from crystalview.training.metrics import accuracy, confusion_matrix, per_class_scores
from crystalview.training.split import class_weights, stratified_split
from crystalview.training.strategies import plan_strategy, set_training_mode, unfreeze_all


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
    generator = torch.Generator().manual_seed(config.seed)

    from crystalview.inference.device import select_device

    device = select_device(config.device)
    start = resolve_base(config, names, samples)
    model, manifest = start.model, start.manifest
    data: PreparedData = yield from prepare_inputs(samples, manifest, config.seed, cancel)
    _check_classes(data, names)
    train_idx, val_idx = stratified_split(data.labels, config.val_split, config.seed)

    augmentation = (
        default_augmentation(manifest.modality)
        if config.augmentation is None
        else check_augmentation(dict(config.augmentation))
    )
    model.to(device)
    plan = plan_strategy(model, config.strategy, config.lr, config.backbone_lr, config.last_blocks)
    views = torch.from_numpy(data.views)
    labels = torch.from_numpy(data.labels).to(device)
    train_labels, val_labels = labels[train_idx], labels[val_idx]
    raw_train = views[train_idx]  # (n_train, K, C, S, S)
    raw_val = views[val_idx, 0]

    split = None
    if config.cache_features and plan.frozen:
        model.eval()
        split = find_split(model, plan, raw_val[:2].to(device))
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
        weights = torch.from_numpy(class_weights(data.labels[train_idx], len(names))).to(device)
    optimizer = torch.optim.Adam(plan.param_groups)
    n_train = len(train_idx)
    per_epoch = len(_batch_indices(torch.arange(n_train), config.batch_size))
    total = config.epochs * per_epoch
    history: list[EpochMetrics] = []
    best_state, best_key, best_epoch, stale = None, None, 0, 0
    cancelled = False

    for epoch in range(1, config.epochs + 1):
        epoch_start = time.perf_counter()
        set_training_mode(model, plan)
        order = torch.randperm(n_train, generator=generator)
        view_of = (
            torch.randint(0, batches.train.shape[1], (n_train,), generator=generator)
            if batches.train.shape[1] > 1
            else torch.zeros(n_train, dtype=torch.long)
        )
        loss_sum, correct = 0.0, 0
        for b, idx in enumerate(_batch_indices(order, config.batch_size)):
            if cancel.cancelled:
                cancelled = True
                break
            x = batches.train[idx, view_of[idx]].to(device)
            if batches.augment is not None:
                x = augment_batch(x, batches.augment, generator, batches.view)
            y = train_labels[idx.to(device)]
            logits = batches.forward(x)
            loss = F.cross_entropy(logits, y, weight=weights)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            loss_sum += float(loss.detach()) * len(idx)
            correct += int((logits.detach().argmax(1) == y).sum())
            done = (epoch - 1) * per_epoch + b + 1
            yield Progress(done, total, f"Epoch {epoch}/{config.epochs}, batch {b + 1}/{per_epoch}")
        if cancelled:
            break
        evaluation = yield from _evaluate(model, batches, val_labels, config.batch_size, cancel)
        if evaluation is None:
            cancelled = True
            break
        val_loss, val_acc, _ = evaluation
        metrics = EpochMetrics(
            epoch=epoch,
            train_loss=loss_sum / n_train,
            train_acc=correct / n_train,
            val_loss=val_loss,
            val_acc=val_acc,
            seconds=time.perf_counter() - epoch_start,
        )
        history.append(metrics)
        key = (val_acc, -val_loss)
        if best_key is None or key > best_key:
            best_state, best_key, best_epoch, stale = _state_copy(model, plan.frozen), key, epoch, 0
        else:
            stale += 1
        yield Progress(
            epoch * per_epoch,
            total,
            f"Epoch {epoch}/{config.epochs}: train loss {metrics.train_loss:.3f}, "
            f"validation accuracy {val_acc:.1%}",
            partial=metrics,
        )
        if config.early_stopping_patience is not None and stale >= config.early_stopping_patience:
            break

    if best_state is not None:
        model.load_state_dict(best_state, strict=False)
    final = yield from _evaluate(model, batches, val_labels, config.batch_size, None)
    _, _, probabilities = final
    unfreeze_all(model)
    model.to("cpu")
    run = _RunRecord(history, best_epoch, cancelled, augmentation, time.perf_counter() - started)
    return _result(model, start, config, data, names, (train_idx, val_idx), probabilities, run)


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


def _result(
    model: torch.nn.Module,
    start: StartingPoint,
    config: TrainingConfig,
    data: PreparedData,
    names: list[str],
    split: tuple[np.ndarray, np.ndarray],
    probabilities: np.ndarray,
    run: _RunRecord,
) -> TrainingResult:
    """Validation figures of the kept checkpoint, and the manifest with full provenance."""
    train_idx, val_idx = split
    base_provenance = start.provenance
    true = data.labels[val_idx]
    predicted = probabilities.argmax(axis=1)
    matrix = confusion_matrix(true, predicted, len(names))
    per_class = per_class_scores(matrix, names)
    val_accuracy = accuracy(matrix)
    predictions = [
        ValPrediction(
            path=data.paths[row],
            index=data.sources[row],
            true=int(true[i]),
            predicted=int(predicted[i]),
            probabilities=[float(p) for p in probabilities[i]],
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
        },
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
    description = (
        f"Fine-tuned from {base_provenance['base']} ({config.strategy}) on "
        f"{int(counts.sum())} images of {len(names)} classes; validation accuracy "
        f"{val_accuracy:.1%}."
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
    )
