"""EMD files (HDF5): Thermo Fisher Velox and Berkeley/NCEM EMD, read by rosettasciio.emd.

Velox files often hold several images (HAADF, DF, BF detectors, an FFT); all are returned and the
real-space ones come first. Spectrum images and spectra are skipped.
"""

from __future__ import annotations

from pathlib import Path

from crystalview.core.micrograph import Micrograph, Modality
from crystalview.io.signals import micrographs_from_signals


def read_emd(path: Path, budget: int | None) -> list[Micrograph]:
    """All image datasets of an EMD file."""
    from rsciio.emd import file_reader

    signals = file_reader(str(path), lazy=True)
    return micrographs_from_signals(path, signals, "emd", Modality.TEM, budget)
