"""``crystalview train``: fine-tune a model on a labelled folder (one subfolder per class).

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
        required=True,
        help=(
            "architecture (resnet18, resnet34, resnet50, diffraction_cnn, radial_profile_cnn) "
            "or a model name/file"
        ),
    )
    parser.add_argument(
        "--strategy",
        choices=("frozen", "last-blocks", "full"),
        default="frozen",
        help="frozen: train the head only; last-blocks: also the last block(s) at a low "
        "learning rate; full: every layer (default frozen)",
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


def _config(args: argparse.Namespace):
    from crystalview.training import TrainingConfig

    config = TrainingConfig(
        base=args.base,
        strategy=args.strategy,
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
        device=args.device,
        name=args.name,
    )
    try:
        config.validate()
    except ValueError as error:
        raise CrystalViewError(str(error)) from None
    return config


def run(args: argparse.Namespace) -> int:
    config = _config(args)
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
            print(
                f"epoch {m.epoch}: train loss {m.train_loss:.4f} acc {m.train_acc:.3f}, "
                f"val loss {m.val_loss:.4f} acc {m.val_acc:.3f} ({m.seconds:.1f} s)",
                file=sys.stderr,
            )
        else:
            bar(event)

    previous = signal.signal(signal.SIGINT, lambda *_: cancel.cancel())
    try:
        result = run_to_completion(train_model(samples, class_names, config, cancel), on_progress)
    finally:
        signal.signal(signal.SIGINT, previous)
        bar.close()
    if result.cancelled:
        print("Stopped early: saving the best checkpoint so far.", file=sys.stderr)
    path = save_trained_model(result, out)
    print(f"Saved {path}", file=sys.stderr)
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
    }
    sys.stdout.write(json.dumps(summary) + "\n")
    sys.stdout.flush()
    return 0
