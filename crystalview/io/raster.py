"""PNG, JPEG, BMP (and GIF) through Pillow: no calibration, modality from content only.

Pillow reports the size and mode from the header without decoding, so the memory budget is
checked before the pixels are decoded; it replaces Pillow's own decompression-bomb limit.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from crystalview.core.errors import CorruptFileError
from crystalview.io.color import luminance
from crystalview.io.dataset import ImageFacts, PendingImage
from crystalview.io.metadata import json_safe

# Bytes per pixel after decoding, per Pillow mode (worst case for the budget check).
_BYTES_PER_PIXEL = {"1": 1, "L": 1, "P": 4, "RGB": 3, "RGBA": 4, "I;16": 2, "I": 4, "F": 4}


def _decode(path: Path) -> tuple[np.ndarray, np.ndarray | None]:
    """Grey pixels and the original colour (``None`` when the image is grey)."""
    from PIL import Image

    try:
        with Image.open(path) as image:
            mode = image.mode
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
    if array.ndim == 3:
        if np.all(array[..., 0] == array[..., 1]) and np.all(array[..., 1] == array[..., 2]):
            return np.ascontiguousarray(array[..., 0]), None
        return luminance(array), array
    if array.dtype == np.int32 and mode == "I;16":
        array = array.astype(np.uint16)
    return array, None


def read_raster(path: Path) -> list[PendingImage]:
    """One image (grey shown, colour kept) from a PNG/JPEG/BMP/GIF file."""
    from PIL import Image

    Image.MAX_IMAGE_PIXELS = None  # the reader's budget check replaces Pillow's bomb guard
    try:
        with Image.open(path) as image:
            width, height = image.size
            mode = image.mode
            info = {key: value for key, value in image.info.items() if key != "icc_profile"}
            fmt = (image.format or path.suffix.lstrip(".")).lower()
    except OSError as error:
        raise CorruptFileError(f"{path}: the image header is damaged ({error}).") from error
    facts = ImageFacts(title=path.stem, metadata=json_safe({"format": fmt, "info": info}))
    return [
        PendingImage(
            facts=facts,
            shape=(height, width, _BYTES_PER_PIXEL.get(mode, 4)),
            dtype=np.dtype(np.uint8),
            load=lambda: _decode(path),
            fmt="jpeg" if fmt == "mpo" else fmt,
            is_color=mode not in ("L", "I;16", "I", "F", "1"),
        )
    ]
