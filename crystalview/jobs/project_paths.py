"""Where a labelling project's file lives: the user's data folder, never beside the images.

Images may sit in a read-only or shared folder, or inside the installation (the demo images), so a
new project is saved under the user's data folder unless the user chooses a place. Projects that
earlier versions saved beside the images are still found and resumed.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Iterable
from pathlib import Path

from crystalview import paths

LEGACY_PROJECT_FILE_NAME = "crystalview-labels.json"
"""Projects were once saved next to the images under this name; they are still resumed."""


def _image_folder(images: Iterable[str | os.PathLike]) -> Path | None:
    folders = [str(Path(p).parent) for p in images]
    if not folders:
        return None
    try:
        return Path(os.path.commonpath(folders))
    except ValueError:  # images on different drives (Windows): the first image's folder
        return Path(folders[0])


def default_project_path(images: Iterable[str | os.PathLike]) -> Path | None:
    """Where a new project of these images is saved unless the user chooses (None: no images).

    The name is the images' folder name plus a short hash of its full path, so two folders
    called ``images`` never share a project and reopening the same folder finds its project.
    """
    folder = _image_folder(images)
    if folder is None:
        return None
    stem = re.sub(r"[^\w.-]+", "_", folder.name).strip("._") or "images"
    digest = hashlib.sha1(str(folder.resolve()).encode("utf-8")).hexdigest()[:8]
    return paths.user_data_dir() / "projects" / f"{stem}-{digest}-labels.json"


def existing_project_path(images: Iterable[str | os.PathLike]) -> Path | None:
    """The project file of these images' folder when there is one: in the user's data folder,
    or (saved by earlier versions) next to the images."""
    images = list(images)
    folder = _image_folder(images)
    if folder is None:
        return None
    for candidate in (default_project_path(images), folder / LEGACY_PROJECT_FILE_NAME):
        if candidate is not None and candidate.is_file():
            return candidate
    return None
