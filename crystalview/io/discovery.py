"""Find the image files under folders the user dropped: recursive, loop-safe, error-tolerant."""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from crystalview.core.progress import CancelToken
from crystalview.io.registry import is_clearly_not_an_image, looks_like_microscope_data
from crystalview.io.tia import emi_sibling


@dataclass
class ImageDiscovery:
    """Result of a folder walk: image files, other files, and what could not be read."""

    files: list[Path] = field(default_factory=list)
    skipped: list[Path] = field(default_factory=list)
    errors: list[tuple[Path, str]] = field(default_factory=list)


def _is_covered_by_emi(path: Path) -> bool:
    """A TIA ``.ser`` whose ``.emi`` is in the folder: the ``.emi`` shows all its detectors."""
    return path.suffix.lower() == ".ser" and emi_sibling(path) is not None


def find_images(paths: Iterable[str | Path], cancel: CancelToken | None = None) -> ImageDiscovery:
    """Image files among ``paths``, walking folders recursively in sorted order.

    Symbolic links to folders are followed once (a folder already visited, by device and inode,
    is not entered again, so link loops end). Folders that cannot be listed are recorded in
    ``errors`` and the walk goes on.

    What is opened: inside folders, files whose names say microscope data (formats we read and
    vendor formats we do not read yet, which then fail with a reason), except a ``.ser`` with an
    ``.emi`` sibling (opening the ``.emi`` shows it); files named explicitly, unless clearly not
    an image (text, tables, sidecars). Everything else is ``skipped``: a file that might be
    microscope data is never dropped without a message.
    """
    result = ImageDiscovery()
    visited: set[tuple[int, int]] = set()

    def walk(folder: Path) -> None:
        if cancel is not None:
            cancel.raise_if_cancelled()
        try:
            stat = folder.stat()
        except OSError as error:
            result.errors.append((folder, error.strerror or str(error)))
            return
        key = (stat.st_dev, stat.st_ino)
        if key in visited:
            return
        visited.add(key)
        try:
            entries = sorted(os.scandir(folder), key=lambda entry: entry.name)
        except OSError as error:
            result.errors.append((folder, error.strerror or str(error)))
            return
        for entry in entries:
            entry_path = Path(entry.path)
            try:
                if entry.is_dir():
                    walk(entry_path)
                elif entry.is_file():
                    if looks_like_microscope_data(entry_path) and not _is_covered_by_emi(
                        entry_path
                    ):
                        result.files.append(entry_path)
                    else:
                        result.skipped.append(entry_path)
            except OSError as error:
                result.errors.append((entry_path, error.strerror or str(error)))

    for raw in paths:
        path = Path(raw)
        try:
            is_dir, is_file = path.is_dir(), path.is_file()
        except OSError as error:  # a name too long for the system, a permission problem …
            result.errors.append((path, error.strerror or str(error)))
            continue
        if is_dir:
            walk(path)
        elif is_file:
            (result.skipped if is_clearly_not_an_image(path) else result.files).append(path)
        else:
            result.errors.append((path, "not found"))
    return result
