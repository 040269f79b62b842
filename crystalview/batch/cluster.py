"""Batches of files on a Dask cluster: local worker processes or an existing scheduler.

We do not schedule anything ourselves: each batch is one Dask task (`worker.classify_batch`),
Dask places it, and when a worker dies it runs the batch again elsewhere. Our side is
idempotent: `stream.ResultSink` drops a second record for a path. A batch whose task fails for
good (an unexpected exception, or Dask giving up after repeated worker deaths) comes back as
one error record per file, so no file is ever silently lost.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from pathlib import Path

from crystalview.batch.cam_maps import CamPlace
from crystalview.batch.records import FileRecord, error_record
from crystalview.batch.worker import ModelReference, classify_batch
from crystalview.core.errors import CrystalViewError

INSTALL_HINT = (
    "running on a Dask cluster needs the optional extra: pip install 'crystalview[cluster]' "
    "(dask and distributed)"
)


def require_dask() -> None:
    """Raise a `CrystalViewError` saying how to install the extra when Dask is missing."""
    try:
        import dask  # noqa: F401
        import distributed  # noqa: F401
    except ImportError:
        raise CrystalViewError(INSTALL_HINT) from None


def local_torch_threads(n_workers: int, cores: int) -> int:
    """torch threads per worker so that ``n_workers`` together use ``cores``, not more."""
    return max(1, cores // max(1, n_workers))


@contextlib.contextmanager
def open_client(workers: int | None = None, scheduler: str | None = None):
    """A Dask client on ``scheduler``, or on a new local cluster of ``workers`` processes.

    Yields ``(client, torch_threads)``: the threads each task should use (None on an existing
    cluster, where every worker uses the cores it was started with, ``dask worker --nthreads``).
    """
    require_dask()
    from distributed import Client, LocalCluster

    from crystalview.inference.device import available_cores

    if scheduler is not None:
        try:
            client = Client(scheduler, timeout="20s")
        except (OSError, TimeoutError) as error:
            raise CrystalViewError(
                f"cannot reach the Dask scheduler at {scheduler}: {error}"
            ) from error
        try:
            yield client, None
        finally:
            client.close()
        return
    n_workers = max(1, int(workers or 1))
    threads = local_torch_threads(n_workers, available_cores())
    cluster = LocalCluster(
        n_workers=n_workers,
        threads_per_worker=1,
        processes=True,
        dashboard_address=None,
        host="127.0.0.1",
        silence_logs=40,  # errors only: stderr is for our progress
    )
    client = Client(cluster)
    try:
        yield client, threads
    finally:
        client.close()
        # a worker still importing torch is killed on close; that is not news for the user
        logging.getLogger("distributed.nanny").setLevel(logging.ERROR)
        cluster.close()


def batches_of(files: list[Path], size: int) -> list[list[str]]:
    """``files`` as lists of at most ``size`` paths (strings travel lighter than Paths)."""
    size = max(1, size)
    return [[str(p) for p in files[i : i + size]] for i in range(0, len(files), size)]


def classify_on_cluster(
    client,
    reference: ModelReference,
    files: list[Path],
    settings,
    files_per_batch: int,
    torch_threads: int | None,
    model_name: str = "",
    places: dict[str, CamPlace] | None = None,
) -> Iterator[list[FileRecord]]:
    """Yield the records of each batch as it finishes, in completion order.

    ``places`` (by path) makes the workers write each file's heat map there (``--cam-dir``):
    the folder must be one the workers can write to (shared storage on a real cluster).
    """
    from distributed import as_completed

    futures = {}
    for batch in batches_of(files, files_per_batch):
        batch_places = [places.get(p) for p in batch] if places is not None else None
        future = client.submit(
            classify_batch, reference, batch, settings, torch_threads, batch_places, pure=False
        )
        futures[future] = batch
    try:
        for future in as_completed(futures):
            batch = futures[future]
            try:
                records = future.result()
            except Exception as error:  # any task failure becomes error rows
                message = f"batch failed on the cluster: {type(error).__name__}: {error}"
                records = [error_record(path, message, model_name) for path in batch]
            future.release()
            yield records
    finally:
        for future in futures:
            future.cancel()
