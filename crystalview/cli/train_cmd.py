"""``crystalview train``: fine-tune a model on a labelled folder (one subfolder per class).

Without ``--base`` and ``--strategy`` the recipe is chosen for the data
(`crystalview.training.auto`): candidates are tried on a group-aware split within ``--budget``
seconds, the winner is trained on all images, and what was chosen and why is printed.

Progress goes to stderr; at the end exactly one JSON line goes to stdout with ``val_accuracy``,
``per_class``, ``confusion_matrix``, ``train_seconds`` and ``out`` (plus a few more facts), so
scripts can read the outcome. Ctrl+C stops training gracefully and saves the best checkpoint so
far. torch is imported inside `run` so that ``crystalview --help`` stays fast.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
from pathlib import Path

from crystalview.cli.progress_bar import TerminalProgress
from crystalview.core.errors import CrystalViewError
from crystalview.inference.settings import DEVICES


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("data_dir", type=Path, help="folder with one subfolder of images per class")
    parser.add_argument(
        "--base",
        default=None,
        help=(
            "architecture (efficientnet_lite0, resnet18, resnet34, resnet50, diffraction_cnn, "
            "radial_profile_cnn) or a model name/file; default: chosen for the data"
        ),
    )
    parser.add_argument(
        "--strategy",
        choices=("frozen", "last-blocks", "full"),
        default=None,
        help="frozen: train the head only; last-blocks: also the last block(s) at a low "
        "learning rate; full: every layer (default: chosen for the data; with --base, frozen "
        "on pretrained weights and full on random ones)",
    )
    parser.add_argument(
        "--budget",
        type=float,
        default=None,
        help="seconds the automatic choice may spend trying recipes (default 240)",
    )
    parser.add_argument(
        "--modality",
        choices=("SEM", "TEM", "STEM", "SAED"),
        default=None,
        help="what the images are (default: what the reader detects for most of them); "
        "decides normalisation (log for SAED) and augmentation",
    )
    parser.add_argument(
        "--grouping",
        choices=("duplicates", "series", "folder", "none"),
        default="duplicates",
        help="keep these together on one side of the validation split: near-duplicate images "
        "(default), also the file-name series (PPC9_01_17 -> ppc9), also sub-folders inside "
        "each class, or nothing (independent images only)",
    )
    parser.add_argument(
        "--groups-csv",
        default=None,
        metavar="FILE[:COLUMN]",
        help="a CSV with a 'file' column and a group column (default name 'group'); images in "
        "one group are never split between training and validation",
    )
    parser.add_argument("--epochs", type=int, default=20, help="training epochs (default 20)")
    parser.add_argument(
        "--val-split", type=float, default=0.2, help="share of each class held out (default 0.2)"
    )
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    parser.add_argument(
        "--no-pretrained",
        action="store_true",
        help="start an ImageNet architecture from random weights instead of ImageNet weights",
    )
    parser.add_argument("--batch", type=int, default=32, help="images per batch (default 32)")
    parser.add_argument("--lr", type=float, default=1e-3, help="learning rate (default 1e-3)")
    parser.add_argument(
        "--backbone-lr",
        type=float,
        default=1e-5,
        help="learning rate of the unfrozen blocks with last-blocks (default 1e-5)",
    )
    parser.add_argument(
        "--patience",
        type=int,
        default=10,
        help="stop after this many epochs without improvement (0: never; default 10)",
    )
    parser.add_argument("--no-augment", action="store_true", help="turn augmentation off")
    parser.add_argument(
        "--input-size", type=int, default=None, help="network input side for a new architecture"
    )
    parser.add_argument(
        "--input-mode",
        choices=("whole", "tiles"),
        default=None,
        help="for a new architecture: resize whole images (default) or train on tiles",
    )
    parser.add_argument("--device", choices=DEVICES, default="auto", help="where to train")
    parser.add_argument("--name", default="", help="model name shown in the model list")
    parser.add_argument(
        "--out",
        type=Path,
        default=None,
        help="model file to write (.cvmodel; never overwritten); default: the user models folder",
    )


def _strategy(args: argparse.Namespace) -> str:
    """The strategy for an explicit ``--base``: never frozen on random weights silently."""
    if args.strategy is not None:
        return args.strategy
    from crystalview.models.registry import ARCHITECTURES, has_pretrained

    if args.base in ARCHITECTURES and (args.no_pretrained or not has_pretrained(args.base)):
        print(
            f"{args.base} starts from random weights: training every layer ('full'); a frozen "
            "random backbone cannot learn features.",
            file=sys.stderr,
        )
        return "full"
    return "frozen"


def _config(args: argparse.Namespace, group_names):
    from crystalview.training import TrainingConfig

    config = TrainingConfig(
        base=args.base,
        strategy=_strategy(args),
        epochs=args.epochs,
        batch_size=args.batch,
        lr=args.lr,
        backbone_lr=args.backbone_lr,
        val_split=args.val_split,
        seed=args.seed,
        augmentation={} if args.no_augment else None,
        early_stopping_patience=args.patience or None,
        pretrained=not args.no_pretrained,
        input_size=args.input_size,
        input_mode=args.input_mode,
        modality=args.modality,
        grouping=args.grouping,
        group_names=group_names,
        device=args.device,
        name=args.name,
    )
    try:
        config.validate()
    except ValueError as error:
        raise CrystalViewError(str(error)) from None
    return config


def _group_names(args: argparse.Namespace, samples) -> list[str | None] | None:
    if not args.groups_csv:
        return None
    from crystalview.training.groups import groups_from_table, read_group_csv

    path, _, column = args.groups_csv.partition(":")
    if len(path) == 1 and column and "\\" in column:  # a Windows drive letter, not a column
        path, column = args.groups_csv, ""
    table = read_group_csv(path, column or "group")
    names = groups_from_table([p for p, _ in samples], table)
    found = sum(n is not None for n in names)
    print(f"Groups from {path}: {found} of {len(names)} images listed", file=sys.stderr)
    return names


def run(args: argparse.Namespace) -> int:
    automatic = args.base is None
    if automatic and args.strategy is not None:
        raise CrystalViewError("--strategy needs --base (without both, the recipe is chosen)")
    out = args.out
    if out is not None:
        if out.suffix != ".cvmodel":
            out = out.with_name(out.name + ".cvmodel")
        if out.exists():  # before torch loads: a refusal should be instant
            raise CrystalViewError(f"{out} already exists; models are never overwritten.")

    from crystalview.core.progress import CancelToken, run_to_completion
    from crystalview.inference.device import configure_threads
    from crystalview.training import samples_from_folder, save_trained_model, train_model

    configure_threads(reserve=0)  # headless: no window to keep responsive
    samples, class_names = samples_from_folder(args.data_dir)
    group_names = _group_names(args, samples)
    if automatic:
        from crystalview.training.auto import DEFAULT_BUDGET_S, AutoOptions, train_recommended

        options = AutoOptions(
            budget_s=args.budget or DEFAULT_BUDGET_S,
            modality=args.modality,
            grouping=args.grouping,
            group_names=group_names,
            seed=args.seed,
            device=args.device,
            name=args.name,
        )
        job = lambda cancel: train_recommended(samples, class_names, options, cancel)  # noqa: E731
    else:
        config = _config(args, group_names)
        job = lambda cancel: train_model(samples, class_names, config, cancel)  # noqa: E731
    print(
        f"Training on {len(samples)} images of {len(class_names)} classes: "
        f"{', '.join(class_names)}",
        file=sys.stderr,
    )
    cancel = CancelToken()
    bar = TerminalProgress("train")

    def on_progress(event) -> None:
        if event.partial is not None:
            bar.close()
            m = event.partial
            validation = (
                f"val loss {m.val_loss:.4f} acc {m.val_acc:.3f}"
                if m.validated
                else "no validation (all images train)"
            )
            print(
                f"epoch {m.epoch}: train loss {m.train_loss:.4f} acc {m.train_acc:.3f}, "
                f"{validation} ({m.seconds:.1f} s)",
                file=sys.stderr,
            )
        elif event.total == 0 or event.message.startswith(_TRIAL_PREFIXES):
            bar.close()
            print(event.message, file=sys.stderr)
        else:
            bar(event)

    previous = signal.signal(signal.SIGINT, lambda *_: cancel.cancel())
    try:
        result = run_to_completion(job(cancel), on_progress)
    finally:
        signal.signal(signal.SIGINT, previous)
        bar.close()
    if result.cancelled:
        print("Stopped early: saving the best checkpoint so far.", file=sys.stderr)
    path = save_trained_model(result, out)
    _report(result)
    print(f"Saved {path}", file=sys.stderr)
    provenance = result.manifest.provenance
    summary = {
        "val_accuracy": result.val_accuracy,
        "per_class": result.per_class,
        "confusion_matrix": result.confusion_matrix,
        "train_seconds": round(result.train_seconds, 3),
        "out": str(path),
        "classes": class_names,
        "best_epoch": result.best_epoch,
        "epochs_run": len(result.history),
        "cancelled": result.cancelled,
        "data_summary": result.data_summary,
        "validation": provenance.get("validation"),
        "warnings": result.warnings,
        "recommended": provenance.get("recommended"),
    }
    sys.stdout.write(json.dumps(summary) + "\n")
    sys.stdout.flush()
    return 0


# Messages of the automatic choice that are results, not progress: printed as lines.
_TRIAL_PREFIXES = ("efficientnet", "resnet", "saed-", "diffraction_cnn", "radial_profile", "Images")


def _report(result) -> None:
    """What a scientist must read before trusting the model, on stderr."""
    recommended = result.manifest.provenance.get("recommended")
    if recommended:
        print(f"Chosen: {recommended['chosen']}", file=sys.stderr)
        print(f"  because: {recommended['reason']}", file=sys.stderr)
        print(f"  final model trained on {recommended['final_training']}", file=sys.stderr)
    if result.data_summary:
        print(f"Data: {result.data_summary}", file=sys.stderr)
    if result.validation is not None:
        print(f"Validation: {result.validation.headline()}", file=sys.stderr)
    else:
        print("Validation: none (trained on every image)", file=sys.stderr)
    for warning in result.warnings:
        print(f"warning: {warning}", file=sys.stderr)
