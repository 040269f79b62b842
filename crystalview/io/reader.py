"""`open_image` / `open_images`: the one entry point every part of CrystalView reads through.

Order of work: sanity-check the path, pick the reader by content, run it in a worker with a
timeout, and turn any library exception into a `CrystalViewError` that names the file. Readers
check the decoded size against the memory budget before they allocate.
"""

from __future__ import annotations

import logging
from pathlib import Path

from crystalview.core.errors import (
    CorruptFileError,
    CrystalViewError,
    FileTooLargeError,
    MissingCodecError,
    UnsupportedFormatError,
)
from crystalview.core.memory import format_bytes, memory_budget_bytes
from crystalview.core.micrograph import Micrograph
from crystalview.io.registry import detect_format
from crystalview.io.safety import DEFAULT_TIMEOUT_S, check_file, run_with_timeout
from crystalview.io.signals import order_primary_first

log = logging.getLogger(__name__)


def _read(path: Path, budget: int | None) -> list[Micrograph]:
    fmt = detect_format(path)
    try:
        images = fmt.reader(path, budget)
    except CrystalViewError:
        raise
    except MemoryError as error:
        limit = memory_budget_bytes() if budget is None else budget
        raise FileTooLargeError(
            f"{path}: ran out of memory while decoding (budget {format_bytes(limit)})."
        ) from error
    except (ImportError, ModuleNotFoundError) as error:
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
    if not images:
        raise UnsupportedFormatError(
            f"{path}: the file holds no image (only spectra, line plots or empty datasets)."
        )
    return order_primary_first(images)


def open_images(
    path: str | Path,
    *,
    memory_budget: int | None = None,
    timeout_s: float | None = DEFAULT_TIMEOUT_S,
) -> list[Micrograph]:
    """Every image dataset in the file, primary (real-space) image first.

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
    path = Path(path)
    check_file(path)
    return run_with_timeout(lambda: _read(path, memory_budget), path, timeout_s)


def open_image(
    path: str | Path,
    *,
    memory_budget: int | None = None,
    timeout_s: float | None = DEFAULT_TIMEOUT_S,
) -> Micrograph:
    """The primary image of the file (first frame shown; stacks kept as ``(frames, H, W)``)."""
    return open_images(path, memory_budget=memory_budget, timeout_s=timeout_s)[0]
