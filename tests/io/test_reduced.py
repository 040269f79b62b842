"""A TIFF mosaic larger than the memory budget opens at reduced resolution, with a right scale."""

from __future__ import annotations

import numpy as np
import pytest
import tifffile

from crystalview.core.errors import FileTooLargeError
from crystalview.core.memory import set_memory_budget
from crystalview.io import open_image
from crystalview.io.reduced import REDUCED_KEY, full_shape, open_reduced, reduction_step
from crystalview.jobs.library import _default_open

BUDGET = 64 * 1024  # the 300 x 410 uint16 image (240 KiB) is 15 times more than this to show


def _mosaic():
    yy, xx = np.mgrid[:300, :410]
    return ((np.sin(xx / 7.0) + np.cos(yy / 11.0) + 2) * 10000).astype(np.uint16)


@pytest.fixture(params=["contiguous", "zlib-tiles", "lzw-strips"])
def mosaic(request, tmp_path):
    """An ImageJ TIFF calibrated at 2 nm per pixel, in three storage layouts."""
    options = {
        "contiguous": {},
        "zlib-tiles": {"compression": "zlib", "tile": (64, 64)},
        "lzw-strips": {"compression": "lzw", "rowsperstrip": 8},
    }[request.param]
    path = tmp_path / f"{request.param}.tif"
    tifffile.imwrite(
        path, _mosaic(), imagej=not options, resolution=(0.5, 0.5),
        metadata={"unit": "nm"} if not options else None, **options,
    )  # fmt: skip
    return path


def test_the_step_is_the_smallest_that_fits():
    step = reduction_step((300, 410), 2, BUDGET)
    assert BUDGET < 150 * 205 * 2 * 4  # step 2 would not fit
    assert np.ceil(300 / step) * np.ceil(410 / step) * 2 * 4 <= BUDGET
    assert reduction_step((300, 410), 2, 10**9) == 1


def test_a_mosaic_over_the_budget_opens_reduced_without_decoding_it_whole(mosaic, monkeypatch):
    with pytest.raises(FileTooLargeError):
        open_image(mosaic, memory_budget=BUDGET, timeout_s=None)

    def no_whole_decode(*args, **kwargs):
        raise AssertionError("the whole image was decoded")

    monkeypatch.setattr(tifffile.TiffPage, "asarray", no_whole_decode)
    reduced = open_reduced(mosaic, BUDGET)
    step = reduction_step((300, 410), 2, BUDGET)
    assert reduced.downsampled == step > 1
    np.testing.assert_array_equal(reduced.data, _mosaic()[::step, ::step])
    assert full_shape(reduced) == (300, 410)
    assert reduced.metadata[REDUCED_KEY]["read as"] == f"every {step}th pixel"


def test_the_reduced_pixel_size_keeps_the_scale(tmp_path):
    path = tmp_path / "calibrated.tif"
    tifffile.imwrite(path, _mosaic(), imagej=True, resolution=(0.5, 0.5), metadata={"unit": "nm"})
    assert open_image(path, timeout_s=None).pixel_size == pytest.approx(2.0)
    reduced = open_reduced(path, BUDGET)
    assert reduced.pixel_unit == "nm"
    # one reduced pixel spans `step` file pixels: the width in nm is the file's
    assert reduced.pixel_size == pytest.approx(2.0 * reduced.downsampled)
    width_nm = reduced.shape[1] * reduced.pixel_size
    assert width_nm == pytest.approx(410 * 2.0, rel=reduced.downsampled / 410)


def test_the_window_s_loader_falls_back_to_the_reduced_view(mosaic, tmp_path):
    set_memory_budget(BUDGET)
    try:
        (micrograph,) = _default_open(mosaic)
        assert micrograph.downsampled > 1
        colour = tmp_path / "colour.tif"
        tifffile.imwrite(colour, np.zeros((300, 410, 3), np.uint8), photometric="rgb")
        with pytest.raises(FileTooLargeError):  # not a single grey image: the reader's refusal
            _default_open(colour)
    finally:
        set_memory_budget(None)
