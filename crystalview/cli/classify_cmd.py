"""``crystalview classify``: classify image files and folders with a model, headless.

Results stream into a CSV (``path,label,confidence,status,n_tiles,model,ood_score,
status_reason,modality,p_<class>…``) as each file finishes, so a long run that is interrupted
keeps what it has done. ``status`` is ``ok``, ``unsure`` or ``not-this-kind`` (see
`crystalview.inference.status`): read ``label`` only where it is ``ok``. With ``--per-folder``
the patterns of each folder are combined into one verdict per folder (sum of log-probabilities,
`crystalview.inference.combine`) and the CSV has one row per folder. Files that fail are
reported on stderr and skipped; the exit status is 1 if any failed. torch is imported inside
`run` so that ``crystalview --help`` stays fast.
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

BASE_COLUMNS = [
    "path",
    "label",
    "confidence",
    "status",
    "n_tiles",
    "model",
    "ood_score",
    "status_reason",
    "modality",
]
FOLDER_COLUMNS = [
    "folder",
    "label",
    "confidence",
    "status",
    "n_patterns",
    "n_used",
    "n_agree",
    "n_unsure",
    "model",
    "status_reason",
]


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
    parser.add_argument(
        "--device", choices=("auto", "cpu", "cuda", "mps"), default="auto", help="where to run"
    )
    parser.add_argument(
        "--fp32", action="store_true", help="full precision (no bf16/fp16 fast path)"
    )
    parser.add_argument("--out", type=Path, default=None, help="CSV file to write")
    parser.add_argument("--json", action="store_true", help="print the results as JSON on stdout")
    parser.add_argument(
        "--per-folder",
        action="store_true",
        help="one combined verdict per folder of patterns (sum of log-probabilities)",
    )
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


def folder_columns(class_names: list[str]) -> list[str]:
    return FOLDER_COLUMNS + [f"p_{name}" for name in class_names]


def _ood_text(score: float | None) -> str:
    return "" if score is None else f"{score:.4f}"


def csv_row(result, class_names: list[str]) -> list[str]:
    prediction = result.prediction
    probabilities = [f"{prediction.probabilities[name]:.6f}" for name in class_names]
    return [
        str(result.path),
        prediction.label,
        f"{prediction.confidence:.6f}",
        prediction.status,
        str(prediction.n_tiles),
        prediction.model_name,
        _ood_text(prediction.ood_score),
        prediction.status_reason,
        result.modality or "",
        *probabilities,
    ]


def folder_row(folder: Path, verdict, model_name: str, class_names: list[str]) -> list[str]:
    probabilities = [f"{verdict.probabilities.get(name, 0.0):.6f}" for name in class_names]
    return [
        str(folder),
        verdict.label,
        f"{verdict.confidence:.6f}",
        verdict.status,
        str(verdict.n_patterns),
        str(verdict.n_used),
        str(verdict.n_agree),
        str(verdict.n_unsure),
        model_name,
        verdict.reason,
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
        "status": prediction.status,
        "status_reason": prediction.status_reason,
        "ood_score": prediction.ood_score,
        "calibrated": prediction.calibrated,
        "image_kind": prediction.image_kind,
        "n_tiles": prediction.n_tiles,
        "model": prediction.model_name,
        "modality": result.modality,
        "probabilities": prediction.probabilities,
        "device": prediction.device,
    }


def _folder_record(folder: Path, verdict, model_name: str) -> dict:
    return {
        "folder": str(folder),
        "label": verdict.label,
        "confidence": verdict.confidence,
        "status": verdict.status,
        "status_reason": verdict.reason,
        "n_patterns": verdict.n_patterns,
        "n_used": verdict.n_used,
        "n_agree": verdict.n_agree,
        "n_unsure": verdict.n_unsure,
        "model": model_name,
        "probabilities": verdict.probabilities,
        "files": verdict.sources,
    }


def combine_by_folder(results, unsure_below: float) -> list[tuple[Path, object]]:
    """One `CombinedVerdict` per parent folder of the classified files, folders sorted."""
    from crystalview.inference.combine import combine_predictions

    groups: dict[Path, list] = {}
    for result in results:
        if result.prediction is not None and not result.error:
            groups.setdefault(result.path.parent, []).append(result)
    verdicts = []
    for folder in sorted(groups):
        members = groups[folder]
        verdict = combine_predictions(
            [r.prediction for r in members], unsure_below, [str(r.path) for r in members]
        )
        verdicts.append((folder, verdict))
    return verdicts


def _write_cam(args: argparse.Namespace, loaded, settings, result, names) -> None:
    """CAM hook (owned by the CAM package): heat map of the predicted class for one file."""
    try:
        from crystalview.cam import compute_cam
        from crystalview.cam.export import write_cam_outputs
    except ImportError as error:
        raise CrystalViewError(f"class-activation maps are not available ({error})") from error
    from crystalview.core.progress import run_to_completion
    from crystalview.io import open_image

    micrograph = open_image(result.path)
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
    from crystalview.inference.status import unsure_threshold

    loaded = load_model(args.model)
    class_names = list(loaded.manifest.classes)
    if loaded.manifest.calibration is None:
        print(
            f"crystalview: model {loaded.name!r} is not calibrated: probabilities are the "
            "network's own and 'unsure' uses the default threshold",
            file=sys.stderr,
        )
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
    finished = []
    cam_names = MirroredNames(args.cam_dir, args.paths) if args.cam_dir is not None else None
    bar = TerminalProgress("classify")
    try:
        writer = csv.writer(csv_stream) if csv_stream is not None else None
        per_file_writer = None if args.per_folder else writer
        if per_file_writer is not None:
            per_file_writer.writerow(csv_columns(class_names))
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
            if result.prediction is not None and per_file_writer is not None:
                per_file_writer.writerow(csv_row(result, class_names))
                csv_stream.flush()
            records.append(_json_record(result))
            finished.append(result)
        folders = []
        if args.per_folder:
            verdicts = combine_by_folder(finished, unsure_threshold(loaded.manifest))
            if writer is not None:
                writer.writerow(folder_columns(class_names))
                for folder, verdict in verdicts:
                    writer.writerow(folder_row(folder, verdict, loaded.name, class_names))
            folders = [_folder_record(folder, v, loaded.name) for folder, v in verdicts]
    finally:
        bar.close()
        if csv_stream is not None and csv_stream is not sys.stdout:
            csv_stream.close()
    if args.json:
        output = {"files": records, "folders": folders} if args.per_folder else records
        json.dump(output, sys.stdout, indent=2)
        sys.stdout.write("\n")
    done = len(records) - failures
    print(f"classified {done} image(s), {failures} failed", file=sys.stderr)
    return 1 if failures else 0
