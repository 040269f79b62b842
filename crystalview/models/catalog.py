"""The models a user can pick: built-in bundles shipped in ``models/`` plus their own ones.

A model's name is its file name without ``.cvmodel``; imports get a versioned name
(``name-2``, ``name-3`` …) rather than overwriting anything. Listing reads only each bundle's
``model.json``, so it is cheap; a broken file is skipped with a warning instead of hiding the rest.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from crystalview import paths
from crystalview.core.atomic import give_default_mode
from crystalview.core.errors import ModelBundleError, SaveError, save_failure_message
from crystalview.models.bundle_format import BUNDLE_SUFFIX, read_manifest
from crystalview.models.manifest import ModelManifest

if TYPE_CHECKING:
    from crystalview.models.bundle import LoadedModel

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ModelEntry:
    """One model in the catalogue."""

    name: str
    path: Path
    manifest: ModelManifest
    builtin: bool


def _bundles_in(folder: Path) -> list[Path]:
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir() if p.suffix == BUNDLE_SUFFIX and p.is_file())


def list_models() -> list[ModelEntry]:
    """Built-in models first, then the user's, each sorted by name; unreadable ones skipped."""
    entries: list[ModelEntry] = []
    for folder, builtin in ((paths.builtin_models_dir(), True), (paths.user_models_dir(), False)):
        for path in _bundles_in(folder):
            try:
                manifest = read_manifest(path)
            except ModelBundleError as error:
                log.warning("skipping model %s: %s", path, error)
                continue
            entries.append(ModelEntry(path.stem, path, manifest, builtin))
    return entries


def resolve_model(name_or_path: str | os.PathLike) -> Path:
    """The bundle file for a catalogue name or an existing file path.

    Raises
    ------
    ModelBundleError
        Neither a file nor a known model name (the message lists the known names).
    """
    candidate = Path(name_or_path)
    if candidate.is_file():
        return candidate
    if candidate.is_dir():
        raise ModelBundleError(
            f"{candidate} is a folder, not a model file (a {BUNDLE_SUFFIX} file is one zip file)"
        )
    text = str(name_or_path)
    entries = list_models()
    for entry in entries:
        if entry.name == text or entry.name == text.removesuffix(BUNDLE_SUFFIX):
            return entry.path
    known = ", ".join(entry.name for entry in entries) or "none installed"
    if len(candidate.parts) > 1:  # a path, not a name: say that the file is missing
        raise ModelBundleError(f"{candidate}: no such model file (installed models: {known})")
    raise ModelBundleError(f"no model called {text!r} (known models: {known})")


def load_model(name_or_path: str | os.PathLike, device: str = "cpu") -> LoadedModel:
    """Resolve and fully load a model (see `load_bundle`)."""
    from crystalview.models.bundle import load_bundle  # torch: only when a model is really used

    return load_bundle(resolve_model(name_or_path), device=device)


def _safe_stem(name: str) -> str:
    stem = re.sub(r"[^A-Za-z0-9_.-]+", "_", name.removesuffix(BUNDLE_SUFFIX)).strip("._")
    return stem[:80] or "model"


def unique_model_path(name: str) -> Path:
    """A path in the user models folder for ``name`` that no built-in or user model uses yet."""
    stem = _safe_stem(name)
    taken = {p.stem for p in _bundles_in(paths.builtin_models_dir())}
    taken |= {p.stem for p in _bundles_in(paths.user_models_dir())}
    candidate, version = stem, 1
    while candidate in taken:
        version += 1
        candidate = f"{stem}-{version}"
    return paths.user_models_dir() / f"{candidate}{BUNDLE_SUFFIX}"


def _place_without_overwriting(tmp: Path, destination: Path) -> None:
    """Move ``tmp`` to ``destination`` unless a file appeared there meanwhile."""
    try:
        os.link(tmp, destination)  # atomic, and fails if the name is taken
    except FileExistsError:
        raise ModelBundleError(f"{destination} appeared while importing; try again") from None
    except OSError:  # file systems without hard links
        if destination.exists():
            raise ModelBundleError(f"{destination} already exists; try again") from None
        os.replace(tmp, destination)


def import_model(path: str | os.PathLike) -> ModelEntry:
    """Fully validate a bundle, then copy it into the user models folder under a new name.

    Raises
    ------
    ModelBundleError
        The file is not a valid model (nothing is copied then).
    SaveError
        The models folder cannot take the copy (disk full, no permission); nothing is left there.
    """
    source = Path(path)
    from crystalview.models.bundle import load_bundle

    loaded = load_bundle(source)
    destination = unique_model_path(source.stem)
    try:
        _copy_in(source, destination)
    except OSError as error:
        raise SaveError(save_failure_message(destination, error)) from error
    return ModelEntry(destination.stem, destination, loaded.manifest, builtin=False)


def _copy_in(source: Path, destination: Path) -> None:
    """Copy to a temporary file in the models folder, then link it to its final name."""
    destination.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=destination.parent, prefix=".import-", suffix=".tmp")
    os.close(fd)
    try:
        shutil.copyfile(source, tmp)
        give_default_mode(tmp)
        _place_without_overwriting(Path(tmp), destination)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
