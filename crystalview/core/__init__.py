"""Numpy-only core: the data model, units, tiling, progress and cancel types.

Nothing here imports Qt or torch, so scripts, the CLI and tests can use it anywhere.
"""

from crystalview.core.errors import (
    Cancelled,
    CorruptFileError,
    CrystalViewError,
    FileTooLargeError,
    MissingCodecError,
    ModelBundleError,
    ReadTimeoutError,
    UnsupportedFormatError,
)
from crystalview.core.micrograph import Instrument, Micrograph, Modality
from crystalview.core.progress import CancelToken, Progress

__all__ = [
    "CancelToken",
    "Cancelled",
    "CorruptFileError",
    "CrystalViewError",
    "FileTooLargeError",
    "Instrument",
    "Micrograph",
    "MissingCodecError",
    "Modality",
    "ModelBundleError",
    "Progress",
    "ReadTimeoutError",
    "UnsupportedFormatError",
]
