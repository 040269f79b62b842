"""Turn rosettasciio signal dicts into pending images (shared by DM, EMD, TIA and TIFF).

rosettasciio returns, per dataset, ``data`` (lazy when asked), ``axes`` (name, scale, units,
navigate), ``metadata``, ``original_metadata`` and a ``mapping`` that HyperSpy would apply. We read
lazily; `crystalview.io.reader` checks the claimed size against the memory budget and only then
materialises the pixels.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

from crystalview.core.micrograph import Instrument, Modality
from crystalview.core.units import to_canonical
from crystalview.io.dataset import Calibration, ImageFacts, PendingImage
from crystalview.io.metadata import apply_mapping, flatten, json_safe

_NO_UNIT = {"", "<undefined>", "px", "pixel", "pixels", "none"}


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
_RAW_DETECTOR = ("BinaryResult.Detector", "DataBar.Device Name")
_RAW_MAGNIFICATION = ("Microscope Info.Indicated Magnification",)


def fill_from_raw_keys(instrument: Instrument, pairs: Iterable[tuple[str, Any]]) -> None:
    """Fill the instrument facts still missing from well-known raw metadata keys."""
    raw = {key: value for key, value in pairs if isinstance(value, str | int | float)}

    def lookup(suffixes: tuple[str, ...]) -> Any:
        for suffix in suffixes:
            for key, value in raw.items():
                if key.endswith(suffix) and value != "":
                    return value
        return None

    if instrument.microscope is None:
        name = lookup(_RAW_MICROSCOPE)
        instrument.microscope = str(name).strip() if name is not None else None
    if instrument.beam_energy_kv is None:
        for suffix, factor in _RAW_BEAM_ENERGY_KV:
            value = _number(lookup((suffix,)))
            if value is not None:
                instrument.beam_energy_kv = value * factor
                break
    diffraction_mode = "DIFFRACTION" in str(lookup(("Imaging Mode",))).upper()
    if instrument.magnification is None and not diffraction_mode:
        # in diffraction mode DigitalMicrograph stores the camera length in this field
        instrument.magnification = _number(lookup(_RAW_MAGNIFICATION))
    if instrument.detector is None:
        detector = lookup(_RAW_DETECTOR)
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
    metadata = signal.get("metadata") or {}
    # Some readers (JEOL) fill HyperSpy's instrument tree themselves instead of a mapping.
    given = dict(flatten({"Acquisition_instrument": metadata.get("Acquisition_instrument", {})}))
    mapped = {**given, **apply_mapping(original, signal.get("mapping"))}
    general = metadata.get("General", {})
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


def pending_from_signals(
    signals: Iterable[dict[str, Any]], fmt: str, family: Modality | None
) -> list[PendingImage]:
    """Every image dataset of a lazy rosettasciio result, not yet decoded."""
    pending = []
    for signal in signals:
        if not is_image_signal(signal):
            continue
        lazy = signal["data"]
        pending.append(
            PendingImage(
                facts=facts_from_signal(signal, family),
                shape=tuple(int(n) for n in lazy.shape),
                dtype=np.dtype(lazy.dtype),
                load=lambda lazy=lazy: (materialise(lazy), None),
                fmt=fmt,
            )
        )
    return pending
