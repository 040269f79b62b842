"""Thumbnails of compressed tiled or striped TIFFs are strided segment reads, never a whole
decode, so a mosaic larger than the memory budget gets one too."""

from __future__ import annotations

import numpy as np
import pytest
import tifffile

from crystalview.io import read_thumbnail, tiff_regions
from crystalview.io.display import auto_levels, to_display


@pytest.fixture(
    params=[
        {"compression": "zlib", "tile": (32, 32)},
        {"compression": "lzw", "rowsperstrip": 7},
    ],
    ids=["zlib-tiles", "lzw-strips"],
)
def compressed(request, tmp_path):
    data = np.random.default_rng(2).integers(0, 60000, (300, 410)).astype(np.uint16)
    path = tmp_path / "mosaic.tif"
    tifffile.imwrite(path, data, **request.param)
    return path, data


@pytest.mark.parametrize("max_size", [64, 8])
def test_a_compressed_mosaic_over_the_budget_gets_a_strided_thumbnail(
    compressed, max_size, monkeypatch
):
    path, data = compressed
    decoded = []
    original = tiff_regions.SegmentedImage._decode_band

    def counting(self, handle, page, band, tiles, needed=None):
        decoded.append(len(needed) if needed is not None else tiles[1] - tiles[0] + 1)
        return original(self, handle, page, band, tiles, needed)

    def no_whole_decode(*args, **kwargs):
        raise AssertionError("the whole image was decoded")

    monkeypatch.setattr(tiff_regions.SegmentedImage, "_decode_band", counting)
    monkeypatch.setattr(tifffile.TiffPage, "asarray", no_whole_decode)
    thumbnail = read_thumbnail(path, max_size, memory_budget=64 * 1024, timeout_s=None)
    step = -(-410 // max_size)
    sample = data[::step, ::step]
    np.testing.assert_allclose(thumbnail, to_display(sample, auto_levels(sample, False)))
    if max_size == 8:  # a stride longer than a tile skips the tiles between sampled pixels
        assert sum(decoded) < -(-300 // 32) * -(-410 // 32) or len(decoded) < -(-300 // 7)
