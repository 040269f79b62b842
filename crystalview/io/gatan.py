"""Gatan DigitalMicrograph DM3/DM4 files, read by rosettasciio.digitalmicrograph.

DigitalMicrograph is TEM camera software, so images without a scanning or diffraction mode in
their tags are TEM; line plots and spectra in the same file are skipped.
"""

from __future__ import annotations

from pathlib import Path

from crystalview.core.micrograph import Modality
from crystalview.io.dataset import PendingImage
from crystalview.io.signals import pending_from_signals


def read_dm(path: Path) -> list[PendingImage]:
    """All image datasets of a DM3/DM4 file (decoded later, lazily memory-mapped)."""
    from rsciio.digitalmicrograph import file_reader

    signals = file_reader(str(path), lazy=True)
    fmt = path.suffix.lower().lstrip(".") or "dm"
    return pending_from_signals(signals, fmt, Modality.TEM)
