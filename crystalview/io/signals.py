"""Turn rosettasciio signal dicts into `Micrograph` objects (shared by DM, EMD, TIA, TIFF).

rosettasciio returns, per dataset, ``data`` (lazy when asked), ``axes`` (name, scale, units,
navigate), ``metadata``, ``original_metadata`` and a ``mapping`` that HyperSpy would apply. We read
lazily, check the claimed size against the memory budget, and only then materialise the pixels.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from crystalview.core.micrograph import Instrument, Micrograph, Modality
from crystalview.core.units import to_canonical
from crystalview.io.metadata import apply_mapping, flatten, json_safe
from crystalview.io.modality import decide_modality
from crystalview.io.safety import check_budget

_NO_UNIT = {"", "<undefined>", "px", "pixel", "pixels", "none"}


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


def canonical_axis(scale: Any, units: Any) -> tuple[float, str] | None:
    """Canonical ``(size, unit)`` of one axis, ``None`` when the axis has no physical unit."""
    if units is None or str(units).strip().lower() in _NO_UNIT:
        return None
    return to_canonical(scale, str(units))


def calibration_from_axes(axes: Sequence[dict[str, Any]]) -> Calibration:
    """Calibration of the two signal axes (x is the last one)."""
    signal_axes = [axis for axis in axes if not axis.get("navigate", False)][-2:]
    if len(signal_axes) != 2:
        return Calibration()
    y_axis, x_axis = signal_axes
    x = canonical_axis(x_axis.get("scale"), x_axis.get("units"))
    y = canonical_axis(y_axis.get("scale"), y_axis.get("units"))
    if x is None:
        return Calibration()
    size_y = y[0] if y is not None and y[1] == x[1] and not np.isclose(y[0], x[0]) else None
    return Calibration(x[0], x[1], size_y)


def _number(value: Any) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if np.isfinite(number) and number > 0 else None


def instrument_from_mapped(mapped: dict[str, Any]) -> Instrument:
    """Instrument facts from the HyperSpy-style paths a rosettasciio mapping produces."""

    def find(*suffixes: str) -> Any:
        for suffix in suffixes:
            for key, value in mapped.items():
                if key.endswith(suffix) and value not in (None, ""):
                    return value
        return None

    microscope = find(".microscope")
    detector = find(".Detector.detector_type", ".Detector.Camera.Name", ".Detector.name")
    return Instrument(
        microscope=str(microscope).strip() if microscope is not None else None,
        beam_energy_kv=_number(find(".beam_energy")),
        magnification=_number(find(".magnification")),
        detector=str(detector).strip() if detector is not None else None,
        camera_length_mm=_number(find(".camera_length")),
    )


# Raw keys (suffixes of dotted paths) for facts that rosettasciio's mappings miss or mis-spell:
# DM's microscope name, TIA's "High tension_kV", Velox's detector. Values: (suffix, factor).
_RAW_MICROSCOPE = ("Session Info.Microscope", "Microscope Info.Name", "Instrument.InstrumentModel")
_RAW_BEAM_ENERGY_KV = (("High tension_kV", 1.0), ("Microscope Info.Voltage", 1e-3))
_RAW_DETECTOR = ("BinaryResult.Detector",)


def fill_from_raw_keys(instrument: Instrument, pairs: Iterable[tuple[str, Any]]) -> None:
    """Fill the instrument facts still missing from well-known raw metadata keys."""
    raw = {key: value for key, value in pairs if isinstance(value, str | int | float)}

    def lookup(suffix: str) -> Any:
        return next((v for k, v in raw.items() if k.endswith(suffix) and v not in ("", [])), None)

    if instrument.microscope is None:
        name = next((lookup(s) for s in _RAW_MICROSCOPE if lookup(s) is not None), None)
        instrument.microscope = str(name).strip() if name is not None else None
    if instrument.beam_energy_kv is None:
        for suffix, factor in _RAW_BEAM_ENERGY_KV:
            value = _number(lookup(suffix))
            if value is not None:
                instrument.beam_energy_kv = value * factor
                break
    if instrument.detector is None:
        detector = next((lookup(s) for s in _RAW_DETECTOR if lookup(s) is not None), None)
        instrument.detector = str(detector) if detector is not None else None


def family_from_mapped(mapped: dict[str, Any]) -> Modality | None:
    """SEM or TEM family from where rosettasciio puts the instrument facts."""
    if any(key.startswith("Acquisition_instrument.SEM") for key in mapped):
        return Modality.SEM
    if any(key.startswith("Acquisition_instrument.TEM") for key in mapped):
        return Modality.TEM
    return None


def is_image_signal(signal: dict[str, Any]) -> bool:
    """True for datasets with two signal axes (images, image stacks), not spectra or plots."""
    signal_axes = [axis for axis in signal["axes"] if not axis.get("navigate", False)]
    return len(signal_axes) == 2 and np.ndim(signal["data"]) in (2, 3)


def materialise(data: Any) -> np.ndarray:
    """Decode a lazy (dask) array or memmap into a numpy array."""
    if hasattr(data, "compute"):
        data = data.compute()
    return np.asarray(data)


def facts_from_signal(signal: dict[str, Any], family: Modality | None) -> ImageFacts:
    """Calibration, instrument, title and metadata of one rosettasciio dataset."""
    original = signal.get("original_metadata") or {}
    mapped = apply_mapping(original, signal.get("mapping"))
    general = (signal.get("metadata") or {}).get("General", {})
    title = str(general.get("title") or "")
    mode_pairs = [*flatten(original), *mapped.items(), ("title", title)]
    instrument = instrument_from_mapped(mapped)
    fill_from_raw_keys(instrument, flatten(original))
    return ImageFacts(
        calibration=calibration_from_axes(signal["axes"]),
        instrument=instrument,
        title=title,
        family=family_from_mapped(mapped) or family,
        mode_pairs=mode_pairs,
        metadata=json_safe({"original": original, "mapped": mapped, "general": general}),
    )


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
    modality, source = decide_modality(
        frame, facts.mode_pairs, calibration.unit, facts.family, facts.instrument.detector
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


def micrographs_from_signals(
    path: Path,
    signals: Iterable[dict[str, Any]],
    fmt: str,
    family: Modality | None,
    budget: int | None,
) -> list[Micrograph]:
    """Every image dataset of a rosettasciio result, size-checked before decoding."""
    images: list[Micrograph] = []
    for signal in signals:
        if not is_image_signal(signal):
            continue
        lazy = signal["data"]
        check_budget(path, tuple(lazy.shape), lazy.dtype, budget)
        facts = facts_from_signal(signal, family)
        images.append(build_micrograph(path, materialise(lazy), facts, fmt))
    return images


def order_primary_first(images: list[Micrograph]) -> list[Micrograph]:
    """Real-space images before FFTs/complex data, then number them (stable otherwise)."""

    def is_secondary(image: Micrograph) -> bool:
        return np.iscomplexobj(image.data) or "FFT" in image.title.upper()

    ordered = sorted(images, key=is_secondary)
    for index, image in enumerate(ordered):
        image.dataset_index = index
        image.dataset_count = len(ordered)
    return ordered
