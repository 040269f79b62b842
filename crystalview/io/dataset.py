"""What readers hand to `crystalview.io.reader`: datasets described but not yet decoded.

Readers parse headers and metadata and return one `PendingImage` per image dataset, with the
shape and dtype the file *claims* and a ``load`` callable that decodes the pixels. The reader
front-end orders them (primary first), checks the claims against the memory budget, and decodes
only what was asked for: `open_image` decodes just the primary image of a multi-detector file.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from crystalview.core.micrograph import Instrument, Micrograph, Modality
from crystalview.io.modality import decide_modality


@dataclass
class Calibration:
    """Pixel size of x (and y when it differs) in canonical units, or all ``None``."""

    size: float | None = None
    unit: str | None = None
    size_y: float | None = None


@dataclass
class ImageFacts:
    """What a reader learned about one dataset besides its pixels."""

    calibration: Calibration = field(default_factory=Calibration)
    instrument: Instrument = field(default_factory=Instrument)
    title: str = ""
    family: Modality | None = None
    mode_pairs: list[tuple[str, Any]] = field(default_factory=list)
    metadata: dict[str, Any] = field(default_factory=dict)


Loader = Callable[[], tuple[np.ndarray, np.ndarray | None]]


@dataclass
class PendingImage:
    """One image dataset: its facts, its claimed size, and how to decode it.

    ``load`` returns ``(data, color)``: grey ``(H, W)`` or ``(frames, H, W)`` data and the
    original colour array (or ``None``). ``shape``/``dtype`` are what the file claims the stored
    pixels are, used for the memory check before ``load`` runs.
    """

    facts: ImageFacts
    shape: tuple[int, ...]
    dtype: np.dtype
    load: Loader
    fmt: str
    is_color: bool = False

    @property
    def is_secondary(self) -> bool:
        """FFTs and complex data are derived views, never the primary image."""
        return np.dtype(self.dtype).kind == "c" or "FFT" in self.facts.title.upper()

    def primary_rank(self) -> tuple[bool, bool, bool]:
        """Sort key: real-space before derived, calibrated before not, grey before colour."""
        return (self.is_secondary, self.facts.calibration.size is None, self.is_color)

    def decode(self, path: Path) -> Micrograph:
        """Decode the pixels and assemble the `Micrograph`."""
        data, color = self.load()
        return build_micrograph(path, data, self.facts, self.fmt, color)


def build_micrograph(
    path: Path,
    data: np.ndarray,
    facts: ImageFacts,
    fmt: str,
    color: np.ndarray | None = None,
) -> Micrograph:
    """Assemble a `Micrograph`, deciding the modality from metadata or, failing that, content."""
    calibration = facts.calibration
    frame = data if data.ndim == 2 else data[0]
    instrument = facts.instrument
    modality, source = decide_modality(
        frame,
        facts.mode_pairs,
        calibration.unit,
        facts.family,
        instrument.detector,
        instrument.microscope,
        instrument.beam_energy_kv,
    )
    return Micrograph(
        data=data,
        pixel_size=calibration.size,
        pixel_unit=calibration.unit,
        pixel_size_y=calibration.size_y,
        modality=modality,
        modality_source=source,
        instrument=facts.instrument,
        path=path,
        format=fmt,
        title=facts.title,
        color=color,
        metadata=facts.metadata,
    )
