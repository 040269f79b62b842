"""``--resume``: which files an earlier run already finished, so a rerun does only the rest.

A file counts as finished when the output holds a row for it without an error, and the file's
size and modification time (ns) are still those in the row. Rows of files that failed, or that
changed since, are taken out of the output (rewritten atomically, the JSON-lines file too) and
the files are classified again, so the output never holds two rows for one path.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable
from pathlib import Path

from crystalview.batch.records import file_identity
from crystalview.batch.stream import read_header, repair_tail
from crystalview.core.atomic import atomic_replace
from crystalview.core.errors import CrystalViewError


def _still_valid(row: dict[str, str]) -> bool:
    if row.get("error") or not row.get("label"):
        return False
    size, mtime = file_identity(row["path"])
    return (
        size is not None
        and row.get("file_size") == str(size)
        and (row.get("file_mtime_ns") == str(mtime))
    )


def finished_paths(csv_path: Path, columns: list[str], jsonl_path: Path | None = None) -> set[str]:
    """Paths already finished in ``csv_path``; prunes the rows that must be redone.

    Raises `CrystalViewError` when the CSV exists with other columns than ``columns``.
    """
    if not csv_path.exists():
        if jsonl_path is not None and jsonl_path.exists():
            _keep_json_lines(jsonl_path, set())
        return set()
    repair_tail(csv_path)
    header = read_header(csv_path)
    if header is None:
        return set()
    if header != columns:
        raise CrystalViewError(
            f"cannot resume into {csv_path}: its columns are not this model's results "
            "(another model or an older version?)"
        )
    with open(csv_path, newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    kept: dict[str, dict[str, str]] = {}
    for row in rows:
        if row["path"] not in kept and _still_valid(row):
            kept[row["path"]] = row
    if len(kept) != len(rows):
        with atomic_replace(csv_path, "w") as stream:
            writer = csv.DictWriter(stream, fieldnames=columns, lineterminator="\n")
            writer.writeheader()
            writer.writerows(kept.values())
    if jsonl_path is not None and jsonl_path.exists():
        _keep_json_lines(jsonl_path, set(kept))
    return set(kept)


def _keep_json_lines(path: Path, keep: set[str]) -> None:
    """Rewrite ``path`` with only the first line of each path in ``keep``."""
    repair_tail(path)
    lines, seen = [], set()
    with open(path, encoding="utf-8") as handle:
        for line in handle:
            try:
                record_path = json.loads(line).get("path")
            except (json.JSONDecodeError, AttributeError):
                continue
            if record_path in keep and record_path not in seen:
                seen.add(record_path)
                lines.append(line)
    with atomic_replace(path, "w") as stream:
        stream.writelines(lines)


def remaining(files: Iterable[Path], finished: set[str]) -> list[Path]:
    """``files`` without those already ``finished``, in their order."""
    return [path for path in files if str(path) not in finished]
