"""One flat record per classified file, and the CSV and JSON forms every output shares.

The record is plain data (strings, numbers, a dict) so it travels between Dask workers and the
client cheaply, and the CSV of ``crystalview classify``, its JSON-lines file and the window's
CSV export are all written from it, so the three never drift apart. ``file_size`` and
``file_mtime_ns`` identify the version of the file that was classified: ``--resume`` skips a
file only when both still match.
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass, field
from pathlib import Path

RESULT_COLUMNS = [
    "path",
    "label",
    "confidence",
    "status",
    "n_tiles",
    "model",
    "ood_score",
    "status_reason",
    "modality",
    "error",
    "file_size",
    "file_mtime_ns",
]
"""Leading CSV columns; one ``p_<class>`` column per class follows."""


@dataclass
class FileRecord:
    """The outcome for one file: a prediction's essentials, or an ``error`` (then no label)."""

    path: str
    label: str = ""
    confidence: float | None = None
    status: str = ""
    n_tiles: int = 0
    model: str = ""
    ood_score: float | None = None
    status_reason: str = ""
    modality: str = ""
    error: str = ""
    file_size: int | None = None
    file_mtime_ns: int | None = None
    probabilities: dict[str, float] = field(default_factory=dict)
    device: str = ""
    calibrated: bool = False
    image_kind: str = ""

    @property
    def ok(self) -> bool:
        """True when the file was classified (whatever the status of the answer)."""
        return not self.error


def result_columns(class_names: list[str]) -> list[str]:
    """The CSV header for a model with ``class_names``."""
    return RESULT_COLUMNS + [f"p_{name}" for name in class_names]


def file_identity(path: str | os.PathLike) -> tuple[int | None, int | None]:
    """``(size in bytes, modification time in ns)`` of ``path``; ``(None, None)`` if unreadable."""
    try:
        stat = os.stat(path)
    except OSError:
        return None, None
    return stat.st_size, stat.st_mtime_ns


def one_line(text: str) -> str:
    """Error messages on one line, so that every CSV row is one line of the file."""
    return " ".join(str(text).split())


def record_from_prediction(path: Path, prediction, modality: str | None) -> FileRecord:
    """The record of an `ImagePrediction` for ``path``."""
    size, mtime = file_identity(path)
    return FileRecord(
        path=str(path),
        label=prediction.label,
        confidence=float(prediction.confidence),
        status=prediction.status,
        n_tiles=int(prediction.n_tiles),
        model=prediction.model_name,
        ood_score=prediction.ood_score,
        status_reason=one_line(prediction.status_reason),
        modality=modality or "",
        file_size=size,
        file_mtime_ns=mtime,
        probabilities={name: float(p) for name, p in prediction.probabilities.items()},
        # not in the CSV; absent from the window's lighter prediction stand-ins
        device=getattr(prediction, "device", ""),
        calibrated=bool(getattr(prediction, "calibrated", False)),
        image_kind=getattr(prediction, "image_kind", ""),
    )


def error_record(path: str | os.PathLike, error: str, model: str = "") -> FileRecord:
    """The record of a file that could not be read or classified."""
    size, mtime = file_identity(path)
    return FileRecord(
        path=str(path),
        model=model,
        error=one_line(error) or "failed",
        file_size=size,
        file_mtime_ns=mtime,
    )


def record_of_result(result) -> FileRecord:
    """The record of an inference `PathResult` (prediction or error)."""
    if result.prediction is None or result.error:
        return error_record(result.path, result.error or "failed", "")
    return record_from_prediction(result.path, result.prediction, result.modality)


def _number(value: int | None) -> str:
    return "" if value is None else str(value)


def csv_cells(record: FileRecord, class_names: list[str]) -> list[str]:
    """The CSV row of ``record`` under `result_columns` (blank cells where there is no answer)."""
    answered = record.ok and record.confidence is not None
    probabilities = [
        f"{record.probabilities[name]:.6f}" if name in record.probabilities else ""
        for name in class_names
    ]
    return [
        record.path,
        record.label,
        f"{record.confidence:.6f}" if answered else "",
        record.status,
        str(record.n_tiles) if answered else "",
        record.model,
        "" if record.ood_score is None else f"{record.ood_score:.4f}",
        record.status_reason,
        record.modality,
        record.error,
        _number(record.file_size),
        _number(record.file_mtime_ns),
        *probabilities,
    ]


def json_record(record: FileRecord) -> dict:
    """The JSON object of one file (``--json`` and the JSON-lines file)."""
    if not record.ok:
        return {
            "path": record.path,
            "error": record.error,
            "file_size": record.file_size,
            "file_mtime_ns": record.file_mtime_ns,
        }
    data = asdict(record)
    del data["error"]
    data["probabilities"] = dict(record.probabilities)
    return data
