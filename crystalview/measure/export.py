"""The raw data of a frame as a calibrated float32 TIFF that ImageJ and Fiji open to scale."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import tifffile

from crystalview.core.micrograph import RECIPROCAL_UNIT, Micrograph


def write_imagej_tiff(
    path: Path | str,
    frame: np.ndarray,
    pixel_size: float | None,
    unit: str | None,
    pixel_size_y: float | None = None,
) -> Path:
    """Write ``frame`` as float32 ImageJ TIFF with ``pixel_size`` per pixel in ``unit``.

    ImageJ reads the scale from the X/YResolution tags (pixels per unit) and the ``unit=`` line
    of its ImageDescription. Complex data are written as their modulus.
    """
    data = np.asarray(frame)
    if data.ndim != 2:
        raise ValueError(f"expected one 2-D frame, got shape {data.shape}")
    if np.iscomplexobj(data):
        data = np.abs(data)
    data = data.astype(np.float32)
    path = Path(path)
    kwargs: dict = {"imagej": True, "metadata": {"axes": "YX"}}
    if pixel_size is not None and unit is not None:
        size_y = pixel_size_y or pixel_size
        kwargs["resolution"] = (1.0 / pixel_size, 1.0 / size_y)
        kwargs["metadata"]["unit"] = "1/nm" if unit == RECIPROCAL_UNIT else unit
    tifffile.imwrite(path, data, **kwargs)
    return path


def export_frame(micrograph: Micrograph, path: Path | str, frame_index: int = 0) -> Path:
    """`write_imagej_tiff` of one frame of ``micrograph`` with its calibration."""
    return write_imagej_tiff(
        path,
        micrograph.frame(frame_index),
        micrograph.pixel_size,
        micrograph.pixel_unit,
        micrograph.pixel_size_y,
    )
