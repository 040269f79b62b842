"""Atomic file replacement: a crash, a kill or a power cut leaves the old file or the new one.

Label projects and model bundles are the user's work; both are written through `atomic_replace`
so that no moment exists at which the file on disk is half written.
"""

from __future__ import annotations

import contextlib
import errno
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO


@contextlib.contextmanager
def atomic_replace(path: str | os.PathLike[str], mode: str = "wb") -> Iterator[IO]:
    """Write to a temporary file beside ``path``; on success put it in place of ``path``.

    The data reach the disk (``fsync``) before the rename and the folder is synced after it.
    On any exception the temporary file is removed and ``path`` is left as it was. Raises
    ``NotADirectoryError`` when a file stands where the folder should be (rather than the
    misleading "file exists" that ``mkdir`` reports).
    """
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except FileExistsError:
        raise NotADirectoryError(errno.ENOTDIR, os.strerror(errno.ENOTDIR), str(path)) from None
    handle, temp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    encoding = None if "b" in mode else "utf-8"
    try:
        with os.fdopen(handle, mode, encoding=encoding) as stream:
            yield stream
            stream.flush()
            os.fsync(stream.fileno())
        give_default_mode(temp_name)
        os.replace(temp_name, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temp_name)
        raise
    _fsync_folder(path.parent)


def give_default_mode(path: str | os.PathLike[str]) -> None:
    """Give a file made by `tempfile.mkstemp` (always 0600) the mode a plain ``open`` would:
    0666 less the user's umask. Models and projects are meant to be shared with colleagues."""
    umask = os.umask(0)
    os.umask(umask)  # reading the umask means setting it; put it straight back
    with contextlib.suppress(OSError):  # file systems without Unix modes
        os.chmod(path, 0o666 & ~umask)


def _fsync_folder(folder: Path) -> None:
    """Make the rename itself durable; not every platform or file system allows it."""
    if not hasattr(os, "O_DIRECTORY"):
        return
    try:
        descriptor = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    except OSError:
        return
    try:
        os.fsync(descriptor)
    except OSError:
        pass
    finally:
        os.close(descriptor)
