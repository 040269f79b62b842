"""EMD files (HDF5): Thermo Fisher Velox and Berkeley/NCEM EMD, read by rosettasciio.emd.

Velox files often hold several images (HAADF, DF, BF detectors, an FFT); all are listed and the
real-space ones come first. Spectrum images and spectra are skipped.
"""

from __future__ import annotations

from pathlib import Path

from crystalview.core.micrograph import Modality
from crystalview.io.dataset import PendingImage
from crystalview.io.signals import pending_from_signals


def read_emd(path: Path) -> list[PendingImage]:
    """All image datasets of an EMD file (HDF5 datasets are read only when decoded)."""
    from rsciio.emd import file_reader

    return pending_from_signals(file_reader(str(path), lazy=True), "emd", Modality.TEM)
