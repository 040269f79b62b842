"""Decide how an image was formed: from metadata first, from the pixels when metadata is silent.

Metadata rules (first that applies wins)
----------------------------------------
1. A reciprocal pixel unit (1/nm) means a diffraction pattern: ``SAED``.
2. An SEM, named by the metadata, is never a (S)TEM: the reader's family is SEM, the microscope
   name is an SEM model (Zeiss Merlin/Sigma/Gemini…, FEI/Thermo Quanta/Helios/Teneo/Apreo…,
   JEOL JSM, Hitachi SU/TM…), the signal is cathodoluminescence, or the beam energy is below
   30 kV (TEMs and STEMs run at 60-300 kV). Then a light-optical camera of the chamber (an FEI
   ``CCD`` chamber camera, a ``Nav-Cam``) gives ``optical``, anything else ``SEM`` (a CL map
   is an SEM image with a CL detector; the detector stays in the instrument facts). This is what
   a Gatan DigiScan DM4 from a Zeiss SEM's CL detector needs: DigiScan tags alone said STEM.
3. Evidence of a scan (operation mode ``SCANNING``, DigiScan tags, a scanning detector name such
   as HAADF/ADF/DF2 outside an SEM) means ``STEM``.
4. A projector/imaging mode of ``DIFFRACTION`` on an image without a real-space scale means
   ``SAED`` (e.g. a nanobeam pattern taken with STEM illumination).
5. A mode that says ``STEM`` means ``STEM``; one that says ``TEM``/``IMAGING`` means ``TEM``.
6. The reader's family: SEM vendors (FEI/Thermo SEM tags, Zeiss CZ_SEM, Hitachi) give ``SEM``;
   TEM camera software (Gatan, TIA, Olympus SIS, TVIPS, JEOL SightX) gives ``TEM``.

Content guess (`looks_like_diffraction`)
----------------------------------------
Used only when the rules above say nothing. A diffraction pattern obeys Friedel's law (point
symmetry about the direct beam) and is brightest around that beam. We downsample to at most
256 px and take ``log1p`` of the counts; the symmetry centre is where the image's
self-convolution peaks (this works behind a beam stop, unlike the brightest pixel). We then
require: at least 40 % of pixels have a mirror partner inside the frame, a Pearson correlation
above 0.65 between the image and its 180° rotation about the centre, and an annulus at 3-15 %
of the size brighter than the region beyond 35 % by more than one standard deviation.

Measured on ../shared/data (2026-11-25; all 41 image datasets, metadata ignored): 2 of the 3
diffraction patterns with visible content are recognised (dd020.dm3 and
test_diffraction_pattern.dm3; 64x64_diffraction_acquire is missed because its beam stop hides
the centre), no real-space image (0 of 36: TEM, STEM, SEM, HRTEM lattice, FFT) is mistaken for a
pattern, and the two "diffraction" files whose pixels are noise or constant (Ceta frame, JEOL
SightX dummy) are, correctly for their content, not called patterns: 40 of 41 right (98 %).
tests/io/test_modality.py re-measures this on the shared data.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

import numpy as np

from crystalview.core.micrograph import RECIPROCAL_UNIT, Modality

_MODE_KEY = re.compile(
    r"(acquisition_mode|illumination ?mode|operation ?mode|imaging ?mode|projector ?mode|"
    r"eosmode|\bmode\b|title)$",
    re.IGNORECASE,
)
_SCANNING_DETECTOR = re.compile(r"^(HAADF|ADF|BF-S|DF\d?|DF-S|ABF|SE|BSE)$", re.IGNORECASE)
_SEM_MODEL = re.compile(
    r"\bSEM\b|MERLIN|SIGMA|GEMINI|SUPRA|\bULTRA\b|AURIGA|CROSSBEAM|\bEVO\b|QUANTA|HELIOS|"
    r"\bNOVA\b|TENEO|APREO|VERIOS|SCIOS|\bINSPECT\b|PHENOM|\bJSM|\bSU-?\d|\bTM-?\d|MIRA\b|"
    r"\bVEGA\b|\bLYRA\b|SOLARIS|\bAMBER\b",
    re.IGNORECASE,
)
_CL_SIGNAL = re.compile(r"^(CL|CATHODOLUMINESCENCE)\b", re.IGNORECASE)
_SIGNAL_KEY = re.compile(r"(signal_type|signal ?name|signal)$", re.IGNORECASE)
_OPTICAL_CAMERA = re.compile(
    r"^(CCD|IR[- ]?CCD|NAV[- ]?CAM\+?|CHAMBER ?CAM(ERA)?|OPTICAL( CAMERA)?)\b", re.IGNORECASE
)
# Electron energies above which no SEM runs and below which no (S)TEM does.
SEM_MAX_BEAM_KV = 30.0
_MAX_GUESS_SIZE = 256
# Thresholds of the content guess, set on ../shared/data (see the module docstring).
_MIN_OVERLAP = 0.4
_MIN_SYMMETRY = 0.65
_MIN_CENTRAL_EXCESS = 1.0


def _mode_words(values: Iterable[tuple[str, Any]]) -> str:
    words = [str(value) for key, value in values if _MODE_KEY.search(key.split(".")[-1])]
    return " | ".join(words).upper()


def _names_an_sem(
    pairs: list[tuple[str, Any]],
    family: Modality | None,
    microscope: str | None,
    beam_energy_kv: float | None,
) -> bool:
    if family is Modality.SEM:
        return True
    if microscope and _SEM_MODEL.search(microscope):
        return True
    if beam_energy_kv is not None and 0 < beam_energy_kv < SEM_MAX_BEAM_KV:
        return True
    return any(
        _SIGNAL_KEY.search(key.split(".")[-1]) and _CL_SIGNAL.match(str(value).strip())
        for key, value in pairs
    )


def modality_from_metadata(
    flat: Iterable[tuple[str, Any]],
    pixel_unit: str | None,
    family: Modality | None = None,
    detector: str | None = None,
    microscope: str | None = None,
    beam_energy_kv: float | None = None,
) -> Modality | None:
    """Modality from metadata ``(dotted key, value)`` pairs, or ``None`` when they are silent.

    ``microscope`` and ``beam_energy_kv`` are the instrument facts the reader found; they
    decide rule 2 (an SEM is never STEM) when the file's family does not.
    """
    if pixel_unit == RECIPROCAL_UNIT:
        return Modality.SAED
    pairs = list(flat)
    if _names_an_sem(pairs, family, microscope, beam_energy_kv):
        if detector and _OPTICAL_CAMERA.match(detector.strip()):
            return Modality.OPTICAL
        return Modality.SEM
    modes = _mode_words(pairs)
    if "SCANNING" in modes or any(".DigiScan." in f".{key}" for key, _ in pairs):
        return Modality.STEM
    if family is not Modality.SEM and detector and _SCANNING_DETECTOR.match(detector.strip()):
        return Modality.STEM
    if re.search(r"DIFFRACTION|\bDIFF\b", modes) and pixel_unit is None:
        # A camera frame in diffraction mode without a real-space scale: a pattern, even with
        # STEM (nanobeam) illumination. Calibrated STEM images also report "Diffraction" as
        # the projector mode on FEI/Thermo microscopes, hence the unit condition.
        return Modality.SAED
    if re.search(r"\bSTEM\b", modes):
        return Modality.STEM
    if re.search(r"\bTEM\b|IMAGING", modes) and family is not Modality.SEM:
        return Modality.TEM
    return family


def _downsample(image: np.ndarray) -> np.ndarray:
    step = max(1, int(np.ceil(max(image.shape) / _MAX_GUESS_SIZE)))
    small = np.asarray(image[::step, ::step])
    if np.iscomplexobj(small):
        small = np.abs(small)
    small = small.astype(np.float64)
    finite = np.isfinite(small)
    if not finite.all():
        small[~finite] = np.median(small[finite]) if finite.any() else 0.0
    return small


def _symmetry_centre(logged: np.ndarray) -> tuple[int, int]:
    """``(2*cy, 2*cx)``: where the image's self-convolution peaks.

    For a pattern symmetric about ``c``, ``I(c + r) = I(c - r)``, so the convolution of the image
    with itself peaks at ``2c``. Unlike the brightest pixel, this finds the centre behind a beam
    stop or when the beam is saturated and flat.
    """
    height, width = logged.shape
    centred = logged - logged.mean()
    spectrum = np.fft.rfft2(centred, s=(2 * height, 2 * width))
    convolution = np.fft.irfft2(spectrum * spectrum, s=(2 * height, 2 * width))
    peak_y, peak_x = np.unravel_index(int(np.argmax(convolution)), convolution.shape)
    return int(peak_y), int(peak_x)


def looks_like_diffraction(image: np.ndarray) -> bool:
    """True when a 2-D image shows point symmetry about a centre with bright surroundings."""
    if image.ndim != 2 or min(image.shape) < 16:
        return False
    small = _downsample(image)
    logged = np.log1p(small - small.min())
    spread = float(logged.std())
    if spread <= 1e-12:
        return False
    height, width = logged.shape
    twice_y, twice_x = _symmetry_centre(logged)
    yy, xx = np.indices(logged.shape)
    mirror_y, mirror_x = twice_y - yy, twice_x - xx
    inside = (mirror_y >= 0) & (mirror_y < height) & (mirror_x >= 0) & (mirror_x < width)
    if inside.mean() < _MIN_OVERLAP:
        return False  # centre near an edge: an off-centre crop we cannot judge
    values, mirrored = logged[inside], logged[mirror_y[inside], mirror_x[inside]]
    if values.std() <= 1e-12:
        return False
    correlation = float(np.corrcoef(values, mirrored)[0, 1])
    radius = np.hypot(yy - twice_y / 2, xx - twice_x / 2)
    size = min(height, width)
    near = logged[(radius >= 0.03 * size) & (radius < 0.15 * size)]
    far = logged[radius > 0.35 * size]
    if near.size == 0 or far.size == 0:
        return False
    central_excess = (near.mean() - far.mean()) / spread
    return correlation > _MIN_SYMMETRY and central_excess > _MIN_CENTRAL_EXCESS


def decide_modality(
    image: np.ndarray,
    flat: Iterable[tuple[str, Any]],
    pixel_unit: str | None,
    family: Modality | None = None,
    detector: str | None = None,
    microscope: str | None = None,
    beam_energy_kv: float | None = None,
) -> tuple[Modality, str]:
    """``(modality, source)`` where source is ``"metadata"`` or ``"content"``."""
    from_metadata = modality_from_metadata(
        flat, pixel_unit, family, detector, microscope, beam_energy_kv
    )
    if from_metadata is not None:
        return from_metadata, "metadata"
    if image.ndim == 2 and looks_like_diffraction(image):
        return Modality.SAED, "content"
    return Modality.UNKNOWN, "content"
