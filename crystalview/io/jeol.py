"""JEOL Analysis Station images (``.img``, ``.map``), read by rosettasciio.jeol.

JEOL's SEM and EPMA software saves its images in its own tagged format; rosettasciio reads the
pixels, the scan size and magnification (hence the pixel size, in µm) and the accelerating
voltage. rosettasciio files the instrument under SEM up to 30 kV and under TEM above; the
modality rules (`crystalview.io.modality`) take it from there. Spectra files of the same
software (``.pts``, ``.eds``) are not images and are refused by the registry with a reason.
"""

from __future__ import annotations

import logging
from pathlib import Path

from crystalview.core.errors import CorruptFileError
from crystalview.io.dataset import PendingImage
from crystalview.io.signals import pending_from_signals


def read_jeol_image(path: Path) -> list[PendingImage]:
    """The image of a JEOL ``.img``/``.map`` file (one dataset)."""
    # rsciio warns on every import that numba is missing; the pure-Python path is fast enough
    # for images (numba only speeds up its spectrum-image decoder), so the warning is noise.
    logging.getLogger("rsciio.utils._decorator").setLevel(logging.ERROR)
    from rsciio.jeol import file_reader

    try:
        signals = file_reader(str(path))
    except (KeyError, IndexError, ValueError, TypeError) as error:
        raise CorruptFileError(
            f"{path}: the JEOL image header could not be read ({type(error).__name__}: {error})."
        ) from error
    pending = pending_from_signals(signals, "jeol", None)
    if not pending:
        raise CorruptFileError(f"{path}: not a JEOL image file (wrong signature or no image).")
    return pending
