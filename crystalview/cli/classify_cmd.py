"""``crystalview classify``: classify image files and folders with a model, headless.

Results stream into a CSV (``path,label,confidence,n_tiles,model,modality,p_<class>…``) as each file
finishes, so a long run that is interrupted keeps what it has done. Files that fail are reported
on stderr and skipped; the exit status is 1 if any failed. torch is imported inside `run` so that
``crystalview --help`` stays fast.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from pathlib import Path
from typing import TextIO

from crystalview.cli.output_names import MirroredNames
from crystalview.cli.progress_bar import TerminalProgress
from crystalview.core.errors import CrystalViewError, about
from crystalview.inference.settings import DEVICES

BASE_COLUMNS = ["path", "label", "confidence", "n_tiles", "model", "modality"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("paths", nargs="+", type=Path, help="image files or folders (recursive)")
    parser.add_argument("--model", required=True, help="model name (see 'models list') or file")
    parser.add_argument(
        "--tile-size", type=int, default=None, help="tile side in pixels (default: model input)"
    )
    parser.add_argument(
        "--overlap", type=float, default=0.25, help="tile overlap fraction (default 0.25)"
    )
    parser.add_argument("--batch", type=int, default=32, help="tiles per batch (default 32)")
    parser.add_argument("--device", choices=DEVICES, default="auto", help="where to run")
    parser.add_argument(
        "--fp32", action="store_true", help="full precision (no bf16/fp16 fast path)"
    )
    parser.add_argument("--out", type=Path, default=None, help="CSV file to write")
    parser.add_argument("--json", action="store_true", help="print the results as JSON on stdout")
    # CAM hook: heat maps of the predicted class, written by the CAM package when it is present.
    parser.add_argument(
        "--cam-dir",
        type=Path,
        default=None,
        help="also write a class-activation map (TIFF + PNG overlay) per image into this folder "
        "(sub-folders of the inputs are mirrored there, so same-named files never collide)",
    )


def csv_columns(class_names: list[str]) -> list[str]:
    return BASE_COLUMNS + [f"p_{name}" for name in class_names]


def csv_row(result, class_names: list[str]) -> list[str]:
    prediction = result.prediction
    probabilities = [f"{prediction.probabilities[name]:.6f}" for name in class_names]
    return [
        str(result.path),
        prediction.label,
        f"{prediction.confidence:.6f}",
        str(prediction.n_tiles),
        prediction.model_name,
        result.modality or "",
        *probabilities,
    ]


def _json_record(result) -> dict:
    if result.prediction is None:
        return {"path": str(result.path), "error": result.error}
    prediction = result.prediction
    return {
        "path": str(result.path),
        "label": prediction.label,
        "confidence": prediction.confidence,
        "n_tiles": prediction.n_tiles,
        "model": prediction.model_name,
        "modality": result.modality,
        "probabilities": prediction.probabilities,
        "device": prediction.device,
    }


def _write_cam(args: argparse.Namespace, loaded, settings, result, names) -> None:
    """CAM hook (owned by the CAM package): heat map of the predicted class for one file."""
    try:
        from crystalview.cam import compute_cam
        from crystalview.cam.export import write_cam_outputs
    except ImportError as error:
        raise CrystalViewError(f"class-activation maps are not available ({error})") from error
    from crystalview.core.progress import run_to_completion
    from crystalview.io import open_image
    from crystalview.measure.calibration import apply_stored_scale

    micrograph = open_image(result.path)
    apply_stored_scale(micrograph)  # the same pixel size the classification used
    cam = run_to_completion(
        compute_cam(loaded, micrograph, target=result.prediction.label, settings=settings)
    )
    folder, stem = names.place(result.path)
    replaced = [p for p in (folder / f"{stem}_cam.tif", folder / f"{stem}_cam.png") if p.exists()]
    if replaced:
        print(f"crystalview: replacing {', '.join(map(str, replaced))}", file=sys.stderr)
    write_cam_outputs(folder, stem, micrograph.image, cam.heatmap, micrograph, method=cam.method)


def run(args: argparse.Namespace) -> int:
    from crystalview.core.progress import Progress
    from crystalview.inference.device import configure_threads
    from crystalview.inference.predict import InferenceSettings, predict_paths
    from crystalview.models.catalog import load_model

    if not 0 <= args.overlap < 1:
        raise CrystalViewError(f"--overlap must be in [0, 1), got {args.overlap}")
    if args.batch < 1:
        raise CrystalViewError(f"--batch must be at least 1, got {args.batch}")
    configure_threads(reserve=0)  # headless: no window to keep responsive
    loaded = load_model(args.model)
    class_names = list(loaded.manifest.classes)
    settings = InferenceSettings(
        tile_size=args.tile_size,
        overlap=args.overlap,
        batch_size=args.batch,
        device=args.device,
        fast=not args.fp32,
        probability_map=False,
    )
    csv_stream: TextIO | None = None
    if args.out is not None:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        csv_stream = open(args.out, "w", newline="", encoding="utf-8")  # noqa: SIM115
    elif not args.json:
        csv_stream = sys.stdout
    failures = 0
    records = []
    cam_names = MirroredNames(args.cam_dir, args.paths) if args.cam_dir is not None else None
    bar = TerminalProgress("classify")
    try:
        writer = csv.writer(csv_stream) if csv_stream is not None else None
        if writer is not None:
            writer.writerow(csv_columns(class_names))
        job = predict_paths(loaded, args.paths, settings)
        while True:
            try:
                event: Progress = next(job)
            except StopIteration:
                break
            bar(event)
            result = event.partial
            if result is None:
                continue
            if result.prediction is not None and args.cam_dir is not None:
                try:
                    _write_cam(args, loaded, settings, result, cam_names)
                except (CrystalViewError, OSError, ValueError) as error:
                    result.error = f"class-activation map failed: {error}"
            if result.prediction is None or result.error:
                failures += 1
                print(f"crystalview: {about(result.path, result.error)}", file=sys.stderr)
            if result.prediction is not None and writer is not None:
                writer.writerow(csv_row(result, class_names))
                csv_stream.flush()
            records.append(_json_record(result))
    finally:
        bar.close()
        if csv_stream is not None and csv_stream is not sys.stdout:
            csv_stream.close()
    if args.json:
        json.dump(records, sys.stdout, indent=2)
        sys.stdout.write("\n")
    done = len(records) - failures
    print(f"classified {done} image(s), {failures} failed", file=sys.stderr)
    return 1 if failures else 0
