"""The `Micrograph`: one image as read from a microscope file, with its calibration.

Data stay in their original dtype; display settings (contrast, colour map) never touch them.
Pixel size is a float with a unit — ``"nm"`` for real space, ``"1/nm"`` for diffraction — or
``None`` when the file carries no calibration. We never invent a 1.0.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

import numpy as np


class Modality(StrEnum):
    """How the image was formed; drives display defaults and model choice."""

    TEM = "TEM"
    STEM = "STEM"
    SEM = "SEM"
    SAED = "SAED"
    OPTICAL = "optical"
    """A light-optical camera picture (an SEM's chamber or navigation camera): no model for
    electron images applies to it, which ``unknown`` would not say."""
    UNKNOWN = "unknown"

    @property
    def is_diffraction(self) -> bool:
        return self is Modality.SAED


REAL_SPACE_UNIT = "nm"
RECIPROCAL_UNIT = "1/nm"


@dataclass
class Instrument:
    """Facts about the acquisition, each ``None`` when the file does not say."""

    microscope: str | None = None
    beam_energy_kv: float | None = None
    magnification: float | None = None
    detector: str | None = None
    camera_length_mm: float | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "microscope": self.microscope,
            "beam_energy_kv": self.beam_energy_kv,
            "magnification": self.magnification,
            "detector": self.detector,
            "camera_length_mm": self.camera_length_mm,
        }


@dataclass
class Micrograph:
    """One image (or stack of frames) with calibration and acquisition facts.

    Attributes
    ----------
    data
        ``(H, W)`` for a single image or ``(frames, H, W)`` for a stack, original dtype. Colour
        sources are stored here as grey (luminance); the original colour array is in ``color``.
    pixel_size
        Size of one pixel in ``pixel_unit`` (the x axis when x and y differ), or ``None``.
    pixel_unit
        ``"nm"``, ``"1/nm"`` or ``None`` (uncalibrated).
    modality
        `Modality` from the metadata, or guessed from content when the metadata is silent.
    modality_source
        ``"metadata"`` or ``"content"``: how the modality was decided.
    path, format
        Where the image came from and which reader read it (``"tiff"``, ``"dm3"`` …).
    title
        Name of the dataset inside a multi-image file (``"HAADF"``, ``"DF"``); file stem otherwise.
    dataset_index, dataset_count
        Position of this image inside its file and how many the file holds.
    metadata
        Raw vendor metadata as a nested dict, for the metadata browser.
    downsampled
        One pixel of ``data`` spans this many pixels of the file along each axis: above 1 for
        a mosaic larger than memory shown reduced (`crystalview.io.reduced`); pixel sizes are
        those of ``data``.
    """

    data: np.ndarray
    pixel_size: float | None = None
    pixel_unit: str | None = None
    modality: Modality = Modality.UNKNOWN
    modality_source: str = "metadata"
    instrument: Instrument = field(default_factory=Instrument)
    path: Path | None = None
    format: str = ""
    title: str = ""
    dataset_index: int = 0
    dataset_count: int = 1
    color: np.ndarray | None = None
    pixel_size_y: float | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    downsampled: float = 1.0

    def __post_init__(self) -> None:
        if self.data.ndim not in (2, 3):
            raise ValueError(f"Micrograph data must be 2-D or 3-D, got shape {self.data.shape}")
        if (self.pixel_size is None) != (self.pixel_unit is None):
            raise ValueError("pixel_size and pixel_unit must both be set or both be None")
        if self.pixel_size is not None and not (
            np.isfinite(self.pixel_size) and self.pixel_size > 0
        ):
            raise ValueError(f"pixel size must be a positive finite number, got {self.pixel_size}")
        if self.path is not None:
            self.path = Path(self.path)
        if not self.title and self.path is not None:
            self.title = self.path.stem

    @property
    def n_frames(self) -> int:
        return 1 if self.data.ndim == 2 else int(self.data.shape[0])

    @property
    def shape(self) -> tuple[int, int]:
        """Height and width of one frame."""
        return int(self.data.shape[-2]), int(self.data.shape[-1])

    def frame(self, index: int = 0) -> np.ndarray:
        """One 2-D frame (the first by default), without copying."""
        if self.data.ndim == 2:
            if index != 0:
                raise IndexError(f"frame {index} out of range: single image")
            return self.data
        return self.data[index]

    @property
    def image(self) -> np.ndarray:
        """The frame shown by default: the first one."""
        return self.frame(0)

    @property
    def is_calibrated(self) -> bool:
        return self.pixel_size is not None

    @property
    def is_diffraction(self) -> bool:
        return self.modality is Modality.SAED or self.pixel_unit == RECIPROCAL_UNIT

    @property
    def display_name(self) -> str:
        """File name, plus the dataset title when the file holds several images."""
        name = self.path.name if self.path is not None else self.title
        if self.dataset_count > 1:
            return f"{name} [{self.title or self.dataset_index}]"
        return name

    def summary(self) -> dict[str, Any]:
        """The facts `crystalview info` prints, as plain JSON-ready values."""
        return {
            "path": str(self.path) if self.path is not None else None,
            "format": self.format,
            "title": self.title,
            "dataset_index": self.dataset_index,
            "dataset_count": self.dataset_count,
            "shape": list(self.shape),
            "dtype": str(self.data.dtype),
            "frames": self.n_frames,
            "pixel_size": self.pixel_size,
            "pixel_size_y": self.pixel_size_y,
            "pixel_unit": self.pixel_unit,
            "modality": str(self.modality),
            "modality_source": self.modality_source,
            **self.instrument.as_dict(),
        }
