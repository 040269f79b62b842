"""PNG, JPEG, BMP (and GIF) through Pillow: no calibration, modality from content only.

Pillow reports the size and mode from the header without decoding, so the memory budget is
checked first. Pillow's own decompression-bomb limit is replaced by that budget check.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from crystalview.core.errors import CorruptFileError
from crystalview.core.micrograph import Micrograph
from crystalview.io.color import luminance
from crystalview.io.metadata import json_safe
from crystalview.io.safety import check_budget
from crystalview.io.signals import ImageFacts, build_micrograph

# Bytes per pixel after decoding, per Pillow mode (worst case for the budget check).
_BYTES_PER_PIXEL = {"1": 1, "L": 1, "P": 4, "RGB": 3, "RGBA": 4, "I;16": 2, "I": 4, "F": 4}


def read_raster(path: Path, budget: int | None) -> list[Micrograph]:
    """One grey image (colour kept in ``color``) from a PNG/JPEG/BMP/GIF file."""
    from PIL import Image

    Image.MAX_IMAGE_PIXELS = None  # our budget check below replaces Pillow's bomb guard
    try:
        with Image.open(path) as image:
            width, height = image.size
            mode = image.mode
            check_budget(path, (height, width, _BYTES_PER_PIXEL.get(mode, 4)), np.uint8, budget)
            info = {key: value for key, value in image.info.items() if key not in ("icc_profile",)}
            fmt = (image.format or path.suffix.lstrip(".")).lower()
            image.load()
            if mode in ("P", "PA", "LA", "CMYK", "YCbCr", "HSV", "1"):
                image = image.convert("RGBA" if "A" in mode or mode == "P" else "RGB")
                if image.mode == "RGBA" and image.getextrema()[3] == (255, 255):
                    image = image.convert("RGB")
            array = np.asarray(image)
    except OSError as error:
        raise CorruptFileError(
            f"{path}: the image data are damaged or truncated ({error})."
        ) from error
    color = None
    if array.ndim == 3:
        color = array
        if np.all(array[..., 0] == array[..., 1]) and np.all(array[..., 1] == array[..., 2]):
            array, color = np.ascontiguousarray(array[..., 0]), None
        else:
            array = luminance(array)
    if array.dtype == np.int32 and mode == "I;16":
        array = array.astype(np.uint16)
    facts = ImageFacts(title=path.stem, metadata=json_safe({"format": fmt, "info": info}))
    return [build_micrograph(path, array, facts, "jpeg" if fmt == "mpo" else fmt, color)]
