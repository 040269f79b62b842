"""FEI/Thermo TIA files: ``.ser`` pixel data with their ``.emi`` metadata, via rosettasciio.tia.

TIA writes one ``.emi`` (microscope settings, calibration units) and one ``name_N.ser`` per
detector. The ``.ser`` alone stores its calibration in SI units without saying whether it is
metres or inverse metres, so a diffraction pattern read without its ``.emi`` would come out as
1e17 nm per pixel. We therefore always read a ``.ser`` through its ``.emi`` sibling when one is
next to it, and otherwise treat a "real-space" pixel larger than a millimetre (impossible in a
TEM) as the inverse metres it really is.
"""

from __future__ import annotations

import re
from pathlib import Path

from crystalview.core.micrograph import REAL_SPACE_UNIT, RECIPROCAL_UNIT, Micrograph, Modality
from crystalview.io.signals import micrographs_from_signals

# A real-space pixel above 1 mm is not a TEM calibration: it is 1/m read as m.
_IMPLAUSIBLE_REAL_PIXEL_NM = 1e6
_NM_PER_M = 1e9


def emi_sibling(ser_path: Path) -> Path | None:
    """``name.emi`` for ``name_1.ser``, when it exists (any case of the extension)."""
    match = re.fullmatch(r"(.+)_\d+", ser_path.stem)
    if match is None:
        return None
    for suffix in (".emi", ".EMI", ".Emi"):
        candidate = ser_path.with_name(match.group(1) + suffix)
        if candidate.is_file():
            return candidate
    return None


def _fix_reciprocal(image: Micrograph) -> None:
    if image.pixel_unit == REAL_SPACE_UNIT and image.pixel_size > _IMPLAUSIBLE_REAL_PIXEL_NM:
        # value was 1/m interpreted as m and then multiplied into nm
        per_m = image.pixel_size / _NM_PER_M
        image.pixel_size = per_m / _NM_PER_M
        image.pixel_unit = RECIPROCAL_UNIT
        image.pixel_size_y = None
        image.modality = Modality.SAED
        image.modality_source = "metadata"


def read_tia(path: Path, budget: int | None) -> list[Micrograph]:
    """Images of a TIA ``.emi`` (all its detectors) or ``.ser`` (that detector only)."""
    from rsciio.tia import file_reader

    if path.suffix.lower() == ".ser":
        emi = emi_sibling(path)
        if emi is not None:
            signals = [
                signal
                for signal in file_reader(str(emi), lazy=True)
                if signal["metadata"]["General"].get("original_filename") == path.name
            ]
            if signals:
                images = micrographs_from_signals(path, signals, "ser", Modality.TEM, budget)
                for image in images:
                    image.metadata["emi_file"] = str(emi)
                return images
        images = micrographs_from_signals(
            path, file_reader(str(path), lazy=True), "ser", Modality.TEM, budget
        )
        for image in images:
            _fix_reciprocal(image)
        return images
    return micrographs_from_signals(
        path, file_reader(str(path), lazy=True), "emi", Modality.TEM, budget
    )
