"""A batch classification job: discover, shard, resume, classify (here or on Dask), stream.

The CLI's ``classify`` runs this; a script or another front end can too. Discovery errors and
unreadable files become error records like any other failure.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

from crystalview.batch.cam_maps import CamPlace, existing_outputs, plan_cam_places
from crystalview.batch.progress import BatchProgress
from crystalview.batch.records import FileRecord, error_record, result_columns
from crystalview.batch.resume import finished_paths, remaining
from crystalview.batch.shard import take_shard
from crystalview.batch.stream import ResultSink
from crystalview.core.progress import Progress


@dataclass
class BatchOptions:
    """How to run a batch: where results go and where the work is done.

    ``shard`` is ``(I, N)`` or None; ``workers`` starts a local Dask cluster of that many
    processes and ``scheduler`` uses an existing one (both None: in this process).
    ``cam_dir`` also writes each answered file's heat map there, from the process that
    classified it (`crystalview.batch.cam_maps`).
    """

    out: Path | None = None
    jsonl: Path | None = None
    resume: bool = False
    shard: tuple[int, int] | None = None
    workers: int | None = None
    scheduler: str | None = None
    files_per_batch: int = 8
    cam_dir: Path | None = None


@dataclass
class BatchSummary:
    """What a job did: the records it wrote, how many files earlier runs had done, and the
    heat-map files of earlier runs it was asked to write again (they are replaced)."""

    records: list[FileRecord] = field(default_factory=list)
    skipped: int = 0
    replaced_maps: list[Path] = field(default_factory=list)

    @property
    def failures(self) -> int:
        return sum(1 for r in self.records if not r.ok)


def plan_files(
    paths: list[Path], shard: tuple[int, int] | None, cam_dir: Path | None = None
) -> tuple[list[Path], list, dict[str, CamPlace] | None]:
    """The image files under ``paths`` (this shard's part only), the discovery errors, and
    where each file's heat map goes when ``cam_dir`` is given.

    Map names are planned over all files, before the shard is taken, so the parts of a job
    array name their maps as one run would.
    """
    from crystalview.io import find_images

    discovery = find_images(paths)
    files = list(discovery.files)
    places = plan_cam_places(cam_dir, paths, files) if cam_dir is not None else None
    if shard is not None:
        files = take_shard(files, *shard)
    return files, list(discovery.errors), places


def run_batch(
    loaded,
    model_text: str,
    paths: list[Path],
    settings,
    options: BatchOptions,
    stdout: TextIO | None = None,
    on_progress: Callable[[Progress], None] | None = None,
) -> BatchSummary:
    """Classify every image under ``paths`` and stream the records into the sinks.

    ``loaded`` is the model as the client loaded it (for its classes, and for the serial run);
    ``model_text`` is what the user named (workers load it themselves). ``on_progress``
    receives files done, rate and time left.
    """
    class_names = list(loaded.manifest.classes)
    files, discovery_errors, places = plan_files(paths, options.shard, options.cam_dir)
    done_before: set[str] = set()
    if options.resume and options.out is not None:
        done_before = finished_paths(options.out, result_columns(class_names), options.jsonl)
    todo = remaining(files, done_before)
    summary = BatchSummary(skipped=len(files) - len(todo))
    if places is not None:
        summary.replaced_maps = existing_outputs([places[str(p)] for p in todo])
    progress = BatchProgress(len(todo), on_progress, summary.skipped)
    sink = ResultSink(
        options.out,
        class_names,
        options.jsonl,
        append=options.resume,
        already_written=done_before,
        stdout=stdout,
    )
    try:
        errors = [error_record(p, str(m), loaded.name) for p, m in discovery_errors]
        summary.records += sink.add(errors)
        if options.workers is None and options.scheduler is None:
            batches = _serial_batches(loaded, todo, settings, places)
        else:
            batches = _cluster_batches(loaded, model_text, todo, settings, options, places)
        for batch in batches:
            summary.records += sink.add(batch)
            progress.advance(len(batch))
    finally:
        sink.close()
    return summary


def _serial_batches(loaded, files, settings, places):
    from crystalview.batch.worker import classify_and_map
    from crystalview.inference.predict import make_runner

    runner = make_runner(loaded, settings)
    for path in files:
        place = places.get(str(path)) if places is not None else None
        yield [classify_and_map(loaded, runner, path, settings, place)]


def _cluster_batches(loaded, model_text, files, settings, options, places):
    from crystalview.batch.cluster import classify_on_cluster, open_client
    from crystalview.batch.worker import ModelReference

    reference = ModelReference.of(model_text)
    with open_client(options.workers, options.scheduler) as (client, threads):
        yield from classify_on_cluster(
            client,
            reference,
            files,
            settings,
            options.files_per_batch,
            threads,
            loaded.name,
            places,
        )
