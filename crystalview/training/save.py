"""Saving a trained model as a ``.cvmodel`` bundle with a model card, never overwriting one."""

from __future__ import annotations

from pathlib import Path

from crystalview.core.errors import CrystalViewError
from crystalview.training.config import TrainingResult


def model_card(result: TrainingResult) -> str:
    """The bundle's README.md: what the model is for, how it was made and how good it is.

    Written for the colleague who receives the file: classes, data, base, strategy,
    augmentation, honest validation figures and the date, in plain Markdown.
    """
    manifest = result.manifest
    provenance = manifest.provenance
    data = provenance.get("data", {})
    settings = provenance.get("settings", {})
    lines = [
        f"# {manifest.name}",
        "",
        manifest.description,
        "",
        "## Use",
        f"- Classes: {', '.join(manifest.classes)}",
        f"- Images: {manifest.modality}, {manifest.input_mode} input of {manifest.input_size} px",
    ]
    if manifest.image_pooling is not None:
        zooms = ", ".join(f"{z:g}" for z in manifest.zooms)
        lines.append(
            f"- Each image is tiled at zooms {zooms} of its resolution; the answer is the mean "
            "of all tiles' logits per zoom, averaged over zooms (image-level head)"
        )
    if manifest.pixel_size is not None:
        lines.append(f"- Trained at {manifest.pixel_size:g} {manifest.pixel_unit} per pixel")
    lines += [
        "",
        "## Training",
        f"- Base: {provenance.get('base')} ({provenance.get('base_kind')}"
        + (", ImageNet weights" if provenance.get("pretrained") else "")
        + (", random initial weights" if provenance.get("pretrained") is False else "")
        + ")",
        f"- Strategy: {provenance.get('strategy')}",
        _schedule_line(settings),
        f"- Augmentation: {_describe(provenance.get('augmentation'))}",
        f"- Date: {provenance.get('date')}",
    ]
    recommended = provenance.get("recommended")
    if recommended:
        lines += [
            f"- Chosen automatically: {recommended['chosen']} — {recommended['reason']}; final "
            f"model trained on {recommended['final_training']}. Recipes tried:",
        ]
        lines += [
            f"  - {t['recipe']}: {t['accuracy']:.1%} (95 % CI {t['ci95'][0]:.0%}-"
            f"{t['ci95'][1]:.0%})"
            for t in recommended.get("trials", [])
        ]
    if settings.get("cancelled"):
        lines.append("- Training was stopped early by the user; this is the best checkpoint.")
    lines += ["", "## Data", "", "| class | images |", "|---|---|"]
    lines += [f"| {name} | {count} |" for name, count in data.get("counts", {}).items()]
    lines += ["", _split_sentence(result, data), "", "## Validation", ""]
    lines += _validation_lines(result)
    lines += [
        "",
        "| class | precision | recall | images |",
        "|---|---|---|---|",
    ]
    lines += [
        f"| {name} | {s['precision']:.2f} | {s['recall']:.2f} | {s['support']} |"
        for name, s in result.per_class.items()
    ]
    lines += ["", "Confusion matrix (rows: true class, columns: predicted):", ""]
    lines += [
        "| | " + " | ".join(manifest.classes) + " |",
        "|---" * (len(manifest.classes) + 1) + "|",
    ]
    lines += [
        f"| {name} | " + " | ".join(str(v) for v in row) + " |"
        for name, row in zip(manifest.classes, result.confusion_matrix, strict=True)
    ]
    lines += [
        "",
        "Validation images are few; treat these figures as a guide, and check the model on "
        "images it has never seen before relying on it.",
        "",
    ]
    return "\n".join(lines)


def _schedule_line(settings: dict) -> str:
    if "head" in settings:  # a linear head fitted on frozen features (automatic choice)
        return (
            f"- Head: {settings['head']}, L2 penalty {settings.get('l2')}, input "
            f"{settings.get('input_mode')}, seed {settings.get('seed')}"
        )
    return (
        f"- Epochs: {settings.get('epochs_run')} of {settings.get('epochs')} "
        f"(best: {settings.get('best_epoch')}), batch {settings.get('batch_size')}, "
        f"learning rate {settings.get('lr')}, seed {settings.get('seed')}"
    )


def _split_sentence(result: TrainingResult, data: dict) -> str:
    summary = result.data_summary or f"{sum(data.get('counts', {}).values())} images"
    validation = result.validation
    if validation is None:
        return f"{summary}; all of them used for training."
    if validation.folds > 1:
        return (
            f"{summary}. Validated by {validation.folds}-fold over groups "
            f"({validation.grouping}): every group was held out once by a model that never saw "
            "it; the final model was then trained on all images."
        )
    return (
        f"{summary}. {data.get('train_images')} images for training, "
        f"{data.get('validation_images')} held out for validation: whole groups "
        f"({validation.grouping}) were kept on one side of the split."
        if validation.method != "file hold-out"
        else f"{summary}. {data.get('validation_images')} images held out for validation, "
        "chosen file by file (images treated as independent)."
    )


def _validation_lines(result: TrainingResult) -> list[str]:
    """How the figure was obtained, its interval, and the reasons to trust it less."""
    validation = result.validation
    if validation is None:
        lines = ["No validation was run for this model; check it on images it has never seen."]
        return lines + (
            ["", "Warnings:"] + [f"- {w}" for w in result.warnings] if result.warnings else []
        )
    lines = [
        f"Accuracy: {validation.headline()}.",
        "",
        f"Method: {validation.method}"
        + (
            f" ({validation.folds} folds, each group validated once by a model that never saw it)"
            if validation.folds > 1
            else ""
        )
        + "; 95 % interval from a bootstrap over groups.",
    ]
    if result.warnings:
        lines += ["", "Warnings:"] + [f"- {w}" for w in result.warnings]
    return lines


def _describe(augmentation: dict | None) -> str:
    if not augmentation or not any(augmentation.values()):
        return "none"
    return ", ".join(f"{k} {v}" if v is not True else k for k, v in augmentation.items() if v)


def save_trained_model(result: TrainingResult, path: str | Path | None = None) -> Path:
    """Save ``result`` as a bundle and return its path; never overwrites an existing file.

    With ``path`` ``None`` the model goes into the user models folder under a versioned name
    (``name``, ``name-2`` …), where the app lists it at once. An explicit path that exists is
    refused rather than replaced: a model someone relies on must not silently change.
    """
    from crystalview.models.bundle import save_bundle
    from crystalview.models.catalog import unique_model_path

    if path is None:
        target = unique_model_path(result.manifest.name)
    else:
        target = Path(path)
        if target.suffix != ".cvmodel":
            target = target.with_name(target.name + ".cvmodel")
        if target.exists():
            raise CrystalViewError(
                f"{target} already exists; choose another name (models are never overwritten)."
            )
    return save_bundle(target, result.model, result.manifest, model_card=model_card(result))
