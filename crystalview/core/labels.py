"""The labelling project: which images, which classes, which label each image has, and history.

Labels are the scientist's work, so this store is built never to lose them:

* every change is written at once (JSON to a temporary file, ``fsync``, then ``os.replace``), so
  killing the app at any moment leaves either the previous or the new file, never a torn one, and
  loses at most the change being made;
* image paths are stored relative to the project file when possible, so a folder moved or copied
  together with its project keeps working;
* images that have been moved or deleted are reported by `LabelProject.missing_files`, not fatal;
* every label change (single or bulk) is one undoable step, and the undo/redo history is saved
  with the labels, so reopening the project resumes where the user stopped.

Classes have a stable integer id: labels and history refer to ids, so renaming a class touches
neither. Keyboard keys ``1``-``9`` follow the class order.

No Qt and no torch here: the wizard (GUI) and the CLI both build on this module.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from crystalview.core.atomic import atomic_replace
from crystalview.core.errors import (
    CorruptFileError,
    CrystalViewError,
    SaveError,
    save_failure_message,
)

FORMAT_VERSION = 1
# Tableau-like palette: distinct on a grey micrograph and for the common colour-vision deficiencies.
DEFAULT_COLORS = (
    "#1f77b4",
    "#ff7f0e",
    "#2ca02c",
    "#d62728",
    "#9467bd",
    "#8c564b",
    "#e377c2",
    "#17becf",
    "#bcbd22",
    "#7f7f7f",
)

# Used when no image-recognising callable is given; the GUI/CLI pass crystalview.io's own test.
DEFAULT_IMAGE_SUFFIXES = frozenset(
    {
        ".tif",
        ".tiff",
        ".png",
        ".jpg",
        ".jpeg",
        ".bmp",
        ".dm3",
        ".dm4",
        ".emd",
        ".ser",
        ".mrc",
        ".h5",
        ".hdf5",
    }
)

# The history is capped by the number of image changes it holds, so the file stays small enough to
# rewrite on every keystroke; the oldest steps are dropped first.
MAX_HISTORY_CHANGES = 20_000

MIN_CLASS_COUNT = 5
MAX_CLASS_RATIO = 5.0


@dataclass(frozen=True)
class LabelClass:
    """One class the user labels with.

    Attributes
    ----------
    id
        Stable identifier; labels and history refer to it, so renames are free.
    name
        Name shown to the user and written into the trained model.
    color
        ``#rrggbb`` colour of the class's badge.
    key
        Keyboard key assigned from the class order (``"1"``-``"9"``), ``None`` after the ninth.
    """

    id: int
    name: str
    color: str
    key: str | None


@dataclass(frozen=True)
class ClassWarning:
    """A problem with the label counts the user should see before training.

    ``kind`` is ``"tiny"`` (fewer than `MIN_CLASS_COUNT` images), ``"unbalanced"`` (the largest
    class has more than `MAX_CLASS_RATIO` times the images of this one) or ``"too_few_classes"``.
    """

    kind: str
    class_name: str | None
    message: str


class LabelProjectError(CrystalViewError):
    """A labelling-project operation cannot be done (unknown class, duplicate name ...)."""


def default_is_image(path: Path) -> bool:
    """Guess from the suffix whether ``path`` is an image CrystalView can read."""
    return path.suffix.lower() in DEFAULT_IMAGE_SUFFIXES


def prediction_entropy(probabilities: Sequence[float]) -> float:
    """Shannon entropy (nats) of a class-probability vector; larger means less certain."""
    total = float(sum(probabilities))
    if total <= 0:
        return 0.0
    entropy = 0.0
    for p in probabilities:
        q = float(p) / total
        if q > 0:
            entropy -= q * math.log(q)
    return entropy


class LabelProject:
    """Images, classes, labels and undo/redo history, saved atomically after every change.

    Create with `LabelProject.create` (or `LabelProject(None)` for an unsaved, in-memory project)
    and reopen with `LabelProject.open`. All mutating methods save immediately when the project
    has a path; wrap many calls in `batch` to write once and make them a single undo step.

    Paths given to and returned by the API are absolute `Path` objects.
    """

    def __init__(self, path: str | os.PathLike[str] | None = None) -> None:
        self._path: Path | None = Path(path).absolute() if path is not None else None
        self._images: list[Path] = []
        self._image_set: set[Path] = set()
        self._classes: list[dict[str, Any]] = []  # {"id", "name", "color"} in display order
        self._next_class_id = 0
        self._labels: dict[Path, int] = {}
        self._undo: list[dict[str, Any]] = []
        self._redo: list[dict[str, Any]] = []
        self._batch_depth = 0
        self._batch_changes: list[tuple[Path, int | None, int | None]] | None = None
        self._dirty = False
        self._listeners: list[Callable[[], None]] = []

    # ----------------------------------------------------------------- creation and persistence
    @classmethod
    def create(
        cls,
        path: str | os.PathLike[str],
        images: Iterable[str | os.PathLike[str]] = (),
        classes: Iterable[str] = (),
    ) -> LabelProject:
        """Start a new project file at ``path`` (refuses to replace an existing one)."""
        project_path = Path(path)
        if project_path.exists():
            raise LabelProjectError(
                f"{project_path} already exists; open it to continue labelling, or pick a new name."
            )
        project = cls(project_path)
        with project.batch():
            for name in classes:
                project.add_class(name)
            project.add_images(images)
        project._undo.clear()
        project.save()
        return project

    @classmethod
    def open(cls, path: str | os.PathLike[str]) -> LabelProject:
        """Reopen a saved project, history included."""
        project_path = Path(path)
        try:
            text = project_path.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise LabelProjectError(f"No labelling project at {project_path}.") from None
        except OSError as error:
            raise LabelProjectError(
                f"Cannot read labelling project {project_path}: {error}"
            ) from None
        try:
            data = json.loads(text)
        except json.JSONDecodeError as error:
            raise CorruptFileError(
                f"Labelling project {project_path} is damaged (not valid JSON: {error})."
            ) from None
        project = cls(project_path)
        project._load_dict(data)
        return project

    @property
    def path(self) -> Path | None:
        """Project file, or ``None`` for an in-memory project."""
        return self._path

    def save_as(self, path: str | os.PathLike[str]) -> None:
        """Write the project to a new file and keep saving there (relative paths are redone)."""
        self._path = Path(path).absolute()
        self.save()

    def save(self) -> None:
        """Write the project atomically now (a no-op for in-memory projects)."""
        if self._path is None:
            self._dirty = False
            return
        try:
            _atomic_write_text(self._path, json.dumps(self._to_dict(), indent=1))
        except OSError as error:
            # The change stays in memory (still dirty), so a later save or flush retries it.
            self._dirty = True
            raise SaveError(save_failure_message(self._path, error)) from None
        self._dirty = False

    def flush(self) -> None:
        """Write pending changes, if any; the GUI calls it on close for certainty."""
        if self._dirty:
            self.save()

    def add_listener(self, callback: Callable[[], None]) -> None:
        """Call ``callback()`` after every change (the GUI refreshes counts and badges)."""
        self._listeners.append(callback)

    @contextmanager
    def batch(self):
        """Group several changes into one save and one undo step (imports, bulk edits)."""
        outer = self._batch_depth == 0
        if outer:
            self._batch_changes = []
        self._batch_depth += 1
        try:
            yield self
        finally:
            self._batch_depth -= 1
            if outer:
                changes, self._batch_changes = self._batch_changes, None
                if changes:
                    self._push_history({"kind": "labels", "changes": changes})
                self._changed()

    # ----------------------------------------------------------------------------- images
    @property
    def images(self) -> list[Path]:
        """Every image of the project, in the order added."""
        return list(self._images)

    def add_images(self, paths: Iterable[str | os.PathLike[str]]) -> int:
        """Add images (duplicates ignored); returns how many were new."""
        added = 0
        for raw in paths:
            image = _absolute(raw)
            if image not in self._image_set:
                self._images.append(image)
                self._image_set.add(image)
                added += 1
        if added:
            self._changed()
        return added

    def missing_files(self) -> list[Path]:
        """Images whose files no longer exist (moved or deleted), for the GUI to report."""
        return [p for p in self._images if not p.is_file()]

    def relocate(self, old: str | os.PathLike[str], new: str | os.PathLike[str]) -> None:
        """Point a moved image at its new place, keeping its label and history."""
        old_path, new_path = _absolute(old), _absolute(new)
        if old_path not in self._image_set:
            raise LabelProjectError(f"{old_path} is not part of this labelling project.")
        if new_path in self._image_set:
            raise LabelProjectError(f"{new_path} is already part of this labelling project.")
        self._images[self._images.index(old_path)] = new_path
        self._image_set.discard(old_path)
        self._image_set.add(new_path)
        if old_path in self._labels:
            self._labels[new_path] = self._labels.pop(old_path)
        for stack in (self._undo, self._redo):
            for entry in stack:
                entry["changes"] = [
                    (new_path if c[0] == old_path else c[0], c[1], c[2]) for c in entry["changes"]
                ]
        self._changed()

    # ---------------------------------------------------------------------------- classes
    @property
    def classes(self) -> list[LabelClass]:
        """Classes in display order, with their keyboard keys."""
        return [
            LabelClass(c["id"], c["name"], c["color"], str(i + 1) if i < 9 else None)
            for i, c in enumerate(self._classes)
        ]

    @property
    def class_names(self) -> list[str]:
        return [c["name"] for c in self._classes]

    def class_for_key(self, key: str) -> LabelClass | None:
        """The class a keyboard key (``"1"``-``"9"``) assigns, or ``None``."""
        for label_class in self.classes:
            if label_class.key == key:
                return label_class
        return None

    def add_class(self, name: str, color: str | None = None) -> LabelClass:
        """Add a class at the end; its colour is the first unused palette colour by default."""
        name = self._check_new_name(name)
        if color is None:
            used = {c["color"] for c in self._classes}
            unused = [c for c in DEFAULT_COLORS if c not in used]
            color = (
                unused[0] if unused else DEFAULT_COLORS[len(self._classes) % len(DEFAULT_COLORS)]
            )
        entry = {"id": self._next_class_id, "name": name, "color": _check_color(color)}
        self._next_class_id += 1
        self._classes.append(entry)
        self._changed()
        return self.classes[-1]

    def rename_class(self, old: str, new: str) -> None:
        """Rename a class; labels follow because they refer to the class id."""
        entry = self._class_entry(old)
        if new != old:
            entry["name"] = self._check_new_name(new)
        self._changed()

    def set_class_color(self, name: str, color: str) -> None:
        self._class_entry(name)["color"] = _check_color(color)
        self._changed()

    def move_class(self, name: str, index: int) -> None:
        """Reorder classes (keyboard keys follow the order)."""
        entry = self._class_entry(name)
        self._classes.remove(entry)
        self._classes.insert(max(0, min(index, len(self._classes))), entry)
        self._changed()

    def remove_class(self, name: str) -> None:
        """Remove a class and unlabel its images, as one undoable step."""
        entry = self._class_entry(name)
        index = self._classes.index(entry)
        changes = [(p, cid, None) for p, cid in self._labels.items() if cid == entry["id"]]
        for image, _, _ in changes:
            del self._labels[image]
        self._classes.remove(entry)
        self._push_history(
            {"kind": "remove_class", "class": dict(entry), "index": index, "changes": changes}
        )
        self._changed()

    # ----------------------------------------------------------------------------- labels
    def label_of(self, path: str | os.PathLike[str]) -> str | None:
        """Class name of an image, or ``None`` when unlabelled."""
        class_id = self._labels.get(_absolute(path))
        return None if class_id is None else self._name_of(class_id)

    @property
    def labels(self) -> dict[Path, str]:
        """Every labelled image and its class name."""
        return {p: self._name_of(cid) for p, cid in self._labels.items()}

    def set_label(
        self, paths: str | os.PathLike[str] | Iterable[str | os.PathLike[str]], cls: str | None
    ) -> int:
        """Label one image or many with class ``cls`` (``None`` clears) as one undo step.

        Returns the number of images whose label actually changed; images not yet in the project
        are added. Re-labelling with the same class records nothing.
        """
        if isinstance(paths, str | os.PathLike):
            paths = [paths]
        class_id = None if cls is None else self._class_entry(cls)["id"]
        changes: list[tuple[Path, int | None, int | None]] = []
        new_images = []
        for raw in paths:
            image = _absolute(raw)
            if image not in self._image_set:
                new_images.append(image)
            old = self._labels.get(image)
            if old != class_id:
                changes.append((image, old, class_id))
        if new_images:
            self._images.extend(new_images)
            self._image_set.update(new_images)
        self._apply(changes, forward=True)
        if self._batch_changes is not None:
            self._batch_changes.extend(changes)
        elif changes:
            self._push_history({"kind": "labels", "changes": changes})
        if changes or new_images:
            self._changed()
        return len(changes)

    @property
    def can_undo(self) -> bool:
        return bool(self._undo)

    @property
    def can_redo(self) -> bool:
        return bool(self._redo)

    def undo(self) -> bool:
        """Revert the last label step; returns ``False`` when there is nothing to undo."""
        if not self._undo:
            return False
        entry = self._undo.pop()
        if entry["kind"] == "remove_class":
            self._classes.insert(entry["index"], dict(entry["class"]))
        self._apply(entry["changes"], forward=False)
        self._redo.append(entry)
        self._changed()
        return True

    def redo(self) -> bool:
        """Re-apply the last undone step; returns ``False`` when there is nothing to redo."""
        if not self._redo:
            return False
        entry = self._redo.pop()
        self._apply(entry["changes"], forward=True)
        if entry["kind"] == "remove_class":
            self._classes = [c for c in self._classes if c["id"] != entry["class"]["id"]]
        self._undo.append(entry)
        self._changed()
        return True

    # -------------------------------------------------------------------- queries for the GUI
    def counts(self) -> dict[str, int]:
        """Number of labelled images per class (every class present, zeros included)."""
        result = {c["name"]: 0 for c in self._classes}
        for class_id in self._labels.values():
            result[self._name_of(class_id)] += 1
        return result

    def unlabelled(self) -> list[Path]:
        """Images without a label, in project order."""
        return [p for p in self._images if p not in self._labels]

    def images_of(self, cls: str) -> list[Path]:
        """Images labelled with class ``cls``, in project order."""
        class_id = self._class_entry(cls)["id"]
        return [p for p in self._images if self._labels.get(p) == class_id]

    def warnings(
        self, min_count: int = MIN_CLASS_COUNT, max_ratio: float = MAX_CLASS_RATIO
    ) -> list[ClassWarning]:
        """Problems to show before training: tiny classes, unbalanced classes, too few classes."""
        counts = self.counts()
        found: list[ClassWarning] = []
        if len(counts) < 2:
            found.append(
                ClassWarning("too_few_classes", None, "Training needs at least two classes.")
            )
        largest = max(counts.values(), default=0)
        for name, count in counts.items():
            if count < min_count:
                found.append(
                    ClassWarning(
                        "tiny",
                        name,
                        f"'{name}' has only {count} labelled image(s); label at least {min_count}.",
                    )
                )
            elif largest > max_ratio * count:
                found.append(
                    ClassWarning(
                        "unbalanced",
                        name,
                        f"'{name}' has {count} images against {largest} in the largest class; "
                        "the model may ignore it (class weighting helps, more labels help more).",
                    )
                )
        return found

    def order_by_uncertainty(self, probabilities: Mapping[Any, Sequence[float]]) -> list[Path]:
        """Unlabelled images, most uncertain first, so the next labels teach the model most.

        Uncertainty is the entropy of the predicted class probabilities. Unlabelled images
        without a prediction come last, in project order.
        """
        scores = {_absolute(p): prediction_entropy(v) for p, v in probabilities.items()}
        unlabelled = self.unlabelled()
        scored = [p for p in unlabelled if p in scores]
        scored.sort(key=lambda p: scores[p], reverse=True)  # stable: ties keep project order
        return scored + [p for p in unlabelled if p not in scores]

    def samples(self) -> tuple[list[tuple[Path, int]], list[str]]:
        """``(samples, class_names)`` for training: each labelled, existing image and class index.

        Classes with no labelled image are left out, so the model gets no empty class.
        """
        counts = self.counts()
        names = [n for n in self.class_names if counts[n] > 0]
        index = {n: i for i, n in enumerate(names)}
        samples = [
            (p, index[self._name_of(self._labels[p])])
            for p in self._images
            if p in self._labels and p.is_file()
        ]
        return samples, names

    # ---------------------------------------------------------------------- folder-tree import
    def import_folder_tree(
        self,
        root: str | os.PathLike[str],
        is_image: Callable[[Path], bool] = default_is_image,
    ) -> int:
        """Import an already-labelled tree: one subfolder per class, images inside (recursively).

        Missing classes are created; the labels form one undo step. Returns how many images were
        labelled. ``is_image`` decides what counts as an image (pass ``crystalview.io``'s test).
        """
        root_path = Path(root)
        if not root_path.is_dir():
            raise LabelProjectError(f"{root_path} is not a folder.")
        labelled = 0
        with self.batch():
            for folder in sorted(p for p in root_path.iterdir() if p.is_dir()):
                if folder.name.startswith("."):
                    continue
                files = sorted(p for p in folder.rglob("*") if p.is_file() and is_image(p))
                if not files:
                    continue
                if folder.name not in self.class_names:
                    self.add_class(folder.name)
                labelled += self.set_label(files, folder.name)
        return labelled

    # ------------------------------------------------------------------------------ internals
    def _check_new_name(self, name: str) -> str:
        name = name.strip()
        if not name:
            raise LabelProjectError("A class needs a name.")
        if name in self.class_names:
            raise LabelProjectError(f"There is already a class called '{name}'.")
        return name

    def _class_entry(self, name: str) -> dict[str, Any]:
        for entry in self._classes:
            if entry["name"] == name:
                return entry
        raise LabelProjectError(f"No class called '{name}' in this labelling project.")

    def _name_of(self, class_id: int) -> str:
        for entry in self._classes:
            if entry["id"] == class_id:
                return entry["name"]
        raise LabelProjectError(f"Label refers to a removed class (id {class_id}).")

    def _apply(self, changes: Sequence[tuple[Path, int | None, int | None]], forward: bool) -> None:
        ordered = changes if forward else list(reversed(changes))
        for image, old, new in ordered:
            target = new if forward else old
            if target is None:
                self._labels.pop(image, None)
            else:
                self._labels[image] = target

    def _push_history(self, entry: dict[str, Any]) -> None:
        self._undo.append(entry)
        self._redo.clear()
        total = sum(len(e["changes"]) for e in self._undo)
        while len(self._undo) > 1 and total > MAX_HISTORY_CHANGES:
            total -= len(self._undo.pop(0)["changes"])

    def _changed(self) -> None:
        self._dirty = True
        if self._batch_depth:
            return
        self.save()
        for callback in self._listeners:
            callback()

    def _to_dict(self) -> dict[str, Any]:
        def entry_to_json(entry: dict[str, Any]) -> dict[str, Any]:
            out = dict(entry)
            out["changes"] = [[self._store(p), old, new] for p, old, new in entry["changes"]]
            return out

        return {
            "format": "crystalview-labels",
            "format_version": FORMAT_VERSION,
            "classes": self._classes,
            "next_class_id": self._next_class_id,
            "images": [self._store(p) for p in self._images],
            "labels": {self._store(p): cid for p, cid in self._labels.items()},
            "undo": [entry_to_json(e) for e in self._undo],
            "redo": [entry_to_json(e) for e in self._redo],
        }

    def _load_dict(self, data: Any) -> None:
        where = self._path
        if not isinstance(data, dict) or data.get("format") != "crystalview-labels":
            raise CorruptFileError(f"{where} is not a CrystalView labelling project.")
        if int(data.get("format_version", 0)) > FORMAT_VERSION:
            raise LabelProjectError(
                f"{where} was written by a newer CrystalView; update CrystalView to open it."
            )
        try:
            self._classes = [
                {"id": int(c["id"]), "name": str(c["name"]), "color": str(c["color"])}
                for c in data["classes"]
            ]
            self._next_class_id = int(data["next_class_id"])
            self._images = [self._restore(s) for s in data["images"]]
            self._image_set = set(self._images)
            self._labels = {self._restore(s): int(cid) for s, cid in data["labels"].items()}

            def entry_from_json(entry: dict[str, Any]) -> dict[str, Any]:
                out = dict(entry)
                out["changes"] = [(self._restore(p), old, new) for p, old, new in entry["changes"]]
                return out

            self._undo = [entry_from_json(e) for e in data.get("undo", [])]
            self._redo = [entry_from_json(e) for e in data.get("redo", [])]
        except (KeyError, TypeError, ValueError) as error:
            raise CorruptFileError(f"Labelling project {where} is damaged ({error!r}).") from None
        self._dirty = False

    def _store(self, image: Path) -> str:
        """Path as written to the file: relative to the project folder when possible."""
        if self._path is not None:
            try:
                return Path(os.path.relpath(image, self._path.parent)).as_posix()
            except ValueError:  # another drive on Windows
                pass
        return image.as_posix()

    def _restore(self, stored: str) -> Path:
        path = Path(stored)
        if not path.is_absolute() and self._path is not None:
            path = self._path.parent / path
        return Path(os.path.normpath(path))


def _absolute(path: str | os.PathLike[str]) -> Path:
    """Absolute, normalised path without resolving symlinks (the user's view of the file)."""
    return Path(os.path.normpath(Path(path).absolute()))


def _check_color(color: str) -> str:
    text = color.strip().lower()
    if len(text) != 7 or not text.startswith("#"):
        raise LabelProjectError(f"Colour {color!r} is not of the form #rrggbb.")
    try:
        int(text[1:], 16)
    except ValueError:
        raise LabelProjectError(f"Colour {color!r} is not of the form #rrggbb.") from None
    return text


def _atomic_write_text(path: Path, text: str) -> None:
    """Replace ``path`` with ``text``; a crash leaves the old or the new file, never half."""
    with atomic_replace(path, "w") as stream:
        stream.write(text)
