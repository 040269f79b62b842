"""ASTAR / NanoMEGAS blockfiles (``.blo``): a scan of electron diffraction patterns (4D-STEM).

A blockfile holds one diffraction pattern per scan position plus a virtual bright-field image
of the scanned area. CrystalView shows both: the virtual bright-field image (real space, pixel
size = scan step in nm) and the patterns as a stack of diffraction frames, one per scan position,
in scan order. The pattern calibration rosettasciio reports is in the instrument's "cm" units,
not a reciprocal length, so the patterns carry no pixel size rather than a wrong one.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from crystalview.core.errors import CorruptFileError
from crystalview.core.micrograph import Instrument, Modality
from crystalview.io.dataset import Calibration, ImageFacts, PendingImage
from crystalview.io.metadata import json_safe
from crystalview.io.signals import materialise


def read_blockfile(path: Path) -> list[PendingImage]:
    """The virtual bright-field image and the pattern stack of an ASTAR ``.blo`` file."""
    from rsciio.blockfile import file_reader

    try:
        (signal,) = file_reader(str(path), lazy=True)
    except (ValueError, TypeError, KeyError, OSError) as error:
        raise CorruptFileError(
            f"{path}: the blockfile header could not be read ({type(error).__name__}: {error})."
        ) from error
    header = signal["original_metadata"]["blockfile_header"]
    rows, cols, side = int(header["NY"]), int(header["NX"]), int(header["DP_SZ"])
    if rows < 1 or cols < 1 or side < 2:
        raise CorruptFileError(f"{path}: the blockfile header claims a {rows} x {cols} scan.")
    metadata = json_safe(
        {"original": signal["original_metadata"], "general": signal["metadata"]["General"]}
    )
    step = float(header["SX"]) if float(header["SX"]) > 0 else None
    lazy = signal["data"]
    patterns = PendingImage(
        facts=ImageFacts(
            title=f"diffraction patterns ({rows} x {cols} scan)",
            family=Modality.SAED,
            mode_pairs=[("Signal.signal_type", "diffraction")],
            metadata=metadata,
        ),
        shape=(rows * cols, side, side),
        dtype=np.dtype(lazy.dtype),
        load=lambda: (materialise(lazy).reshape(rows * cols, side, side), None),
        fmt="blo",
    )
    offset = int(header["Data_offset_1"])
    virtual_bf = PendingImage(
        facts=ImageFacts(
            calibration=Calibration(step, "nm") if step else Calibration(),
            instrument=Instrument(detector="virtual bright field"),
            title="virtual bright field",
            family=Modality.STEM,
            mode_pairs=[("Signal.signal_type", "STEM image")],
            metadata=metadata,
        ),
        shape=(rows, cols),
        dtype=np.dtype(np.uint8),
        load=lambda: (_read_virtual_bf(path, offset, rows, cols), None),
        fmt="blo",
    )
    return [virtual_bf, patterns]


def _read_virtual_bf(path: Path, offset: int, rows: int, cols: int) -> np.ndarray:
    with path.open("rb") as handle:
        handle.seek(offset)
        raw = np.frombuffer(handle.read(rows * cols), dtype=np.uint8)
    if raw.size != rows * cols:
        raise CorruptFileError(f"{path}: the virtual bright-field image is truncated.")
    return raw.reshape(rows, cols).copy()
