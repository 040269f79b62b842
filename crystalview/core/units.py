"""Convert the length units vendors write into our two: nm (real space) and 1/nm (diffraction).

Vendor metadata arrives as ``m``, ``µm``, ``um``, ``micron``, ``Å``, ``pm``, ``1/m``,
``1 / nm``, ``n_m`` and more. Everything is converted once, here.
"""

from __future__ import annotations

import math
import re

from crystalview.core.micrograph import REAL_SPACE_UNIT, RECIPROCAL_UNIT

# Length of one unit in nanometres.
_NM_PER_UNIT: dict[str, float] = {
    "m": 1e9,
    "cm": 1e7,
    "mm": 1e6,
    "um": 1e3,
    "µm": 1e3,
    "μm": 1e3,  # Greek mu, as some vendors write it
    "micron": 1e3,
    "microns": 1e3,
    "micrometer": 1e3,
    "micrometre": 1e3,
    "nm": 1.0,
    "nanometer": 1.0,
    "nanometre": 1.0,
    "a": 0.1,
    "å": 0.1,
    "Å": 0.1,
    "angstrom": 0.1,
    "pm": 1e-3,
}


def _normalise(unit: str) -> str:
    text = unit.strip()
    text = text.replace("\u00c5", "Å").replace("\u212b", "Å")  # both Angstrom code points
    text = text.replace("_", "").replace(" ", "")
    text = text.replace("^-1", "-1").replace("⁻¹", "-1")
    return text


def parse_unit(unit: str | None) -> tuple[float, bool] | None:
    """Return ``(nm_per_unit, reciprocal)`` for a unit string, or ``None`` if unknown.

    ``reciprocal`` is True for inverse lengths (``1/nm``, ``nm-1``, ``1 / m``).
    """
    if unit is None:
        return None
    text = _normalise(unit)
    if not text:
        return None
    reciprocal = False
    match = re.fullmatch(r"1/(.+)", text)
    if match:
        text, reciprocal = match.group(1), True
    else:
        match = re.fullmatch(r"(.+?)-1", text)
        if match:
            text, reciprocal = match.group(1), True
    factor = _NM_PER_UNIT.get(text)
    if factor is None:
        factor = _NM_PER_UNIT.get(text.lower())
    if factor is None:
        return None
    return factor, reciprocal


def to_canonical(value: float, unit: str | None) -> tuple[float, str] | None:
    """Convert a pixel size to ``(value, "nm")`` or ``(value, "1/nm")``.

    Returns ``None`` when the unit is unknown or the value is not a positive finite number, so
    callers record the image as uncalibrated instead of inventing a scale.

    Examples
    --------
    >>> to_canonical(2.5e-9, "m")
    (2.5, 'nm')
    >>> to_canonical(0.2723, "1 / nm")
    (0.2723, '1/nm')
    """
    try:
        value = float(value)
    except (TypeError, ValueError):
        return None
    if not math.isfinite(value) or value <= 0:
        return None
    parsed = parse_unit(unit)
    if parsed is None:
        return None
    nm_per_unit, reciprocal = parsed
    if reciprocal:
        return value / nm_per_unit, RECIPROCAL_UNIT
    return value * nm_per_unit, REAL_SPACE_UNIT


def format_length(value_nm: float, reciprocal: bool = False, digits: int | None = None) -> str:
    """Human-readable length in the unit a person would use: ``"500 nm"``, ``"2.61 µm"``.

    ``digits`` rounds to that many significant digits (read-outs and metadata use 4); ``None``
    keeps the value as given, which suits scale bars whose lengths are already round.
    """

    def number(value: float) -> str:
        return f"{value:g}" if digits is None else f"{value:.{digits}g}"

    if reciprocal:
        return f"{number(value_nm)} 1/nm"
    magnitude = abs(value_nm)
    if digits is not None and magnitude > 0:
        # Round first so 999.96 nm becomes "1 µm", not "1000 nm".
        value_nm = float(f"{value_nm:.{digits}g}")
        magnitude = abs(value_nm)
    if magnitude >= 1e6:
        return f"{number(value_nm / 1e6)} mm"
    if magnitude >= 1e3:
        return f"{number(value_nm / 1e3)} µm"
    if magnitude >= 1 or magnitude == 0:
        return f"{number(value_nm)} nm"
    return f"{number(value_nm * 1e3)} pm"


def format_pixel_size(value: float | None, unit: str | None, digits: int = 4) -> str:
    """A pixel size for people: ``"2.61 µm/px"``, ``"0.02723 1/nm/px"``, ``"uncalibrated"``.

    Every place that prints a pixel size (status bar, metadata dock, CLI) uses this, so all of
    them agree on units and rounding.
    """
    if value is None or unit is None:
        return "uncalibrated"
    return f"{format_length(value, reciprocal=unit == RECIPROCAL_UNIT, digits=digits)}/px"
