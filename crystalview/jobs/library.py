"""The open images: entries for the gallery, the background loading job, and a memory cap.

An `ImageEntry` is one image (one dataset of a file) as the gallery knows it: name, modality,
shape, calibration, and the decoded `Micrograph` while it fits in memory. Pixel data are dropped
from the oldest entries when the total passes a budget and re-read when the user comes back to
them, so a folder of a thousand large SEM images can be browsed without exhausting RAM.

`load_images` is the job that the window runs on a worker thread: it walks the given paths,
opens every image, and yields batches of new entries as partial results. It has no Qt in it.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Generator, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from crystalview.core.errors import CrystalViewError, FileTooLargeError
from crystalview.core.micrograph import Micrograph
from crystalview.core.progress import CancelToken, Progress

log = logging.getLogger(__name__)

# How often the loading job hands finished images to the window (seconds): often enough to see
# them arrive, rarely enough that a thousand small files are not a thousand model updates.
_BATCH_INTERVAL_S = 0.15


@dataclass(eq=False)
class ImageEntry:
    """One open image as the gallery shows it; ``micrograph`` is ``None`` once evicted."""

    path: Path
    dataset_index: int
    name: str
    modality: str
    shape: tuple[int, int]
    n_frames: int
    dtype: str
    pixel_size: float | None
    pixel_unit: str | None
    micrograph: Micrograph | None = None
    badge: tuple[str, str] | None = None
    """Prediction badge ``(text, colour name)``; set by the classification feature."""
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_micrograph(cls, micrograph: Micrograph) -> ImageEntry:
        assert micrograph.path is not None
        return cls(
            path=micrograph.path,
            dataset_index=micrograph.dataset_index,
            name=micrograph.display_name,
            modality=str(micrograph.modality),
            shape=micrograph.shape,
            n_frames=micrograph.n_frames,
            dtype=str(micrograph.data.dtype),
            pixel_size=micrograph.pixel_size,
            pixel_unit=micrograph.pixel_unit,
            micrograph=micrograph,
        )

    @property
    def nbytes(self) -> int:
        return 0 if self.micrograph is None else int(self.micrograph.data.nbytes)

    @property
    def key(self) -> tuple[str, int]:
        """Identity of the image: the same file and dataset is never opened twice."""
        return str(self.path), self.dataset_index


@dataclass
class LoadReport:
    """What a loading job did, for the summary notification."""

    n_files: int = 0
    n_images: int = 0
    skipped: list[Path] = field(default_factory=list)
    failures: list[tuple[Path, str]] = field(default_factory=list)


def _default_open(path: Path) -> list[Micrograph]:
    from crystalview.io import open_images

    try:
        return _with_stored_scales(open_images(path))
    except FileTooLargeError as error:
        return [_open_reduced_or_raise(path, error)]


def _open_reduced_or_raise(path: Path, too_large: FileTooLargeError) -> Micrograph:
    """A TIFF mosaic larger than the budget, at reduced resolution; else the original error."""
    from crystalview.io.reduced import open_reduced

    if path.suffix.lower() not in (".tif", ".tiff", ".btf", ".tf8"):
        raise too_large
    try:
        micrograph = open_reduced(path)
    except CrystalViewError:
        raise too_large from None
    from crystalview.measure.calibration import apply_stored_scale

    if apply_stored_scale(micrograph) and micrograph.pixel_size is not None:
        micrograph.pixel_size *= micrograph.downsampled  # a hand-set scale is per file pixel
    return micrograph


def _with_stored_scales(micrographs: list[Micrograph]) -> list[Micrograph]:
    """Apply the scales the user set by hand (Measure ▸ Set Scale) as images are opened, so
    the scale bar, tiling and classification use them like a calibration from the file."""
    from crystalview.measure.calibration import ScaleStore, apply_stored_scale

    store = ScaleStore()
    for micrograph in micrographs:
        apply_stored_scale(micrograph, store)
    return micrographs


def _default_find(paths: list[Path], cancel: CancelToken):
    from crystalview.io import find_images

    return find_images(paths, cancel=cancel)


def load_images(
    paths: Iterable[Path | str],
    cancel: CancelToken,
    open_file: Callable[[Path], list[Micrograph]] = _default_open,
    find: Callable[[list[Path], CancelToken], Any] = _default_find,
) -> Generator[Progress, None, LoadReport]:
    """Open every image under ``paths`` (files and folders, recursively).

    Yields `Progress` whose ``partial`` is a list of new `ImageEntry` (one batch); returns a
    `LoadReport` with the files that were skipped (not images) and those that failed, each with
    a reason a microscopist can act on. One bad file never stops the others.
    """
    yield Progress(0, 0, "Looking for images…")
    discovery = find([Path(p) for p in paths], cancel)
    report = LoadReport(skipped=list(discovery.skipped), failures=list(discovery.errors))
    files = list(discovery.files)
    report.n_files = len(files)
    batch: list[ImageEntry] = []
    last_yield = time.monotonic()
    for done, path in enumerate(files, start=1):
        cancel.raise_if_cancelled()
        try:
            batch.extend(ImageEntry.from_micrograph(m) for m in open_file(path))
        except CrystalViewError as error:
            report.failures.append((path, str(error)))
        except MemoryError:
            report.failures.append((path, "not enough memory to open it"))
        except Exception as error:  # a reader bug must not stop the other files
            log.exception("unexpected error while opening %s", path)
            report.failures.append((path, f"unexpected error ({type(error).__name__}: {error})"))
        now = time.monotonic()
        if batch and (now - last_yield >= _BATCH_INTERVAL_S or done == len(files) or done == 1):
            report.n_images += len(batch)
            yield Progress(done, len(files), path.name, partial=batch)
            batch, last_yield = [], now
        else:
            yield Progress(done, len(files), path.name)
    if batch:
        report.n_images += len(batch)
        yield Progress(len(files), len(files), "", partial=batch)
    return report


def reload_micrograph(entry: ImageEntry) -> Micrograph:
    """Read an evicted entry's image again (on a worker thread)."""
    from crystalview.io import open_image, open_images

    if entry.dataset_index == 0:
        try:
            return _with_stored_scales([open_image(entry.path)])[0]
        except FileTooLargeError as error:
            return _open_reduced_or_raise(entry.path, error)
    micrographs = open_images(entry.path)
    if entry.dataset_index >= len(micrographs):
        raise CrystalViewError(f"{entry.path.name}: image {entry.dataset_index} is gone")
    return _with_stored_scales([micrographs[entry.dataset_index]])[0]


def evict_to_budget(entries: Iterable[ImageEntry], budget_bytes: int, keep: ImageEntry | None):
    """Drop pixel data from the oldest entries until the total fits ``budget_bytes``.

    ``entries`` is in age order (oldest first); ``keep`` (the image on screen) is never dropped.
    Returns the entries that were evicted.
    """
    entries = list(entries)
    total = sum(e.nbytes for e in entries)
    evicted = []
    for entry in entries:
        if total <= budget_bytes:
            break
        if entry is keep or entry.micrograph is None:
            continue
        total -= entry.nbytes
        entry.micrograph = None
        evicted.append(entry)
    return evicted
