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

from crystalview.batch.output_names import MirroredNames
from crystalview.cli.progress_bar import TerminalProgress
from crystalview.core.errors import CrystalViewError, about
from crystalview.inference.settings import DEVICES

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
    parser.add_argument("--device", choices=DEVICES, default="auto", help="where to run")
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
    batch = parser.add_argument_group(
        "large runs",
        "streamed, resumable output, job-array shards and Dask clusters (see docs/cluster.md)",
    )
    batch.add_argument(
        "--jsonl", type=Path, default=None, help="also stream one JSON object per file here"
    )
    batch.add_argument(
        "--resume",
        action="store_true",
        help="keep the rows already in --out and classify only the files not there yet "
        "(or changed since: other size or modification time, or failed before)",
    )
    batch.add_argument(
        "--shard", default=None, metavar="I/N", help="classify only part I of N (I from 1)"
    )
    batch.add_argument(
        "--workers",
        type=int,
        default=None,
        metavar="N",
        help="run on a local Dask cluster of N worker processes (needs crystalview[cluster])",
    )
    batch.add_argument(
        "--scheduler",
        default=None,
        metavar="ADDRESS",
        help="run on an existing Dask cluster, e.g. tcp://10.0.0.5:8786",
    )
    batch.add_argument(
        "--files-per-batch",
        type=int,
        default=8,
        metavar="K",
        help="files per Dask task (default 8)",
    )
    # Heat maps of the predicted class, made by the process that classified the file.
    parser.add_argument(
        "--cam-dir",
        type=Path,
        default=None,
        help="also write a class-activation map (TIFF + PNG overlay) per image into this folder "
        "(sub-folders of the inputs are mirrored there, so same-named files never collide); "
        "with --workers/--scheduler the workers write the maps, so on a cluster it must be a "
        "folder every worker can write to",
    )


def folder_columns(class_names: list[str]) -> list[str]:
    return FOLDER_COLUMNS + [f"p_{name}" for name in class_names]


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
    from crystalview.batch.records import json_record, record_of_result

    return json_record(record_of_result(result))


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


def _report_replaced(replaced: list[Path]) -> None:
    """Say which heat-map files of an earlier run are (being) replaced, a few by name."""
    if replaced:
        shown = ", ".join(map(str, replaced[:4]))
        more = f" and {len(replaced) - 4} more" if len(replaced) > 4 else ""
        print(f"crystalview: replacing {shown}{more}", file=sys.stderr)


def _check_flags(args: argparse.Namespace) -> None:
    """Refuse contradictory flags before anything is loaded."""
    if not 0 <= args.overlap < 1:
        raise CrystalViewError(f"--overlap must be in [0, 1), got {args.overlap}")
    if args.batch < 1:
        raise CrystalViewError(f"--batch must be at least 1, got {args.batch}")
    if args.files_per_batch < 1:
        raise CrystalViewError(f"--files-per-batch must be at least 1, got {args.files_per_batch}")
    if args.workers is not None and args.workers < 1:
        raise CrystalViewError(f"--workers must be at least 1, got {args.workers}")
    if args.workers is not None and args.scheduler is not None:
        raise CrystalViewError("give --workers (a local cluster) or --scheduler, not both")
    if args.resume and args.out is None:
        raise CrystalViewError("--resume needs --out: the CSV file to continue")
    on_cluster = args.workers is not None or args.scheduler is not None
    if args.per_folder:
        batch_flags = ("resume", "shard", "workers", "scheduler", "jsonl")
        given = [f"--{name}" for name in batch_flags if getattr(args, name) not in (None, False)]
        if given:
            raise CrystalViewError(
                "--per-folder combines a whole run at its end; "
                f"it does not go with {', '.join(given)}"
            )
    if on_cluster:
        from crystalview.batch.cluster import require_dask

        require_dask()


def run(args: argparse.Namespace) -> int:
    from crystalview.inference.device import configure_threads
    from crystalview.inference.settings import InferenceSettings
    from crystalview.models.catalog import load_model

    _check_flags(args)
    shard = None
    if args.shard is not None:
        from crystalview.batch.shard import parse_shard

        shard = parse_shard(args.shard)
    configure_threads(reserve=0)  # headless: no window to keep responsive
    loaded = load_model(args.model)
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
    if args.per_folder:
        return _run_per_folder(args, loaded, settings)
    return _run_files(args, loaded, settings, shard)


def _run_files(args: argparse.Namespace, loaded, settings, shard) -> int:
    """One row per file, streamed as batches finish (`crystalview.batch`)."""
    from crystalview.batch.job import BatchOptions, run_batch
    from crystalview.batch.records import json_record

    options = BatchOptions(
        out=args.out,
        jsonl=args.jsonl,
        resume=args.resume,
        shard=shard,
        workers=args.workers,
        scheduler=args.scheduler,
        files_per_batch=args.files_per_batch,
        cam_dir=args.cam_dir,
    )
    stdout = sys.stdout if args.out is None and not args.json else None
    bar = TerminalProgress("classify")
    try:
        summary = run_batch(loaded, args.model, args.paths, settings, options, stdout, bar)
    finally:
        bar.close()
    _report_replaced(summary.replaced_maps)
    for record in summary.records:
        if not record.ok:
            print(f"crystalview: {about(Path(record.path), record.error)}", file=sys.stderr)
    if args.json:
        json.dump([json_record(r) for r in summary.records], sys.stdout, indent=2)
        sys.stdout.write("\n")
    done = len(summary.records) - summary.failures
    before = f", {summary.skipped} done before" if summary.skipped else ""
    print(f"classified {done} image(s), {summary.failures} failed{before}", file=sys.stderr)
    return 1 if summary.failures else 0


def _run_per_folder(args: argparse.Namespace, loaded, settings) -> int:
    """One combined verdict per folder, written when the whole run is done."""
    from crystalview.batch.cam_maps import CamPlace, existing_outputs, write_cam
    from crystalview.inference.predict import predict_paths
    from crystalview.inference.status import unsure_threshold

    class_names = list(loaded.manifest.classes)
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
        job = predict_paths(loaded, args.paths, settings)
        for event in job:
            bar(event)
            result = event.partial
            if result is None:
                continue
            if result.prediction is not None and cam_names is not None:
                folder, stem = cam_names.place(result.path)
                place = CamPlace(str(folder), stem)
                _report_replaced(existing_outputs([place]))
                try:
                    write_cam(loaded, settings, result.path, result.prediction.label, place)
                except (CrystalViewError, OSError, ValueError) as error:
                    result.error = f"class-activation map failed: {error}"
            if result.prediction is None or result.error:
                failures += 1
                print(f"crystalview: {about(result.path, result.error)}", file=sys.stderr)
            records.append(_json_record(result))
            finished.append(result)
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
        json.dump({"files": records, "folders": folders}, sys.stdout, indent=2)
        sys.stdout.write("\n")
    done = len(records) - failures
    print(f"classified {done} image(s), {failures} failed", file=sys.stderr)
    return 1 if failures else 0
