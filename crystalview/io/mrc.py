"""MRC/CCP4 files (cryo-EM, tomography, Thermo Fisher cameras), read with mrcfile.

The header's voxel size is in Ångström. Thermo Fisher ``FEI1``/``FEI2`` extended headers add the
microscope, high tension, pixel size in metres, camera and STEM detector, and the instrument and
projection modes (STEM vs TEM, diffraction vs imaging), which we use for modality.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import numpy as np

from crystalview.core.errors import CorruptFileError
from crystalview.core.micrograph import Instrument, Modality
from crystalview.core.units import to_canonical
from crystalview.io.dataset import Calibration, ImageFacts, PendingImage
from crystalview.io.metadata import json_safe

# Above this many bytes the pixels stay memory-mapped instead of being copied into RAM.
MEMMAP_THRESHOLD = 256 * 1024**2


def _header_dict(header: np.recarray) -> dict[str, Any]:
    return {name: json_safe(header[name]) for name in header.dtype.names}


def _fei_record(mrc: Any) -> dict[str, Any] | None:
    try:
        records = mrc.indexed_extended_header
    except Exception:  # unknown or damaged extended header: the image itself is still fine
        return None
    if records is None or len(records) == 0 or not records.dtype.names:
        return None
    return {name: json_safe(records[0][name]) for name in records.dtype.names}


def _facts(mrc: Any, path: Path) -> ImageFacts:
    fei = _fei_record(mrc) or {}
    calibration = Calibration()
    pixel_m = fei.get("Pixel size X")
    canonical = to_canonical(pixel_m, "m") if isinstance(pixel_m, float) else None
    if canonical is None:
        canonical = to_canonical(float(mrc.voxel_size.x), "Å")
    if canonical is not None:
        calibration = Calibration(*canonical)
    mode_pairs: list[tuple[str, Any]] = []
    if fei.get("Instrument mode") == 2:
        mode_pairs.append(("acquisition_mode", "STEM"))
    elif fei.get("Instrument mode") == 1:
        mode_pairs.append(("acquisition_mode", "TEM"))
    if fei.get("Projection mode") == 2:
        mode_pairs.append(("projector mode", "DIFFRACTION"))
    ht = fei.get("HT")
    magnification = fei.get("Magnification")
    camera_length = fei.get("Camera length")
    detector = fei.get("STEM Detector name") or fei.get("Camera name")
    instrument = Instrument(
        microscope=fei.get("Microscope type") or None,
        beam_energy_kv=ht / 1000 if isinstance(ht, float) and ht > 0 else None,
        magnification=magnification
        if isinstance(magnification, float) and magnification > 0
        else None,
        detector=detector or None,
        camera_length_mm=camera_length * 1000
        if isinstance(camera_length, float) and camera_length > 0
        else None,
    )
    family = Modality.TEM if fei else None
    metadata = {"header": _header_dict(mrc.header), "fei_extended_header": fei}
    return ImageFacts(calibration, instrument, path.stem, family, mode_pairs, metadata)


def _load(path: Path, shape: tuple[int, int, int], dtype: np.dtype, offset: int) -> np.ndarray:
    """Pixels, memory-mapped when large; the file must hold every byte the header promises."""
    nbytes = shape[0] * shape[1] * shape[2] * dtype.itemsize
    if path.stat().st_size < offset + nbytes:
        raise CorruptFileError(
            f"{path}: the MRC file is truncated: the header promises {shape[2]} x {shape[1]} x "
            f"{shape[0]} pixels ({nbytes} bytes) that are not all in the file."
        )
    data = np.memmap(path, dtype=dtype, mode="r", offset=offset, shape=shape)
    if nbytes <= MEMMAP_THRESHOLD or not dtype.isnative:
        data = np.array(data, dtype=dtype.newbyteorder("="))
    return data[0] if shape[0] == 1 else data


def read_mrc(path: Path) -> list[PendingImage]:
    """The image or stack of an MRC file (sections become frames)."""
    import mrcfile

    try:
        with warnings.catch_warnings():
            # A short file makes mrcfile warn and give no data; `_load` reports it clearly.
            warnings.simplefilter("ignore", RuntimeWarning)
            mrc = mrcfile.mmap(str(path), mode="r", permissive=True)
    except (ValueError, OSError) as error:
        raise CorruptFileError(f"{path}: not a valid MRC file ({error}).") from error
    with mrc:
        header = mrc.header
        shape = (int(header.nz), int(header.ny), int(header.nx))
        dtype = mrcfile.utils.data_dtype_from_header(header)
        facts = _facts(mrc, path)
        offset = mrc.header.nbytes + int(header.nsymbt)
    return [
        PendingImage(
            facts=facts,
            shape=shape,
            dtype=dtype,
            load=lambda: (_load(path, shape, dtype, offset), None),
            fmt="mrc",
        )
    ]
