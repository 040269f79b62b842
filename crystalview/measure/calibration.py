"""Set scale by hand: a pixel size from a line of known length, kept per file.

The scale is stored in the user's data folder (``scales.json``), never in the microscope file,
keyed by the file's absolute path and dataset index together with its size, so a different
file later saved under the same name does not inherit it. `apply_stored_scale` puts it on a
`Micrograph` as it is opened; from then on the scale bar, read-outs, physical-unit tiling and
classification all use it like a calibration read from the file, and the image's metadata says
``"set by hand"``.
"""

from __future__ import annotations

import json
import logging
import math
import os
import tempfile
import time
from pathlib import Path
from typing import Any

from crystalview.core.micrograph import RECIPROCAL_UNIT, Micrograph
from crystalview.core.units import to_canonical

log = logging.getLogger(__name__)

MANUAL_SCALE_KEY = "Scale set by hand"
"""Key of the `Micrograph.metadata` entry that says a pixel size was set by hand."""

SCALE_UNITS = ("pm", "nm", "µm", "mm", "Å", "1/nm", "1/Å")
"""Units offered when setting a scale; the reciprocal ones calibrate a diffraction pattern."""


def pixel_size_from_line(length_px: float, known_length: float, unit: str) -> tuple[float, str]:
    """Pixel size ``(value, "nm" | "1/nm")`` of a line ``length_px`` long that spans a known length.

    Raises ``ValueError`` with a message for the user when the numbers or unit make no sense.
    """
    if not (math.isfinite(length_px) and length_px >= 1.0):
        raise ValueError("Draw a line at least one pixel long along the known length.")
    if not (math.isfinite(known_length) and known_length > 0):
        raise ValueError("The known length must be a positive number.")
    canonical = to_canonical(known_length / length_px, unit)
    if canonical is None:
        raise ValueError(f"Unknown unit {unit!r}; use one of {', '.join(SCALE_UNITS)}.")
    return canonical


def default_store_path() -> Path:
    from crystalview.paths import user_data_dir

    return user_data_dir() / "scales.json"


class ScaleStore:
    """Hand-set pixel sizes per file, in a small JSON file written atomically."""

    def __init__(self, path: Path | None = None):
        self.path = Path(path) if path is not None else default_store_path()

    @staticmethod
    def _key(path: Path, dataset_index: int) -> str:
        return f"{Path(path).resolve()}#{dataset_index}"

    def _read(self) -> dict[str, Any]:
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return {}
        except OSError as error:
            log.warning("cannot read hand-set scales from %s: %s", self.path, error)
            return {}
        try:
            entries = json.loads(text)
        except json.JSONDecodeError:
            log.warning("ignoring damaged hand-set scale file %s", self.path)
            return {}
        return entries if isinstance(entries, dict) else {}

    def _write(self, entries: dict[str, Any]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=".scales-", suffix=".json")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                json.dump(entries, handle, indent=1, ensure_ascii=False)
            os.replace(tmp, self.path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def get(self, path: Path, dataset_index: int = 0) -> tuple[float, str] | None:
        """The stored ``(pixel_size, unit)`` of a file's dataset, or ``None``."""
        entry = self._read().get(self._key(path, dataset_index))
        if not isinstance(entry, dict):
            return None
        try:
            if entry.get("file_size") != Path(path).stat().st_size:
                return None  # another file now has this name
            size, unit = float(entry["pixel_size"]), str(entry["unit"])
        except (OSError, KeyError, TypeError, ValueError):
            return None
        if not (math.isfinite(size) and size > 0) or unit not in ("nm", RECIPROCAL_UNIT):
            return None
        return size, unit

    def set(self, path: Path, dataset_index: int, pixel_size: float, unit: str) -> None:
        entries = self._read()
        entries[self._key(path, dataset_index)] = {
            "pixel_size": float(pixel_size),
            "unit": unit,
            "file_size": Path(path).stat().st_size,
            "set_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        }
        self._write(entries)

    def remove(self, path: Path, dataset_index: int = 0) -> bool:
        entries = self._read()
        if entries.pop(self._key(path, dataset_index), None) is None:
            return False
        self._write(entries)
        return True


def _file_calibration_text(size: float | None, unit: str | None) -> str:
    # repr keeps every digit, so `remove_scale` restores the file's value exactly
    return "none" if size is None or unit is None else f"{size!r} {unit}"


def apply_scale(micrograph: Micrograph, pixel_size: float, unit: str) -> None:
    """Give ``micrograph`` a hand-set pixel size (square pixels), recorded in its metadata.

    The record keeps the file's own calibration, so removing the hand-set scale restores it.
    """
    previous = micrograph.metadata.get(MANUAL_SCALE_KEY)
    if previous is None:
        in_file = _file_calibration_text(micrograph.pixel_size, micrograph.pixel_unit)
    else:
        in_file = previous.get("pixel size in file", "none")
    micrograph.pixel_size, micrograph.pixel_unit = float(pixel_size), unit
    micrograph.pixel_size_y = None
    micrograph.metadata[MANUAL_SCALE_KEY] = {
        "source": "set by hand",
        "pixel size": f"{pixel_size:.6g} {unit}",
        "pixel size in file": in_file,
    }


def remove_scale(micrograph: Micrograph) -> bool:
    """Undo `apply_scale`: back to the file's own calibration (or none). True if there was one."""
    record = micrograph.metadata.pop(MANUAL_SCALE_KEY, None)
    if record is None:
        return False
    size, _, unit = str(record.get("pixel size in file", "none")).partition(" ")
    try:
        micrograph.pixel_size, micrograph.pixel_unit = float(size), unit
    except ValueError:  # "none": the file had no calibration
        micrograph.pixel_size = micrograph.pixel_unit = None
    return True


def apply_stored_scale(micrograph: Micrograph, store: ScaleStore | None = None) -> bool:
    """Put the hand-set scale stored for this image (if any) on it; True if there was one."""
    if micrograph.path is None:
        return False
    try:
        stored = (store or ScaleStore()).get(micrograph.path, micrograph.dataset_index)
    except OSError:
        return False
    if stored is None:
        return False
    apply_scale(micrograph, *stored)
    return True


def is_set_by_hand(micrograph: Micrograph) -> bool:
    return MANUAL_SCALE_KEY in micrograph.metadata
