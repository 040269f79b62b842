"""`open_image` / `open_images`: the one entry point every part of CrystalView reads through.

Order of work: sanity-check the path, pick the reader by content, let it describe the datasets
from headers and metadata, order them (primary first), check the sizes they claim against the
memory budget, and only then decode — all inside a worker with a timeout. Any library exception
becomes a `CrystalViewError` that names the file.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from crystalview.core.errors import (
    CorruptFileError,
    CrystalViewError,
    FileTooLargeError,
    MissingCodecError,
    UnsupportedFormatError,
)
from crystalview.core.memory import format_bytes, memory_budget_bytes
from crystalview.core.micrograph import Micrograph
from crystalview.io.dataset import PendingImage
from crystalview.io.registry import Format, detect_format, preload_libraries
from crystalview.io.safety import (
    DEFAULT_TIMEOUT_S,
    check_budget,
    check_expansion,
    check_file,
    decoded_size,
    run_with_timeout,
)

log = logging.getLogger(__name__)
T = TypeVar("T")


def _translate_errors(path: Path, fmt: Format, step: Callable[[], T], budget: int | None) -> T:
    """Run ``step``; library exceptions become `CrystalViewError` subclasses naming the file."""
    try:
        return step()
    except CrystalViewError:
        raise
    except MemoryError as error:
        limit = memory_budget_bytes() if budget is None else budget
        raise FileTooLargeError(
            f"{path}: ran out of memory while decoding (budget {format_bytes(limit)})."
        ) from error
    except ImportError as error:
        raise MissingCodecError(
            f"{path}: a decoder this file needs is missing ({error})."
        ) from error
    except Exception as error:
        text = str(error)
        if "imagecodecs" in text or "codec" in text.lower():
            raise MissingCodecError(
                f"{path}: the image uses a compression this installation cannot decode ({text})."
            ) from error
        log.debug("reader failed on %s", path, exc_info=True)
        raise CorruptFileError(
            f"{path}: the {fmt.name.upper()} file could not be read; it looks damaged or "
            f"truncated ({type(error).__name__}: {text or 'no detail'})."
        ) from error


def _check_total(path: Path, chosen: list[PendingImage], budget: int | None) -> None:
    """Each dataset, and all of them together, must fit the memory budget and the file size."""
    for pending in chosen:
        check_budget(path, pending.shape, pending.dtype, budget)
    total = sum(decoded_size(pending.shape, pending.dtype) for pending in chosen)
    check_expansion(path, total)
    limit = memory_budget_bytes() if budget is None else budget
    if total > limit:
        raise FileTooLargeError(
            f"{path}: the {len(chosen)} images in this file need {format_bytes(total)} "
            f"together, more than the memory budget of {format_bytes(limit)}; open only the "
            "first image, or raise the budget (CRYSTALVIEW_MEMORY_BUDGET_MB)."
        )


def _read(path: Path, budget: int | None, primary_only: bool) -> list[Micrograph]:
    fmt = detect_format(path)
    pending = _translate_errors(path, fmt, lambda: fmt.reader(path), budget)
    if not pending:
        raise UnsupportedFormatError(
            f"{path}: the file holds no image (only spectra, line plots or empty datasets)."
        )
    pending.sort(key=PendingImage.primary_rank)
    chosen = pending[:1] if primary_only else pending
    _check_total(path, chosen, budget)
    images = [_translate_errors(path, fmt, lambda p=p: p.decode(path), budget) for p in chosen]
    for index, image in enumerate(images):
        image.dataset_index = index
        image.dataset_count = len(pending)
    return images


def _open(
    path: str | Path, memory_budget: int | None, timeout_s: float | None, primary_only: bool
) -> list[Micrograph]:
    path = Path(path)
    check_file(path)
    preload_libraries(path)
    return run_with_timeout(lambda: _read(path, memory_budget, primary_only), path, timeout_s)


def open_images(
    path: str | Path,
    *,
    memory_budget: int | None = None,
    timeout_s: float | None = DEFAULT_TIMEOUT_S,
) -> list[Micrograph]:
    """Every image dataset in the file, primary (real-space, calibrated, grey) image first.

    Parameters
    ----------
    path
        Any supported microscope or plain image file.
    memory_budget
        Largest decoded size in bytes; defaults to `crystalview.core.memory.memory_budget_bytes`.
    timeout_s
        Reading is abandoned with `ReadTimeoutError` after this many seconds (``None``: no limit).

    Raises
    ------
    CrystalViewError
        A subclass naming the file: unsupported, corrupt/truncated, too large, missing codec,
        timed out.
    """
    return _open(path, memory_budget, timeout_s, primary_only=False)


def open_image(
    path: str | Path,
    *,
    memory_budget: int | None = None,
    timeout_s: float | None = DEFAULT_TIMEOUT_S,
) -> Micrograph:
    """The primary image of the file, decoding no other dataset.

    The first frame is shown; stacks are kept as ``(frames, H, W)``. ``dataset_count`` tells how
    many images the file holds (see `open_images`).
    """
    return _open(path, memory_budget, timeout_s, primary_only=True)[0]
