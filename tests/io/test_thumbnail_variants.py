"""Every TIFF variant the reader supports also goes through the thumbnail path.

The thumbnail path decodes TIFFs itself (reduced levels, memory maps); it must agree with the
reader on what the image is: same aspect, same grey values after the same contrast, never a
leftover colour axis (a palette image once came out as a 256 x 1 strip).
"""

from __future__ import annotations

import numpy as np
import pytest

from crystalview.io import open_image, read_thumbnail
from crystalview.io.display import auto_levels, to_display


def _ramp(shape=(40, 60)) -> np.ndarray:
    rows, cols = np.indices(shape)
    return ((rows * 3 + cols * 2) % 256).astype(np.uint8)


def _palette(grey: bool) -> np.ndarray:
    colormap = np.zeros((3, 256), dtype=np.uint16)
    levels = np.arange(256, dtype=np.uint16) * 257
    colormap[:] = levels
    if not grey:
        colormap[1] = levels[::-1]  # a false-colour palette
    return colormap


VARIANTS = {
    "grey uint8": (_ramp(), {}),
    "grey uint16": (_ramp().astype(np.uint16) * 200, {}),
    "float32": (_ramp().astype(np.float32) / 7, {}),
    "big-endian": (_ramp().astype(np.uint16), {"byteorder": ">"}),
    "compressed": (_ramp(), {"compression": "zlib"}),
    "tiled": (_ramp((64, 96)), {"tile": (32, 32)}),
    "grey palette (Zeiss SEM)": (_ramp(), {"photometric": "palette", "colormap": _palette(True)}),
    "colour palette": (_ramp(), {"photometric": "palette", "colormap": _palette(False)}),
    "RGB": (np.stack([_ramp(), _ramp()[::-1], 255 - _ramp()], -1), {"photometric": "rgb"}),
    "RGBA": (
        np.concatenate([np.stack([_ramp()] * 3, -1), np.full((40, 60, 1), 255, np.uint8)], -1),
        {"photometric": "rgb", "extrasamples": ["unassalpha"]},
    ),
    "RGB planar": (
        np.stack([_ramp(), _ramp()[::-1], _ramp()]),
        {"photometric": "rgb", "planarconfig": "separate"},
    ),
    "stack": (np.stack([_ramp(), _ramp()[::-1], _ramp()]), {"photometric": "minisblack"}),
}


@pytest.mark.parametrize("variant", list(VARIANTS))
@pytest.mark.parametrize("max_size", [256, 16])
def test_thumbnail_matches_the_reader(write_tiff, variant, max_size):
    data, options = VARIANTS[variant]
    path = write_tiff("variant.tif", data, **options)
    image = open_image(path).image
    thumb = read_thumbnail(path, max_size=max_size)

    assert thumb.ndim == 2 and thumb.dtype == np.float32
    step = max(1, int(np.ceil(max(image.shape) / max_size)))
    expected_small = np.asarray(image[::step, ::step])
    assert thumb.shape == expected_small.shape
    expected = to_display(expected_small, auto_levels(expected_small, False), log=False)
    np.testing.assert_allclose(thumb, expected, atol=1e-6)


def test_zeiss_sample_thumbnail_is_the_whole_image():
    from pathlib import Path

    sample = Path(__file__).parents[2] / "resources" / "samples" / "sem_Zeiss-Merlin_1k.tif"
    thumb = read_thumbnail(sample, max_size=256)
    assert thumb.shape == (192, 256)
    assert thumb.std() > 0.05  # a real picture, not a black square
