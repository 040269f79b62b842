"""Which images are really the same micrograph, and which come from one series.

Lab folders hold overlapping fields of view, re-exports and shifted copies; a validation split
that puts near-twins on both sides reports accuracy on images the model has, in effect, seen.
This module finds those twins and lets the user name larger groups (series, sample folders) so
that every split in `crystalview.training.validation` keeps a group on one side.

* **Near-duplicates** are found from a fingerprint of each image, in two steps. First a 32 x 32
  area-averaged thumbnail (intensities clipped to their 1-99 % percentiles, coarse shading
  removed, unit length): pairs correlating above `DUPLICATE_CORRELATION` (0.8) are candidates.
  A shift of 10 px on a 1024 px micrograph moves that thumbnail by a third of a pixel, and
  different fields of one material decorrelate (below 0.25 on the nanofibre set, twins 0.93+).
  But distinct diffraction patterns share their concentric layout and correlate as much as
  twins do, so each candidate pair is then checked on a 128 x 128 high-passed thumbnail,
  aligned by phase correlation: twins share their fine detail (above 0.5 on the nanofibre set),
  distinct patterns do not (mostly below 0.3). The first step is one matrix product per block,
  so thousands of files take seconds once they are read.
* **User groups** come from a sub-folder inside the class folder, a file-name series (the first
  word of the stem that is not shared by every file, ``PPC9_01_17`` -> ``ppc9``), or a CSV table.

Groups are unions: images linked by any rule end up in one group. numpy only.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from crystalview.core.errors import CrystalViewError

FINGERPRINT_SIDE = 32
DETAIL_SIDE = 128
DUPLICATE_CORRELATION = 0.8
DETAIL_CORRELATION = 0.45
MAX_ALIGN_SHIFT = 16  # px of the detail thumbnail (1/8 of the image): larger is another view
GROUPINGS = ("duplicates", "series", "folder", "none")
MIN_GROUPS_PER_CLASS = 5

_WORD_SPLIT = re.compile(r"[_\-\s.]+")


def fingerprint(image: np.ndarray) -> np.ndarray:
    """One float32 vector describing the image: coarse thumbnail, then fine detail.

    The first ``FINGERPRINT_SIDE**2`` values are the unit-length 32 x 32 thumbnail with its
    4 x 4 shading removed (a dot product of two is their correlation); the remaining
    ``DETAIL_SIDE**2`` are a 128 x 128 thumbnail with its 32 x 32 blur removed, for the
    aligned check of `duplicate_pairs`. Intensities are clipped to their 1-99 % percentiles
    first, so a direct beam or a hot pixel cannot dominate.
    """
    data = np.asarray(image, dtype=np.float32)
    if data.ndim != 2 or min(data.shape) < 1:
        raise CrystalViewError(f"cannot fingerprint an image of shape {data.shape}")
    finite = data[np.isfinite(data)]
    if finite.size == 0:
        data = np.zeros_like(data)
    else:
        step = max(1, finite.size // 250_000)
        low, high = np.percentile(finite[::step], [1, 99])
        data = np.clip(np.nan_to_num(data, nan=float(low)), low, high)
    return np.concatenate(
        [_high_pass(data, FINGERPRINT_SIDE, 4), _high_pass(data, DETAIL_SIDE, DETAIL_SIDE // 4)]
    )


def _high_pass(data: np.ndarray, side: int, coarse: int) -> np.ndarray:
    thumb = _area_resize(data, side)
    blur = _area_resize(thumb, coarse)
    thumb = thumb - np.kron(blur, np.ones((side // coarse, side // coarse), dtype=np.float32))
    thumb -= thumb.mean()
    norm = float(np.linalg.norm(thumb))
    return (thumb / norm if norm > 0 else thumb).reshape(-1).astype(np.float32)


def _area_resize(image: np.ndarray, side: int) -> np.ndarray:
    """Mean over a ``side x side`` grid of near-equal blocks (images smaller than that are
    first enlarged by repeating pixels)."""
    h, w = image.shape
    if h < side or w < side:
        image = np.repeat(np.repeat(image, -(-side // h), axis=0), -(-side // w), axis=1)
        h, w = image.shape
    rows = np.linspace(0, h, side + 1).round().astype(int)
    cols = np.linspace(0, w, side + 1).round().astype(int)
    integral = np.zeros((h + 1, w + 1), dtype=np.float64)
    integral[1:, 1:] = image.cumsum(0, dtype=np.float64).cumsum(1)
    total = (
        integral[np.ix_(rows[1:], cols[1:])]
        - integral[np.ix_(rows[:-1], cols[1:])]
        - integral[np.ix_(rows[1:], cols[:-1])]
        + integral[np.ix_(rows[:-1], cols[:-1])]
    )
    return (total / np.outer(np.diff(rows), np.diff(cols))).astype(np.float32)


class _UnionFind:
    def __init__(self, n: int) -> None:
        self.parent = list(range(n))

    def find(self, i: int) -> int:
        while self.parent[i] != i:
            self.parent[i] = self.parent[self.parent[i]]
            i = self.parent[i]
        return i

    def union(self, i: int, j: int) -> None:
        ri, rj = self.find(i), self.find(j)
        if ri != rj:
            self.parent[max(ri, rj)] = min(ri, rj)


def duplicate_pairs(
    fingerprints: np.ndarray, threshold: float = DUPLICATE_CORRELATION, block: int = 1024
) -> list[tuple[int, int]]:
    """Index pairs ``(i, j)``, ``i < j``, of near-duplicate images (see the module docstring)."""
    prints = np.asarray(fingerprints, dtype=np.float32)
    n_coarse = FINGERPRINT_SIDE**2
    coarse = prints[:, :n_coarse]
    detail = prints[:, n_coarse:].reshape(len(prints), DETAIL_SIDE, DETAIL_SIDE)
    spectra: dict[int, np.ndarray] = {}
    pairs: list[tuple[int, int]] = []
    for start in range(0, len(prints), block):
        similarity = coarse[start : start + block] @ coarse.T
        rows, cols = np.nonzero(similarity > threshold)
        for r, c in zip(rows.tolist(), cols.tolist(), strict=True):
            i = start + r
            if i < c and _aligned_correlation(detail, spectra, i, c) > DETAIL_CORRELATION:
                pairs.append((i, c))
    return pairs


def _aligned_correlation(detail: np.ndarray, spectra: dict, i: int, j: int) -> float:
    """Correlation of two detail thumbnails over their overlap after phase-correlation shift."""
    for k in (i, j):
        if k not in spectra:
            spectra[k] = np.fft.rfft2(detail[k])
    cross = spectra[i] * np.conj(spectra[j])
    surface = np.fft.irfft2(cross / (np.abs(cross) + 1e-12), s=detail.shape[1:])
    dy, dx = np.unravel_index(int(surface.argmax()), surface.shape)
    n = DETAIL_SIDE
    dy, dx = (dy - n if dy > n // 2 else dy), (dx - n if dx > n // 2 else dx)
    if max(abs(dy), abs(dx)) > MAX_ALIGN_SHIFT:
        return 0.0
    a = detail[i][max(dy, 0) : n + min(dy, 0), max(dx, 0) : n + min(dx, 0)]
    b = detail[j][max(-dy, 0) : n + min(-dy, 0), max(-dx, 0) : n + min(-dx, 0)]
    a, b = a - a.mean(), b - b.mean()
    denominator = float(np.sqrt((a * a).sum() * (b * b).sum()))
    return float((a * b).sum() / denominator) if denominator > 0 else 0.0


def series_name(path: Path, common_prefix: Sequence[str] = ()) -> str:
    """The series a file belongs to: the first word of its stem after ``common_prefix``.

    Instruments and people name files ``<sample>_<area>_<shot>``; the first word that differs
    between files names the sample series (``translated_PPC9_01_17`` -> ``ppc9`` once
    ``translated`` is known to start every name).
    """
    words = [w for w in _WORD_SPLIT.split(Path(path).stem.lower()) if w]
    rest = (
        words[len(common_prefix) :] if words[: len(common_prefix)] == list(common_prefix) else words
    )
    return rest[0] if rest else (words[-1] if words else Path(path).stem)


def _shared_prefix(paths: Sequence[Path]) -> list[str]:
    """Leading words every file name starts with (``translated`` in ``translated_X_1``)."""
    split = [[w for w in _WORD_SPLIT.split(Path(p).stem.lower()) if w] for p in paths]
    if not split:
        return []
    prefix: list[str] = []
    for words in zip(*split, strict=False):
        if len(set(words)) != 1:
            break
        prefix.append(words[0])
    shortest = min(len(w) for w in split)
    return prefix[: max(0, shortest - 1)]  # always leave one word to name the series


def user_group_names(
    paths: Sequence[Path | None], labels: Sequence[int], grouping: str
) -> list[str | None]:
    """One group name per sample from the user's rule (``None``: no rule applies).

    ``"series"``: the file-name series; ``"folder"``: the sub-folder below the class folder (a
    file directly in its class folder forms its own group); ``"duplicates"``/``"none"``: none.
    """
    if grouping not in GROUPINGS:
        raise CrystalViewError(f"grouping must be one of {', '.join(GROUPINGS)}, not {grouping!r}")
    if grouping == "series":
        prefix = _shared_prefix([p for p in paths if p is not None])
        return [None if p is None else series_name(p, prefix) for p in paths]
    if grouping == "folder":
        names: list[str | None] = []
        for p, label in zip(paths, labels, strict=True):
            names.append(None if p is None else f"{label}:{p.parent}")
        return names
    return [None] * len(paths)


def read_group_csv(csv_path: str | Path, column: str = "group") -> dict[str, str]:
    """``{file name or path: group}`` from a CSV with a ``file`` (or ``path``) column.

    Lab notebooks export a table of file and sample; matching is by full path first, then by
    file name, so the table works wherever the folder is.
    """
    path = Path(csv_path)
    try:
        with path.open(newline="", encoding="utf-8-sig") as handle:
            rows = list(csv.DictReader(handle))
    except OSError as error:
        raise CrystalViewError(f"{path}: cannot read the group table ({error})") from error
    if not rows:
        raise CrystalViewError(f"{path}: the group table is empty")
    keys = {k.strip().lower(): k for k in rows[0] if k}
    file_key = keys.get("file") or keys.get("path") or keys.get("filename")
    group_key = keys.get(column.lower())
    if file_key is None or group_key is None:
        raise CrystalViewError(
            f"{path}: needs a 'file' column and a {column!r} column; found {', '.join(keys)}"
        )
    return {row[file_key].strip(): row[group_key].strip() for row in rows if row.get(file_key)}


def groups_from_table(paths: Sequence[Path | None], table: dict[str, str]) -> list[str | None]:
    """Look each path up in a `read_group_csv` table (by full path, then by name)."""
    out: list[str | None] = []
    for p in paths:
        if p is None:
            out.append(None)
            continue
        out.append(table.get(str(p)) or table.get(p.name) or table.get(p.stem))
    return out


@dataclass
class Grouping:
    """Group of every sample and what the user should be told about them.

    Attributes
    ----------
    group_of
        Group index per sample (0 .. n_groups-1, in order of first appearance).
    n_groups
        Distinct groups; the honest "number of different images".
    n_distinct
        Distinct micrographs after merging near-duplicates only (before user groups).
    rule
        How groups were formed, e.g. ``"near-duplicates + file-name series"``.
    duplicate_files
        Samples that have a near-twin elsewhere in the set.
    """

    group_of: np.ndarray
    n_groups: int
    n_distinct: int
    rule: str
    duplicate_files: int = 0

    def per_class(self, labels: Sequence[int], n_classes: int) -> list[int]:
        """Distinct groups per class."""
        labels = np.asarray(labels)
        return [len(set(self.group_of[labels == k].tolist())) for k in range(n_classes)]

    def summary(self, n_images: int, modality: str | None = None) -> str:
        """E.g. ``"1,003 images, 26 distinct micrographs, 12 groups (near-duplicates + ...)"``.

        Diffraction patterns (``modality`` ``"SAED"``) are counted as patterns: calling them
        micrographs would tell a diffractionist that the app misread their data.
        """
        noun = "patterns" if str(modality).upper() == "SAED" else "micrographs"
        text = f"{n_images:,} images, {self.n_distinct:,} distinct {noun}"
        if self.n_groups != self.n_distinct:
            text += f", {self.n_groups:,} groups ({self.rule})"
        return text


def build_groups(
    fingerprints: np.ndarray | None,
    user_groups: Sequence[str | None] | None = None,
    rule: str = "near-duplicates",
    threshold: float = DUPLICATE_CORRELATION,
) -> Grouping:
    """Union of near-duplicate links and same-named user groups.

    ``fingerprints`` (one row per sample, from `fingerprint`) may be ``None`` to skip duplicate
    detection; ``user_groups`` gives a name per sample (``None`` for "no group").
    """
    n = len(fingerprints) if fingerprints is not None else len(user_groups or [])
    union = _UnionFind(n)
    duplicates: set[int] = set()
    if fingerprints is not None and n:
        for i, j in duplicate_pairs(fingerprints, threshold):
            union.union(i, j)
            duplicates.update((i, j))
    distinct = len({union.find(i) for i in range(n)})
    if user_groups is not None:
        if len(user_groups) != n:
            raise CrystalViewError(f"{len(user_groups)} group names for {n} images")
        first: dict[str, int] = {}
        for i, name in enumerate(user_groups):
            if name is None:
                continue
            if name in first:
                union.union(first[name], i)
            else:
                first[name] = i
    roots: dict[int, int] = {}
    group_of = np.empty(n, dtype=np.int64)
    for i in range(n):
        group_of[i] = roots.setdefault(union.find(i), len(roots))
    return Grouping(group_of, len(roots), distinct, rule, len(duplicates))


def grouping_warnings(
    grouping: Grouping,
    labels: Sequence[int],
    class_names: Sequence[str],
    series: Sequence[str | None] | None = None,
) -> list[str]:
    """What makes the validation figure less trustworthy, in words for the user.

    * a class with fewer than `MIN_GROUPS_PER_CLASS` distinct groups;
    * a class whose images all come from one file-name series (the model may learn the sample,
      not the class: validation cannot tell them apart).
    """
    warnings: list[str] = []
    labels = np.asarray(labels)
    for k, count in enumerate(grouping.per_class(labels, len(class_names))):
        if 0 < count < MIN_GROUPS_PER_CLASS:
            warnings.append(
                f"class {class_names[k]!r} has only {count} distinct group(s) of images; "
                f"label images from at least {MIN_GROUPS_PER_CLASS} different micrographs or "
                "samples per class for a trustworthy model."
            )
    if series is not None:
        for k, name in enumerate(class_names):
            members = {series[i] for i in np.flatnonzero(labels == k) if series[i] is not None}
            if len(members) == 1 and (labels == k).sum() > 1:
                only = next(iter(members))
                warnings.append(
                    f"every image of class {name!r} comes from one series ({only!r}); the model "
                    "may learn that sample rather than the class, and validation cannot tell "
                    "(add images of this class from other samples)."
                )
    return warnings


_RULE_WORDS = {
    "duplicates": "near-duplicates",
    "series": "near-duplicates + file-name series",
    "folder": "near-duplicates + sub-folder",
    "none": "none (every file on its own)",
}


def group_samples(
    paths: Sequence[Path | None],
    labels: Sequence[int],
    fingerprints: np.ndarray | None,
    grouping: str = "duplicates",
    group_names: Sequence[str | None] | None = None,
) -> Grouping:
    """The groups a split must respect: near-duplicates, the user's rule, and given names.

    ``grouping="none"`` puts every file in its own group (the old per-file split, kept for
    data known to be independent, such as simulated patterns); given ``group_names`` (a CSV
    column, the wizard's series) are always honoured.
    """
    rule = _RULE_WORDS.get(grouping)
    if rule is None:
        raise CrystalViewError(f"grouping must be one of {', '.join(GROUPINGS)}, not {grouping!r}")
    prints = None if grouping == "none" else fingerprints
    names = user_group_names(paths, labels, grouping)
    if group_names is not None:
        if len(group_names) != len(paths):
            raise CrystalViewError(f"{len(group_names)} group names for {len(paths)} images")
        names = [g if g is not None else n for g, n in zip(group_names, names, strict=True)]
        rule += " + given groups"
    if prints is None:
        result = build_groups(None, [n if n is not None else f"#{i}" for i, n in enumerate(names)])
        result.rule = rule
        return result
    return build_groups(prints, names, rule)


def find_duplicates(paths: Sequence[Path], cancel=None, max_size: int = 512):
    """Generator: fingerprints of image files from their previews; returns a `Grouping`.

    For the labelling page, before anything is trained: a 512 px preview keeps enough detail
    for both fingerprint steps and is quick to read even from large files. Unreadable files
    are their own group.
    """
    from crystalview.core.progress import Progress
    from crystalview.io import read_thumbnail

    prints = []
    for i, path in enumerate(paths):
        if cancel is not None:
            cancel.raise_if_cancelled()
        try:
            prints.append(fingerprint(read_thumbnail(path, max_size=max_size)))
        except (CrystalViewError, OSError, ValueError):
            prints.append(np.zeros(FINGERPRINT_SIDE**2 + DETAIL_SIDE**2, dtype=np.float32))
        yield Progress(i + 1, len(paths), f"Comparing images {i + 1}/{len(paths)}")
    if not prints:
        return build_groups(np.zeros((0, FINGERPRINT_SIDE**2 + DETAIL_SIDE**2), np.float32))
    return build_groups(np.stack(prints))
