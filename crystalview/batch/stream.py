"""Append-only result files: every append is one atomic write, rows are never repeated.

A batch of rows is encoded first and handed to the operating system in a single ``write`` on a
descriptor opened with ``O_APPEND``, then synced; a crash therefore loses at most the batches
not yet written. Should a crash land inside a write anyway (power cut, full disk), the torn
last line is cut off the next time the file is opened for appending (`repair_tail`), so a
resumed run never reads half a row. Every row is one line (error messages are flattened by
`crystalview.batch.records.one_line`), which is what makes that repair safe.

`ResultSink` writes the CSV and, if asked, a JSON-lines file from the same records and drops
any record whose path it has already written: a batch that Dask retries after a worker died
cannot produce a second row.
"""

from __future__ import annotations

import csv
import io
import json
import os
from collections.abc import Iterable
from pathlib import Path
from typing import TextIO

from crystalview.batch.records import FileRecord, csv_cells, json_record, result_columns
from crystalview.core.errors import CrystalViewError


def repair_tail(path: Path) -> None:
    """Cut a torn last line (no final newline) off ``path``; a missing file is left alone."""
    try:
        with open(path, "rb+") as handle:
            size = handle.seek(0, os.SEEK_END)
            if size == 0:
                return
            handle.seek(size - 1)
            if handle.read(1) == b"\n":
                return
            keep, position = 0, size
            while position > 0 and not keep:
                step = min(65536, position)
                position -= step
                handle.seek(position)
                chunk = handle.read(step)
                cut = chunk.rfind(b"\n")
                if cut >= 0:
                    keep = position + cut + 1
            handle.truncate(keep)
    except FileNotFoundError:
        return


class AppendOnlyFile:
    """A file that grows only by whole, synced, single-``write`` appends."""

    def __init__(self, path: Path, fresh: bool):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if not fresh:
            repair_tail(self.path)
        flags = os.O_WRONLY | os.O_CREAT | os.O_APPEND | (os.O_TRUNC if fresh else 0)
        self._fd = os.open(self.path, flags, 0o666)

    @property
    def empty(self) -> bool:
        return os.fstat(self._fd).st_size == 0

    def append(self, text: str) -> None:
        data = text.encode("utf-8")
        view = memoryview(data)
        while view:  # a regular file takes it all at once; the loop covers odd file systems
            written = os.write(self._fd, view)
            view = view[written:]
        os.fsync(self._fd)

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1


def _csv_text(rows: Iterable[list[str]]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerows(rows)
    return buffer.getvalue()


def read_header(path: Path) -> list[str] | None:
    """The first CSV row of ``path`` (None when the file is absent or empty)."""
    try:
        with open(path, newline="", encoding="utf-8") as handle:
            return next(csv.reader(handle), None)
    except FileNotFoundError:
        return None


class ResultSink:
    """Where a batch run's records go: a CSV file (or stdout) and an optional JSON-lines file.

    Parameters
    ----------
    csv_path
        The CSV to append to; None writes the CSV to ``stdout`` instead (no atomicity there).
    class_names
        The model's classes, for the ``p_<class>`` columns.
    jsonl_path
        Optional JSON-lines file, one object per file.
    append
        Keep what the files already hold (``--resume``); otherwise they start empty. An
        existing CSV must have the same header, or the run stops before writing anything.
    already_written
        Paths whose rows are already in the files; their records are dropped.
    stdout
        The stream used when ``csv_path`` is None (None: no CSV at all, e.g. with ``--json``).
    """

    def __init__(
        self,
        csv_path: Path | None,
        class_names: list[str],
        jsonl_path: Path | None = None,
        append: bool = False,
        already_written: Iterable[str] = (),
        stdout: TextIO | None = None,
    ):
        self.class_names = list(class_names)
        self.columns = result_columns(self.class_names)
        self.written: set[str] = set(already_written)
        self.records: list[FileRecord] = []
        self._stdout = stdout if csv_path is None else None
        self._csv: AppendOnlyFile | None = None
        self._jsonl: AppendOnlyFile | None = None
        if csv_path is not None:
            header = read_header(csv_path) if append else None
            if header is not None and header != self.columns:
                raise CrystalViewError(
                    f"{csv_path} has other columns than this model's results "
                    "(another model or an older version?); write to a new --out file"
                )
            self._csv = AppendOnlyFile(csv_path, fresh=not append)
            if self._csv.empty:
                self._csv.append(_csv_text([self.columns]))
        elif self._stdout is not None:
            self._stdout.write(_csv_text([self.columns]))
            self._stdout.flush()
        if jsonl_path is not None:
            self._jsonl = AppendOnlyFile(jsonl_path, fresh=not append)

    def add(self, records: Iterable[FileRecord]) -> list[FileRecord]:
        """Append the records not written yet, as one atomic write per file; return them."""
        new = []
        for record in records:
            if record.path not in self.written:
                self.written.add(record.path)
                new.append(record)
        if not new:
            return new
        text = _csv_text(csv_cells(r, self.class_names) for r in new)
        if self._csv is not None:
            self._csv.append(text)
        elif self._stdout is not None:
            self._stdout.write(text)
            self._stdout.flush()
        if self._jsonl is not None:
            lines = "".join(json.dumps(json_record(r), ensure_ascii=False) + "\n" for r in new)
            self._jsonl.append(lines)
        self.records.extend(new)
        return new

    def close(self) -> None:
        for handle in (self._csv, self._jsonl):
            if handle is not None:
                handle.close()

    def __enter__(self) -> ResultSink:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
