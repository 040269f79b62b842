"""Classify a batch of files in one process, with the model loaded once per process.

This is the unit of work of every batch run: the serial run calls `classify_file` in the
client's process; on a Dask cluster each task is one `classify_batch` call, and the model,
its runner and the torch thread count live in a per-process cache (`_cache`), so a task ships
only the model's *name or path* and a list of file paths, never the weights. A lock makes the
tasks of one worker process take turns on its model (one owner per model), each with all the
torch threads the process was given.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass
from pathlib import Path

from crystalview.batch.cam_maps import CamPlace
from crystalview.batch.records import FileRecord, error_record, record_from_prediction

_lock = threading.Lock()
_cache: dict[tuple, tuple] = {}


@dataclass(frozen=True)
class ModelReference:
    """How a worker finds the model: a built-in/user model name or a bundle file path.

    ``mtime_ns`` of a file makes a changed bundle load afresh in a long-lived worker.
    """

    name_or_path: str
    mtime_ns: int | None = None

    @classmethod
    def of(cls, name_or_path: str) -> ModelReference:
        """A reference usable on other machines: files as absolute paths (shared storage)."""
        path = Path(name_or_path).expanduser()
        if path.is_file():
            return cls(str(path.resolve()), path.stat().st_mtime_ns)
        return cls(str(name_or_path))


def classify_file(loaded, runner, path: Path, settings) -> FileRecord:
    """Classify one file; every failure becomes an error record, never an exception."""
    from crystalview.core.errors import Cancelled, CrystalViewError
    from crystalview.core.memory import memory_budget_bytes
    from crystalview.core.progress import run_to_completion
    from crystalview.inference.predict import predict_micrograph
    from crystalview.inference.regions import needs_regions, predict_regions
    from crystalview.io import open_image

    try:
        large = needs_regions(Path(path), memory_budget_bytes())
        if large is not None:  # bigger than memory: strip by strip, map at tile resolution
            prediction = run_to_completion(predict_regions(loaded, large, settings, runner))
            return record_from_prediction(path, prediction, large.modality)
        micrograph = open_image(path)
        prediction = run_to_completion(
            predict_micrograph(loaded, micrograph, settings, runner=runner)
        )
    except Cancelled:
        raise
    except (CrystalViewError, OSError, ValueError, MemoryError, RuntimeError) as error:
        return error_record(path, str(error) or type(error).__name__, loaded.name)
    return record_from_prediction(path, prediction, str(micrograph.modality))


def classify_and_map(loaded, runner, path: Path, settings, place: CamPlace | None) -> FileRecord:
    """`classify_file`, then the heat map of the answer when ``place`` says where it goes.

    A map that fails turns the record into an error (the file is redone on ``--resume``).
    """
    from crystalview.batch.cam_maps import write_cam
    from crystalview.core.errors import CrystalViewError

    record = classify_file(loaded, runner, path, settings)
    if record.ok and place is not None:
        try:
            write_cam(loaded, settings, path, record.label, place)
        except (CrystalViewError, OSError, ValueError, MemoryError, RuntimeError) as error:
            record.error = f"class-activation map failed: {error}"
    return record


def _worker_threads() -> int:
    """Cores this worker process was given: its Dask thread count, else its CPU affinity."""
    try:
        from distributed import get_worker

        worker = get_worker()
        state = getattr(worker, "state", worker)
        return max(1, int(getattr(state, "nthreads", 0) or worker.nthreads))
    except (ImportError, ValueError, AttributeError):
        from crystalview.inference.device import available_cores

        return available_cores()


def _model_for(reference: ModelReference, settings, torch_threads: int | None):
    import torch

    from crystalview.inference.predict import make_runner
    from crystalview.models.catalog import load_model

    key = (reference, settings.device, settings.fast, settings.batch_size)
    if key not in _cache:
        _cache.clear()  # one model per process: a new one replaces the old
        loaded = load_model(reference.name_or_path)
        runner = make_runner(loaded, settings)
        _cache[key] = (loaded, runner)
    torch.set_num_threads(max(1, torch_threads or _worker_threads()))
    return _cache[key]


def classify_batch(
    reference: ModelReference,
    paths: list[str],
    settings,
    torch_threads: int | None = None,
    places: list[CamPlace | None] | None = None,
) -> list[FileRecord]:
    """The records of ``paths``, in order (the Dask task; also usable in-process).

    ``torch_threads`` None uses the cores the worker was given (``dask worker --nthreads``).
    ``places``, one per path, says where each heat map goes (``--cam-dir``); None: no maps.
    """
    places = places if places is not None else [None] * len(paths)
    if len(places) != len(paths):
        raise ValueError(f"{len(places)} heat-map places for {len(paths)} files")
    with _lock:
        loaded, runner = _model_for(reference, settings, torch_threads)
        return [
            classify_and_map(loaded, runner, Path(p), settings, place)
            for p, place in zip(paths, places, strict=True)
        ]


def process_id() -> int:
    """This process's id (tests and diagnostics ask workers for it)."""
    return os.getpid()
