"""Vendor facts inside TIFF files that rosettasciio's mapping leaves out, and a fallback scale.

rosettasciio.tiff already turns FEI/Thermo (tags 34680/34682), Zeiss (34118), JEOL SightX,
Olympus SIS, TVIPS, ImageJ and DigitalMicrograph-exported TIFFs into axes with units; here we add
what decides the modality family and the detector, and read the FEI, Zeiss and ImageJ scales
ourselves for files rosettasciio cannot parse (ImageJ units it does not know such as ``nm`` or
``\u00b5m``, Zeiss files without the binary header block, damaged vendor tags).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from crystalview.core.micrograph import Modality
from crystalview.core.units import to_canonical
from crystalview.io.signals import Calibration

# Tags DigitalMicrograph writes into the TIFFs it exports (units, origins, scales, tag dump).
_DM_TIFF_TAGS = range(65003, 65028)


def tiff_family(tif: Any) -> Modality | None:
    """Modality family from which vendor wrote the TIFF."""
    if tif.is_fei or tif.is_sem:  # FEI/Thermo SEM-FIB, Zeiss SEM
        fei = tif.fei_metadata or {}
        system = str(fei.get("System", {}).get("Type", "SEM")).upper()
        return Modality.TEM if "TEM" in system and "SEM" not in system else Modality.SEM
    page = tif.pages.first
    make = page.tags.get("Make")
    maker = str(make.value).upper() if make is not None else ""
    dm_export = any(code in page.tags for code in _DM_TIFF_TAGS)
    if tif.is_sis or tif.is_tvips or dm_export or "JEOL" in maker:
        return Modality.TEM
    return None


def tiff_detector(tif: Any) -> str | None:
    """Detector name from FEI/Thermo or Zeiss metadata."""
    fei = tif.fei_metadata
    if fei:
        detectors = fei.get("Detectors", {})
        name, mode = detectors.get("Name"), detectors.get("Mode")
        if name:
            return f"{name} {mode}".strip() if mode else str(name)
    sem = tif.sem_metadata
    if sem:
        for key in ("dp_detector_channel", "dp_detector_type"):
            value = sem.get(key)
            if isinstance(value, tuple | list) and len(value) > 1:
                return str(value[1])
            if value:
                return str(value)
    return None


def imagej_info_pairs(tif: Any) -> list[tuple[str, Any]]:
    """``key = value`` lines of the ImageJ "Info" property (often a full DM tag dump)."""
    info = (tif.imagej_metadata or {}).get("Info")
    if not isinstance(info, str):
        return []
    pairs = []
    for line in info.splitlines():
        key, sep, value = line.partition("=")
        if sep:
            pairs.append((key.strip(), value.strip()))
    return pairs


def imagej_calibration(tif: Any) -> Calibration:
    """Pixel size from ImageJ's ``unit=`` and the XResolution tag (pixels per unit)."""
    metadata = tif.imagej_metadata or {}
    unit = metadata.get("unit")
    page = tif.pages.first
    resolution = page.tags.get("XResolution")
    if not unit or resolution is None:
        return Calibration()
    numerator, denominator = resolution.value
    if numerator <= 0:
        return Calibration()
    canonical = to_canonical(denominator / numerator, str(unit).replace("\\u00B5", "µ"))
    return Calibration(*canonical) if canonical else Calibration()


def zeiss_calibration(tif: Any) -> Calibration:
    """Pixel size from Zeiss ``AP_IMAGE_PIXEL_SIZE``/``AP_PIXEL_SIZE`` (value and unit)."""
    sem = tif.sem_metadata or {}
    for key in ("ap_image_pixel_size", "ap_pixel_size"):
        entry = sem.get(key)
        if isinstance(entry, tuple | list) and len(entry) >= 3:
            canonical = to_canonical(entry[1], str(entry[2]))
            if canonical:
                return Calibration(*canonical)
    return Calibration()


def fei_calibration(tif: Any) -> Calibration:
    """Pixel size from the FEI/Thermo ``[Scan] PixelWidth`` entry (metres)."""
    scan = (tif.fei_metadata or {}).get("Scan", {})
    canonical = to_canonical(scan.get("PixelWidth"), "m")
    return Calibration(*canonical) if canonical else Calibration()


def fallback_calibration(tif: Any) -> Calibration:
    """Our own reading of the scale, for when rosettasciio returned none."""
    for reader in (fei_calibration, zeiss_calibration, imagej_calibration):
        calibration = reader(tif)
        if calibration.size is not None:
            return calibration
    return Calibration()


def tiff_tags(page: Any) -> dict[str, Any]:
    """Baseline and private tags of one page (large binary tags summarised)."""
    tags: dict[str, Any] = {}
    for tag in page.tags.values():
        value = tag.value
        if isinstance(value, bytes) and len(value) > 256:
            value = f"<{len(value)} bytes>"
        elif isinstance(value, np.ndarray) and value.size > 64:
            value = f"<array {value.shape}>"
        tags[tag.name] = value
    return tags
