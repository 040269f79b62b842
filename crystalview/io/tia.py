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

from crystalview.core.micrograph import REAL_SPACE_UNIT, RECIPROCAL_UNIT, Modality
from crystalview.io.dataset import Calibration, PendingImage
from crystalview.io.signals import pending_from_signals

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


def _fix_reciprocal(pending: PendingImage) -> None:
    calibration = pending.facts.calibration
    if calibration.unit == REAL_SPACE_UNIT and calibration.size > _IMPLAUSIBLE_REAL_PIXEL_NM:
        # the value was 1/m, read as m and then multiplied into nm
        per_m = calibration.size / _NM_PER_M
        pending.facts.calibration = Calibration(per_m / _NM_PER_M, RECIPROCAL_UNIT)


def read_tia(path: Path) -> list[PendingImage]:
    """Images of a TIA ``.emi`` (all its detectors) or ``.ser`` (that detector only)."""
    from rsciio.tia import file_reader

    if path.suffix.lower() != ".ser":
        return pending_from_signals(file_reader(str(path), lazy=True), "emi", Modality.TEM)
    emi = emi_sibling(path)
    if emi is not None:
        signals = [
            signal
            for signal in file_reader(str(emi), lazy=True)
            if signal["metadata"]["General"].get("original_filename") == path.name
        ]
        pending = pending_from_signals(signals, "ser", Modality.TEM)
        for image in pending:
            image.facts.metadata["emi_file"] = str(emi)
        if pending:
            return pending
    pending = pending_from_signals(file_reader(str(path), lazy=True), "ser", Modality.TEM)
    for image in pending:
        _fix_reciprocal(image)
    return pending
