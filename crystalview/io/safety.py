"""Guards every read: file sanity, a memory budget checked before decoding, and a hard timeout.

Why a thread and not a subprocess for the timeout
-------------------------------------------------
The readers are C-accelerated libraries (tifffile/imagecodecs, h5py, rosettasciio) that could, on
a malicious or damaged file, loop for a long time. A subprocess could be killed, but it would cost
every read a new interpreter (about a second to import numpy, tifffile and rosettasciio) and a
pickled copy of the pixels back across a pipe, which is too slow for a gallery of hundreds of
files and doubles peak memory for big images. Instead each read runs in a daemon worker thread and
the caller waits at most ``timeout_s``; if the worker has not finished, the caller gets a
`ReadTimeoutError` at once and the program stays responsive.

The abandoned thread is then asked to stop: an exception is set asynchronously in it, which
Python raises as soon as the thread next runs Python bytecode. That ends the pathological loops
we have met (rosettasciio's DigitalMicrograph parser spends quadratic time on a struct that
claims two billion fields, in pure Python), which would otherwise keep a core busy and memory
growing for as long as the program runs. A thread stuck inside C code cannot be stopped this
way; it finishes or dies with the process, and since we checked the decoded size against the
memory budget *before* it started, the most it can hold is one budget's worth of memory. This is
the trade-off we accept.
"""

from __future__ import annotations

import ctypes
import errno
import stat
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import numpy as np

from crystalview.core.errors import (
    CorruptFileError,
    CrystalViewError,
    FileTooLargeError,
    ReadTimeoutError,
    UnsupportedFormatError,
)
from crystalview.core.memory import format_bytes, memory_budget_bytes

T = TypeVar("T")

DEFAULT_TIMEOUT_S = 10.0


_PATH_PROBLEMS = {
    errno.ENOENT: "file not found",
    errno.ENOTDIR: "file not found (a folder on the way is a file)",
    errno.ELOOP: "the path is a loop of symbolic links",
    errno.ENAMETOOLONG: "the path is longer than the system allows",
    errno.EACCES: "permission denied",
}


def check_file(path: Path) -> None:
    """Refuse paths that cannot be an image file: missing, a folder, empty, or not regular.

    Uses one ``stat`` (following links) and never opens the file, so a FIFO, socket or device
    is refused before a read could block on it.
    """
    try:
        info = path.stat()
    except OSError as error:
        reason = _PATH_PROBLEMS.get(error.errno, error.strerror or str(error))
        raise CrystalViewError(f"{path}: {reason}.") from None
    except ValueError as error:  # e.g. a NUL byte in the name
        raise CrystalViewError(f"{path}: not a valid file name ({error}).") from None
    if stat.S_ISDIR(info.st_mode):
        raise UnsupportedFormatError(f"{path}: is a folder, not an image file.")
    if not stat.S_ISREG(info.st_mode):
        raise UnsupportedFormatError(
            f"{path}: is not a regular file (a pipe, socket or device); it cannot be an image."
        )
    if info.st_size == 0:
        raise CorruptFileError(f"{path}: the file is empty (0 bytes); it was probably not saved.")


def decoded_size(shape: tuple[int, ...], dtype: np.dtype | str) -> int:
    """Bytes needed to hold an array of ``shape`` and ``dtype`` (Python ints: no overflow)."""
    count = 1
    for extent in shape:
        count *= max(0, int(extent))
    return count * np.dtype(dtype).itemsize


def check_budget(
    path: Path, shape: tuple[int, ...], dtype: np.dtype | str, budget: int | None = None
) -> None:
    """Raise `FileTooLargeError` when decoding ``shape``/``dtype`` would exceed the budget.

    Called with the size the *header claims*, before anything is allocated, so a lying header
    cannot make us allocate.
    """
    limit = memory_budget_bytes() if budget is None else int(budget)
    needed = decoded_size(shape, dtype)
    if needed > limit:
        dims = " x ".join(str(int(n)) for n in shape)
        raise FileTooLargeError(
            f"{path}: the image is too large to open: {dims} {np.dtype(dtype)} pixels need "
            f"{format_bytes(needed)} of memory, more than the memory budget of "
            f"{format_bytes(limit)}. Raise the budget (CRYSTALVIEW_MEMORY_BUDGET_MB) or crop "
            "the image in the acquisition software."
        )


# Decoded sizes above this are checked against the file size: a small file that claims to
# expand more than `MAX_EXPANSION` times is a decompression bomb or a lying header. Microscope
# images carry noise and compress a few times at most; even a blank frame stays far below this.
EXPANSION_CHECK_BYTES = 256 * 1024**2
MAX_EXPANSION = 1000


def check_expansion(path: Path, decoded_bytes: int) -> None:
    """Refuse a file whose images would decode to more than `MAX_EXPANSION` times its size.

    The memory budget alone lets a 50 kB PNG claiming 30000 x 30000 pixels through on a big
    machine, and its decoder, once started, cannot be stopped (see `run_with_timeout`).
    """
    file_size = max(1, path.stat().st_size)
    if decoded_bytes > EXPANSION_CHECK_BYTES and decoded_bytes > MAX_EXPANSION * file_size:
        raise FileTooLargeError(
            f"{path}: the file has {format_bytes(file_size)} but says its image needs "
            f"{format_bytes(decoded_bytes)} ({decoded_bytes // file_size}x more); refused as a "
            "decompression bomb or a damaged header."
        )


class _ReadAbandoned(BaseException):
    """Raised inside a reader thread whose caller gave up, to stop whatever Python it runs."""


def _stop_thread(thread: threading.Thread) -> None:
    """Ask ``thread`` to raise `_ReadAbandoned` at its next Python bytecode (best effort)."""
    if thread.ident is not None:
        ctypes.pythonapi.PyThreadState_SetAsyncExc(
            ctypes.c_ulong(thread.ident), ctypes.py_object(_ReadAbandoned)
        )


def run_with_timeout(function: Callable[[], T], path: Path, timeout_s: float | None) -> T:
    """Run ``function`` in a daemon thread; raise `ReadTimeoutError` after ``timeout_s`` seconds.

    Exceptions raised by ``function`` are re-raised in the caller; on a timeout the thread is
    asked to stop (see the module notes). ``timeout_s`` of ``None`` or ``<= 0`` runs inline
    (used by the worker threads of the GUI that already have their own).
    """
    if timeout_s is None or timeout_s <= 0:
        return function()
    outcome: dict[str, object] = {}

    def worker() -> None:
        try:
            outcome["value"] = function()
        except BaseException as error:  # handed to the caller, re-raised there
            outcome["error"] = error

    thread = threading.Thread(target=worker, name=f"read {path.name}", daemon=True)
    thread.start()
    thread.join(timeout_s)
    if thread.is_alive():
        _stop_thread(thread)
        raise ReadTimeoutError(
            f"{path}: reading took longer than {timeout_s:g} s and was stopped; the file may be "
            "damaged or on a slow network drive."
        )
    if "error" in outcome:
        raise outcome["error"]  # type: ignore[misc]
    return outcome["value"]  # type: ignore[return-value]
