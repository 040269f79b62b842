"""``crystalview merge-results``: join the CSVs of shards (or of reruns) into one.

All inputs must have the same header. A path that appears more than once keeps its answered
row over an error row (an answer from one shard beats a failure recorded by an earlier try),
and otherwise its first row. Rows are sorted by path, so merging the parts of a sharded run
gives the same file whatever order the parts finished in.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable
from pathlib import Path

from crystalview.batch.stream import read_header
from crystalview.core.atomic import atomic_replace
from crystalview.core.errors import CrystalViewError


def merge_result_files(inputs: Iterable[Path], out: Path) -> int:
    """Write the merged CSV of ``inputs`` to ``out`` (atomically); return its number of rows."""
    inputs = list(inputs)
    if not inputs:
        raise CrystalViewError("merge-results needs at least one CSV file")
    header: list[str] | None = None
    rows: dict[str, list[str]] = {}
    for path in inputs:
        if not path.is_file():
            raise CrystalViewError(f"{path}: no such file")
        this_header = read_header(path)
        if this_header is None:
            raise CrystalViewError(f"{path} is empty")
        if header is None:
            header = this_header
            if "path" not in header:
                raise CrystalViewError(f"{path} has no 'path' column; not a classify result")
        elif this_header != header:
            raise CrystalViewError(
                f"{path} has other columns than {inputs[0]}; were they made with one model?"
            )
        error_at = header.index("error") if "error" in header else None
        with open(path, newline="", encoding="utf-8") as handle:
            reader = csv.reader(handle)
            next(reader)
            for row in reader:
                if len(row) != len(header):
                    continue  # a torn last line of a part that was killed
                key = row[header.index("path")]
                old = rows.get(key)
                if old is None or (error_at is not None and old[error_at] and not row[error_at]):
                    rows[key] = row
    with atomic_replace(out, "w") as stream:
        writer = csv.writer(stream, lineterminator="\n")
        writer.writerow(header)
        writer.writerows(rows[key] for key in sorted(rows))
    return len(rows)
