"""Calibration kept next to the image in a text file: Hitachi SEM ``.txt`` sidecars.

Hitachi SEMs (TM series, SU series) save ``name.tif`` plus ``name.txt``: an INI-style
``[SemImageFile]`` section, often UTF-16 with a byte-order mark, whose ``PixelSize`` is in nm.
"""

from __future__ import annotations

import codecs
from pathlib import Path

from crystalview.core.micrograph import Instrument

_MAX_SIDECAR_BYTES = 1_000_000


def _decode(raw: bytes) -> str:
    if raw.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return raw.decode("utf-16", errors="replace")
    if raw.startswith(codecs.BOM_UTF8):
        return raw[3:].decode("utf-8", errors="replace")
    if raw[1:2] == b"\x00":  # UTF-16LE without a BOM
        return raw.decode("utf-16-le", errors="replace")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("cp932", errors="replace")  # Japanese Windows


def read_hitachi_sidecar(image_path: Path) -> dict[str, str] | None:
    """``key -> value`` of the ``[SemImageFile]`` section next to ``image_path``, or ``None``."""
    for suffix in (".txt", ".TXT"):
        sidecar = image_path.with_suffix(suffix)
        if not sidecar.is_file() or sidecar.stat().st_size > _MAX_SIDECAR_BYTES:
            continue
        text = _decode(sidecar.read_bytes())
        if "[SemImageFile]" not in text:
            continue
        values: dict[str, str] = {}
        for line in text.splitlines():
            key, sep, value = line.partition("=")
            if sep:
                values[key.strip()] = value.strip()
        return values
    return None


def _leading_number(text: str | None) -> float | None:
    if not text:
        return None
    token = text.strip().split()[0] if text.strip() else ""
    try:
        return float(token)
    except ValueError:
        return None


def hitachi_pixel_size_nm(values: dict[str, str]) -> float | None:
    """``PixelSize`` in nm (Hitachi writes it in nm without a unit)."""
    size = _leading_number(values.get("PixelSize"))
    return size if size is not None and size > 0 else None


def hitachi_instrument(values: dict[str, str]) -> Instrument:
    """Microscope, kV, magnification and detector from a Hitachi sidecar."""
    volts = _leading_number(values.get("AcceleratingVoltage"))
    return Instrument(
        microscope=values.get("InstructName") or None,
        beam_energy_kv=volts / 1000 if volts else None,
        magnification=_leading_number(values.get("Magnification")),
        detector=values.get("SignalName") or None,
    )
